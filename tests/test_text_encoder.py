"""The bundled text encoder loads offline, bf16 matches fp32 (cosine >= 0.9999), and the cache
never re-encodes."""

from __future__ import annotations

import numpy as np
import pytest

from shoprec.text.encoder import DIM, TextEncoder, VectorCache, item_text_matrix

TITLES = [
    "OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce",
    "Neutrogena Hydro Boost Water Gel, Hyaluronic Acid Moisturizer",
    "Maybelline Great Lash Mascara, Blackest Black",
    "Garnier Fructis Sleek and Shine Shampoo",
]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder()  # the precision SHOPREC_PRECISION (auto) picks on this machine


def test_offline_load_and_unit_vectors(encoder: TextEncoder) -> None:
    v = encoder.encode(TITLES)
    assert v.shape == (4, DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    # related products are closer than unrelated ones
    assert v[0] @ v[2] > v[0] @ v[3] - 0.2
    assert np.all(encoder.encode(["", "  "]) == 0)


def test_bf16_matches_fp32(encoder: TextEncoder) -> None:
    # the two precisions must be interchangeable: a cache filled on one machine serves another
    fp32 = TextEncoder(precision="fp32").encode(TITLES)
    bf16 = TextEncoder(precision="bf16").encode(TITLES)
    cos = np.sum(fp32 * bf16, axis=1)
    assert cos.min() >= 0.9999, cos
    # one or two texts (a request's) run in fp32 on a CPU: cheaper than autocast's casts
    assert np.array_equal(
        TextEncoder(precision="bf16", device="cpu").encode(TITLES[:2]),
        TextEncoder(precision="fp32", device="cpu").encode(TITLES[:2]),
    )


def test_cache_encodes_only_new_texts(tmp_path, encoder: TextEncoder) -> None:
    calls: list[int] = []

    class Counting(TextEncoder):
        def __init__(self) -> None:  # reuse the loaded model
            self.__dict__.update(encoder.__dict__)

        def encode(self, texts, progress=False):  # type: ignore[override]
            calls.append(len(texts))
            return super().encode(texts, progress)

        encode.__doc__ = TextEncoder.encode.__doc__

    path = tmp_path / "cache.npz"
    cache = VectorCache(path)
    first = cache.embed(TITLES[:2], Counting())
    again = VectorCache(path).embed(TITLES, Counting())  # reloaded from disk
    assert calls == [2, 2]
    np.testing.assert_allclose(first, again[:2])
    m = item_text_matrix(TITLES, path)
    assert m.shape == (5, DIM) and np.all(m[0] == 0)


class _Fake:
    """Deterministic vectors per text, without loading the model."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts, progress=False):  # noqa: ANN001, ANN201
        self.calls.append(len(texts))
        out = np.stack([np.random.default_rng(len(t)).normal(size=DIM) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_cache_misses_append_to_a_journal_then_compact(tmp_path) -> None:
    """A miss appends records (the .npz is not rewritten), a reload reads both, a torn last
    record is ignored, and past the threshold the journal is folded into the .npz."""
    path = tmp_path / "cache.npz"
    fake = _Fake()
    VectorCache(path).embed([f"title {i}" * (i + 1) for i in range(3)], fake)  # type: ignore[arg-type]
    assert path.is_file() and not path.with_suffix(".journal").exists()  # first save: whole
    stamp = path.stat().st_mtime_ns
    cache = VectorCache(path)
    new = cache.embed(["a new item", "another new item"], fake)  # type: ignore[arg-type]
    journal = path.with_suffix(".journal")
    assert path.stat().st_mtime_ns == stamp and journal.stat().st_size == 2 * (40 + DIM * 4)
    with open(journal, "ab") as f:
        f.write(b"0123456789")  # a crash mid-append
    again = VectorCache(path)
    assert len(again) == 5
    np.testing.assert_array_equal(again.embed(["a new item", "another new item"], fake), new)  # type: ignore[arg-type]
    assert fake.calls == [3, 2]
    again.COMPACT_AT = 2
    again.embed(["a third new item"], fake)  # type: ignore[arg-type]
    assert not journal.exists() and len(VectorCache(path)) == 6


def test_a_cache_of_wider_vectors_reads_its_own_journal(tmp_path) -> None:
    """The sentiment model's layer features (4 x 384 wide) share the cache: their journal
    records are as wide as their vectors (read as 384-wide they were misaligned garbage)."""
    wide = 4 * DIM

    class Wide:
        def encode(self, texts, progress=False):  # noqa: ANN001, ANN201
            return np.stack(
                [np.random.default_rng(len(t)).normal(size=wide) for t in texts]
            ).astype(np.float32)

    path = tmp_path / "layers.npz"
    VectorCache(path).embed(["one review", "two reviews"], Wide())  # type: ignore[arg-type]
    new = VectorCache(path).embed(["a third review"], Wide())  # type: ignore[arg-type]
    assert path.with_suffix(".journal").stat().st_size == 40 + wide * 4
    again = VectorCache(path)
    assert len(again) == 3
    np.testing.assert_array_equal(again.embed(["a third review"], _Fake()), new)  # type: ignore[arg-type]
