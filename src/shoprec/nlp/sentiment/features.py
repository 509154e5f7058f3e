"""Review pieces and their vectors: cutting a review into equal word pieces, the frozen MiniLM
layer encoder (mean-pooled intermediate hidden states) and a content-hash cache around any
encoder."""

from __future__ import annotations

import math
from collections.abc import Sequence
from inspect import signature
from pathlib import Path
from types import SimpleNamespace
from typing import Protocol, cast

import numpy as np

from shoprec.compute import resolve
from shoprec.nlp.sentiment.config import SentimentConfig
from shoprec.text.encoder import DIM, TextEncoder, VectorCache, model_path


class Encoder(Protocol):
    """Anything that embeds texts into ``(N, d)`` vectors (e.g. :class:`TextEncoder`)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


def chunk_text(text: str, chunk_words: int) -> list[str]:
    """Cut ``text`` into ``ceil(n / chunk_words)`` pieces of equal word count ([] when empty)."""
    words = text.split()
    if not words:
        return []
    size = math.ceil(len(words) / math.ceil(len(words) / chunk_words))
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def pooled_pieces(texts: Sequence[str], chunk_words: int, encoder: Encoder) -> np.ndarray:
    """Mean piece vector of each text, L2-normalised, ``(N, d)`` (zeros for empty texts, and
    ``(N, 0)`` when no text has a word)."""
    pieces, owner = [], []
    for i, text in enumerate(texts):
        chunks = chunk_text(text or "", chunk_words)
        pieces += chunks
        owner += [i] * len(chunks)
    if not pieces:
        return np.zeros((len(texts), 0), np.float32)
    vecs = np.asarray(encoder.encode(pieces), dtype=np.float32)
    out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
    np.add.at(out, np.asarray(owner), vecs)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)


class LayerEncoder:
    """Frozen all-MiniLM-L6-v2 (the bundled model): per text, the attention-masked mean of the
    hidden states of each of ``layers``, each L2-normalised, concatenated ``(N, 384 * k)``.
    Device and precision follow :func:`shoprec.compute.resolve` (``SHOPREC_DEVICE``,
    ``SHOPREC_PRECISION``) unless given."""

    def __init__(
        self,
        layers: Sequence[int] = (2, 3, 4, 5),
        batch_size: int = 64,
        precision: str | None = None,
        device: str | None = None,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.layers, self.batch_size = tuple(layers), batch_size
        self.compute = resolve(precision, device)
        self._tok = AutoTokenizer.from_pretrained(str(model_path()))
        self._model = AutoModel.from_pretrained(str(model_path())).eval()
        self._model.to(self.compute.device)
        # hidden state k depends on the first k layers only: drop the deeper ones (less compute)
        self._model.encoder.layer = self._model.encoder.layer[: max(max(self.layers), 1)]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Pooled layer vectors of ``texts`` (length-sorted batches)."""
        import torch
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), DIM * len(self.layers)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        starts = range(0, len(order), self.batch_size)
        with torch.inference_mode(), self.compute.autocast():
            for i in tqdm(starts, desc="encode layers", disable=not progress):
                rows = order[i : i + self.batch_size]
                batch = self._tok(
                    [texts[r] for r in rows], padding=True, truncation=True, return_tensors="pt"
                ).to(self.compute.device)
                hidden = self._model(**batch, output_hidden_states=True).hidden_states
                mask = batch["attention_mask"][..., None].float()
                pooled = [(hidden[k].float() * mask).sum(1) / mask.sum(1) for k in self.layers]
                vecs = torch.cat([torch.nn.functional.normalize(p, dim=-1) for p in pooled], 1)
                out[rows] = vecs.float().cpu().numpy()
        return out


class CachedEncoder:
    """``encoder`` with its vectors kept by content hash in a :class:`VectorCache` file."""

    def __init__(self, encoder: Encoder, path: Path | None) -> None:
        self.encoder, self.cache = encoder, VectorCache(path)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` (non-empty), encoding and persisting only those not cached."""
        inner = self.encoder
        # bars for long encodes when the encoder can draw them (TextEncoder, LayerEncoder)
        bar = {"progress": True} if "progress" in signature(inner.encode).parameters else {}
        shim = SimpleNamespace(
            encode=lambda batch, progress=False: inner.encode(list(batch), **bar)
        )
        return self.cache.embed(list(texts), cast(TextEncoder, shim))


def encoder_for(config: SentimentConfig, encoder: Encoder) -> Encoder:
    """The encoder ``config`` needs: ``encoder`` itself, or a :class:`LayerEncoder`."""
    if config.layers is None or getattr(encoder, "layers", None) == config.layers:
        return encoder
    return LayerEncoder(config.layers)
