"""The :class:`~shoprec.models.sasrec.SASRec` network behind the shared Recommender contract:
``fit`` trains it (early stopping on ``TrainData.valid_targets`` when given), ``score`` ranks the
catalog, ``save``/``load`` use safetensors + ``manifest.json``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from shoprec.compute import resolve
from shoprec.data.interactions import TrainData
from shoprec.models.batching import next_item_batches, pad_left
from shoprec.models.sasrec import SASRec, SASRecConfig, gap_buckets
from shoprec.models.scoring import TEXT_K, add_text_lift, text_neighbours
from shoprec.models.train_loop import TrainHistory, train
from shoprec.models.validation import validation_ndcg10

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


class PrivacySpent(Protocol):
    """What a private training run reports (saved in the manifest)."""

    def to_dict(self) -> dict: ...


@dataclass(frozen=True)
class TrainRun:
    """One training of the network in place: what a training procedure is handed."""

    model: SASRec
    histories: list[np.ndarray]
    gaps: list[np.ndarray] | None
    cfg: SASRecConfig
    rng: np.random.Generator
    validate: Callable[[], float] | None
    max_seconds: float | None
    progress: bool


class PrivateTraining(Protocol):
    """A differentially private way to train the network in place, handed in by the caller
    (:class:`shoprec.training.dp.DPConfig`: the models do not import training)."""

    def train(self, run: TrainRun) -> tuple[TrainHistory, PrivacySpent]: ...


class SASRecRecommender:
    """Train and score a SASRec model.

    Parameters
    ----------
    config : model and optimisation settings.
    max_seconds : wall-clock budget for training (None = no limit).
    progress : show a progress bar while training.
    dp : train with differential privacy through it (DP-SGD: a
        :class:`shoprec.training.dp.DPConfig`); the epsilon spent is in ``privacy_`` and the
        saved manifest.
    on_validation : called with each validation score during ``fit`` (see ``history_``).
    """

    name = "sasrec"
    history_: TrainHistory  # set by fit
    manifest_: dict[str, Any]  # set by load

    def __init__(
        self,
        config: SASRecConfig | None = None,
        max_seconds: float | None = None,
        progress: bool = True,
        dp: PrivateTraining | None = None,
        on_validation: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config or SASRecConfig()
        #: called with every validation score as training goes (a tuner's pruning hook; an
        #: exception it raises ends the fit)
        self.on_validation = on_validation
        self.max_seconds = max_seconds
        self.progress = progress
        self.dp = dp
        self.privacy_: PrivacySpent | None = None
        #: post-hoc logit adjustment (Menon et al., 2021): scores - tau * log prior(item),
        #: tau chosen on validation (see training.sasrec_job.calibrate); 0 = off
        self.logit_adjustment_ = 0.0
        self.log_prior_: np.ndarray | None = None
        #: text lift: scores + beta * cos(latest item's text, item's text) over the latest
        #: item's TEXT_K nearest texts; beta chosen on validation like tau; 0 = off
        self.text_lift_ = 0.0
        self.text_nbrs_: tuple[np.ndarray, np.ndarray] | None = None

    # -- training -----------------------------------------------------------------------
    def fit(self, data: TrainData) -> Self:
        cfg = self.config
        threads = torch.get_num_threads()
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        try:
            return self._fit(data)
        finally:
            # _fit flushes denormals to zero: a CPU flag of this thread; leaving it set breaks
            # whatever runs next here (hypothesis refuses to generate floats under it)
            torch.set_flush_denormal(False)
            torch.set_num_threads(threads)

    def _fit(self, data: TrainData) -> Self:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        # tiny softmax gradients become denormal floats, which are ~50x slower on CPU
        torch.set_flush_denormal(True)
        rng = np.random.default_rng(cfg.seed)
        text = None
        if cfg.use_text:
            if data.item_text_vectors is None:
                raise ValueError("SASRec with use_text needs TrainData.item_text_vectors")
            text = torch.from_numpy(np.ascontiguousarray(data.item_text_vectors, np.float32))
        self.model_ = SASRec(cfg, data.n_items, text)
        counts = np.bincount(
            np.concatenate([np.asarray(h, np.int64) for h in data.histories] or [np.zeros(0, int)]),
            minlength=data.n_items + 1,
        )
        self.model_.set_item_counts(counts)
        if self.dp is None:  # DP-SGD (Opacus) stays on the CPU
            self.model_.to(resolve().device)
        opt = torch.optim.AdamW(self.model_.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        n_batches = -(-sum(len(h) >= 2 for h in data.histories) // cfg.batch_size)

        gaps = None
        if cfg.time_gaps and data.timestamps is not None:
            gaps = [gap_buckets(t) for t in data.timestamps]

        def batches(epoch: int):
            return next_item_batches(data.histories, cfg.max_len, cfg.batch_size, rng, gaps)

        validate = None
        if data.valid_targets is not None:
            targets = data.valid_targets

            def validate() -> float:
                self._cache_items()
                score = validation_ndcg10(self, data.histories, targets, data.timestamps)
                if self.on_validation is not None:
                    self.on_validation(score)
                return score

        if self.dp is not None:
            run = TrainRun(
                self.model_,
                data.histories,
                gaps,
                cfg,
                rng,
                validate,
                self.max_seconds,
                self.progress,
            )
            self.history_, self.privacy_ = self.dp.train(run)
            self._cache_items()
            return self
        self.history_ = train(
            self.model_,
            opt,
            batches,
            n_batches,
            self.model_.loss,
            cfg.epochs,
            validate=validate,
            eval_every=cfg.eval_every,
            patience=cfg.patience,
            max_seconds=self.max_seconds,
            progress=self.progress,
            desc="sasrec",
        )
        self.model_.cpu()  # serving and scoring run on the CPU
        self._cache_items()
        return self

    def _cache_items(self) -> None:
        self.model_.eval()
        with torch.inference_mode():
            self.items_ = self.model_.item_matrix().cpu().numpy().copy()  # (I + 1, C)

    # -- scoring ------------------------------------------------------------------------
    @property
    def uses_time(self) -> bool:
        """Whether ``score`` reads the histories' timestamps."""
        return self.config.time_gaps

    def user_vectors(
        self, histories: list[np.ndarray], timestamps: list[np.ndarray] | None = None
    ) -> np.ndarray:
        """``(B, C)`` float32 user representations from the last ``max_len`` items."""
        T = max(1, min(self.config.max_len, max((len(h) for h in histories), default=1)))
        seq = torch.from_numpy(pad_left(histories, T))
        gaps = None
        if self.config.time_gaps and timestamps is not None:
            gaps = torch.from_numpy(pad_left([gap_buckets(t) for t in timestamps], T))
        dev = self.model_.id_gate.device  # a GPU while validating a model in training
        if gaps is not None:
            gaps = gaps.to(dev)
        with torch.inference_mode():
            h = self.model_.encode(seq.to(dev), torch.from_numpy(self.items_).to(dev), gaps)
            return h[:, -1, :].cpu().numpy()

    def score(
        self,
        users: np.ndarray,
        histories: list[np.ndarray],
        timestamps: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        out = []
        for s in range(0, len(histories), 4096):
            ts = None if timestamps is None else timestamps[s : s + 4096]
            u = self.user_vectors(histories[s : s + 4096], ts)
            out.append((u @ self.items_.T) / self.config.temperature)
        scores = np.concatenate(out).astype(np.float32, copy=False)
        if self.logit_adjustment_ and self.log_prior_ is not None:
            scores -= np.float32(self.logit_adjustment_) * self.log_prior_
        if self.text_lift_:
            latest = [int(h[-1]) if len(h) else 0 for h in histories]
            add_text_lift(scores, np.asarray(latest), *self.text_table(), self.text_lift_)
        scores[:, 0] = -np.inf
        return scores

    def set_text_lift(self, beta: float) -> None:
        """Add ``beta * cos`` to the scores of the latest item's nearest texts (``beta > 0``
        lifts items that read like the one just seen: what a rarely seen item has going for it).
        Needs a model with text vectors."""
        if beta and getattr(self.model_, "text_vectors", None) is None:
            raise ValueError("the text lift needs a model trained with text vectors")
        self.text_lift_ = float(beta)

    def text_table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(I + 1, TEXT_K)`` text-neighbour ids and cosines of every item, built on first use
        (offline scoring only: the served encoder reads the bundle's own table)."""
        if self.text_nbrs_ is None:
            v = self.model_.text_vectors.numpy().astype(np.float32)
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            self.text_nbrs_ = text_neighbours(v, np.arange(len(v)), TEXT_K)
        return self.text_nbrs_

    def set_logit_adjustment(self, tau: float, counts: np.ndarray) -> None:
        """Subtract ``tau * log p(item)`` from every score, ``p`` from training ``counts``
        ``(n_items + 1,)`` (add-one smoothed): ``tau > 0`` lifts rarely seen items."""
        counts = np.asarray(counts, np.float64)
        prior = np.log((counts + 1.0) / (counts.sum() + len(counts))).astype(np.float32)
        prior[0] = 0.0
        self.logit_adjustment_, self.log_prior_ = float(tau), prior

    def score_bias(self) -> np.ndarray | None:
        """``(n_items + 1,)`` the additive score term of the logit adjustment, or None."""
        if not self.logit_adjustment_ or self.log_prior_ is None:
            return None
        return (-self.logit_adjustment_ * self.log_prior_).astype(np.float32)

    # -- artifacts ----------------------------------------------------------------------
    def save(self, path: Path, extra: dict | None = None) -> None:
        """Write ``model.safetensors`` and ``manifest.json`` (config, format, history)."""
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in self.model_.state_dict().items()}
        save_file(state, str(path / "model.safetensors"))
        if self.log_prior_ is not None:
            np.save(path / "log_prior.npy", self.log_prior_, allow_pickle=False)
        manifest = {
            "model": self.name,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "n_items": self.model_.n_items,
            "logit_adjustment": self.logit_adjustment_,
            "text_lift": self.text_lift_,
            "history": self.history_.to_dict() if hasattr(self, "history_") else None,
            "privacy": self.privacy_.to_dict() if self.privacy_ else None,
            **(extra or {}),
        }
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2))

    @classmethod
    def load(cls, path: Path) -> SASRecRecommender:
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported format {manifest.get('format_version')}")
        cfg = SASRecConfig(**manifest["config"])
        state = load_file(str(path / "model.safetensors"))
        rec = cls(cfg, progress=False)
        rec.model_ = SASRec(cfg, manifest["n_items"], state.get("text_vectors"))
        rec.model_.load_state_dict(state)
        rec.manifest_ = manifest
        prior = path / "log_prior.npy"
        if manifest.get("logit_adjustment") and prior.is_file():
            rec.logit_adjustment_ = float(manifest["logit_adjustment"])
            rec.log_prior_ = np.load(prior, allow_pickle=False)
        if manifest.get("text_lift"):
            rec.set_text_lift(float(manifest["text_lift"]))
        rec._cache_items()
        return rec
