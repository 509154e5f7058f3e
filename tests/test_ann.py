"""Approximate nearest neighbours (issue 22): the faiss index finds what exact numpy finds,
takes items online, travels in the saved bundle, and below ``SHOPREC_ANN_MIN_ITEMS`` nothing
changes (the exact scans stay the reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shoprec.compute.ann import AnnIndex
from shoprec.data.records import Item
from shoprec.models.sasrec import SASRec, SASRecConfig
from shoprec.models.sasrec_infer import SASRecEncoder
from shoprec.models.scoring import text_neighbours
from shoprec.nlp.semantic import SemanticTop
from shoprec.online.tags import ItemTags
from shoprec.ranking import indexes as ann
from shoprec.ranking.bundle import ModelBundle, build_bundle, extend
from shoprec.ranking.bundle_io import FittedBundle, align, load_bundle, save_bundle
from shoprec.ranking.candidates import Request, describe, signals
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.strategy import Strategy

K = 50


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _clustered(n: int, d: int, seed: int, noise: float = 0.3) -> np.ndarray:
    """Unit vectors around random centres, as text embeddings group by product kind."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 40, d))
    return _unit(centres[rng.integers(0, len(centres), n)] + noise * rng.standard_normal((n, d)))


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def _exact_top(x: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    return np.argpartition(-(q @ x.T), k - 1, axis=1)[:, :k]


@pytest.mark.parametrize("dim", [384, 64])
def test_recall_at_50_against_exact_numpy(dim: int) -> None:
    """At 20k clustered items (text width and the sequence model's width)."""
    x = _clustered(20_000, dim, seed=dim)
    rng = np.random.default_rng(1)
    q = _unit(x[rng.integers(0, len(x), 200)] + 0.2 * rng.standard_normal((200, dim)))
    index = AnnIndex.build(x, np.arange(len(x)), "ip")
    found, scores = index.search(q, K)
    assert _recall(found, _exact_top(x, q)) >= 0.95
    # the scores are the stored rows' inner products, best first
    np.testing.assert_allclose(scores[:, 0], np.einsum("bd,bd->b", q, x[found[:, 0]]), atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_an_item_added_online_is_found_by_the_next_query() -> None:
    x = _clustered(3000, 64, seed=3)
    index = AnnIndex.build(x[1:], np.arange(1, 3000), "cosine")
    probe = _unit(np.random.default_rng(5).standard_normal((1, 64)))
    grown = index.added(probe, np.array([3000]))
    assert grown.search(probe, 5)[0][0, 0] == 3000
    assert 3000 not in index.search(probe, 5)[0]  # the older wrapper does not see it
    assert len(grown) == len(index) + 1


def _catalog(vectors: np.ndarray) -> Catalog:
    cat = Catalog()
    items = [Item(f"i{j}", title=f"item {j}") for j in range(1, len(vectors))]
    cat.upsert(items, vectors[1:], [ItemTags() for _ in items], [0.0] * len(items))
    return cat


def _shop(n: int = 1500, seed: int = 7) -> np.ndarray:
    v = np.zeros((n + 1, 384), np.float32)
    v[1:] = _clustered(n, 384, seed, noise=0.5)
    return v


def test_below_the_threshold_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default threshold (50,000) leaves a small shop on the exact tables, bit for bit."""
    monkeypatch.delenv("SHOPREC_ANN_MIN_ITEMS", raising=False)
    vec = _shop()
    bundle = build_bundle(_catalog(vec), None, None, None, [])
    assert bundle.indexes == {}
    ids, sims = text_neighbours(vec, np.arange(len(vec)))
    assert np.array_equal(bundle.text_ids, ids) and np.array_equal(bundle.text_sims, sims)


def test_threshold_0_forces_the_index_and_it_agrees_with_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Neighbour tables and semantic search through the index overlap exact at >= 0.95; an
    item upserted later gets neighbours through the index and is found by search."""
    monkeypatch.setenv("SHOPREC_ANN_MIN_ITEMS", "0")
    vec = _shop()
    cat = _catalog(vec)
    bundle = build_bundle(cat, None, None, None, [])
    assert set(bundle.indexes) == {"text"}
    exact_ids, exact_sims = text_neighbours(vec, np.arange(len(vec)))
    assert _recall(bundle.text_ids[1:], exact_ids[1:]) >= 0.95
    assert (bundle.text_ids[1:] != np.arange(1, len(vec))[:, None]).all()  # never itself
    # search: the same top 50 as the full scan
    queries = _unit(vec[1:101] + 0.2 * np.random.default_rng(2).standard_normal((100, 384)))
    table = {f"q{j}": queries[j] for j in range(len(queries))}

    def embed(texts: list[str]) -> np.ndarray:
        return np.stack([table[t] for t in texts])

    exact, indexed = SemanticTop(cat, embed), SemanticTop(cat, embed)
    indexed.index_of = lambda: bundle.indexes["text"]
    n = bundle.n_rows
    found = [indexed.top(q, K, n) for q in table]
    truth = [exact.top(q, K, n) for q in table]
    assert _recall(np.array(found), np.array(truth)) >= 0.95
    # online: a new item near query q0 is in the extended bundle's index, tables and search
    new = _unit(queries[:1] + 0.01)
    cat.upsert([Item("new", title="new")], new, [ItemTags()], [1.0])
    grown = extend(bundle, cat)
    assert grown.n_rows == n + 1 and n in grown.indexes["text"].labels
    assert grown.text_ids[n, 0] == exact_ids_of(vec, new)
    indexed.index_of = lambda: grown.indexes["text"]
    assert n in indexed.top("q0", 5, grown.n_rows)


def exact_ids_of(vec: np.ndarray, v: np.ndarray) -> int:
    s = vec @ v[0]
    s[0] = -np.inf
    return int(s.argmax())


def test_the_index_is_a_bundle_part_and_survives_save_and_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPREC_ANN_MIN_ITEMS", "0")
    vec = _shop(600)
    cat = _catalog(vec)
    built = build_bundle(cat, None, None, None, [])
    fitted = FittedBundle(cat.ids[1:], None, None, None, None)
    fitted.indexes, fitted.index_items = built.indexes, list(cat.ids)
    path = save_bundle(fitted, tmp_path)
    loaded = load_bundle(path)
    assert "ann" in loaded.manifest["parts"] and set(loaded.indexes) == {"text"}
    # served on a catalog that gained an item since: the saved index, completed online
    cat.upsert([Item("late", title="late")], vec[5:6], [ItemTags()], [1.0])
    served = align(loaded, cat)
    assert sorted(served.indexes["text"].labels[served.indexes["text"].labels > 0]) == list(
        range(1, len(cat) + 1)
    )
    assert _recall(served.text_ids[1 : len(vec)], built.text_ids[1:]) >= 0.95
    # a copy missing the index is refused like any other missing part
    import shutil

    shutil.rmtree(path / "ann")
    with pytest.raises(FileNotFoundError):
        load_bundle(path)


def _bundle_with_encoder(n: int) -> tuple[ModelBundle, SASRecEncoder]:
    """A random untrained encoder over ``n`` items with a bias and a text lift."""
    torch.manual_seed(0)
    cfg = SASRecConfig(max_len=20, dim=32, n_layers=1, n_heads=2, use_text=False, time_gaps=False)
    net = SASRec(cfg, n).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    base = SASRecEncoder(net)
    rng = np.random.default_rng(1)
    vec = np.zeros((n + 1, 384), np.float32)
    vec[1:] = _clustered(n, 384, 3)
    t_ids, t_sims = text_neighbours(vec, np.arange(n + 1))
    items = base.items.copy()
    items[1:] = _clustered(n, 32, 4) * 3  # grouped, as trained item vectors are
    bias = rng.normal(scale=0.5, size=n + 1).astype(np.float32)
    enc = base.with_items(items, bias, (0.5, t_ids, t_sims))
    zeros = np.zeros((n + 1, K), np.int64)
    bundle = ModelBundle(
        "t", enc, zeros, zeros.astype(np.float32), t_ids, t_sims, np.zeros(n + 1), None, n + 1
    )
    return bundle, enc


def test_the_feed_retrieves_the_sequence_models_head_through_the_index() -> None:
    """Threshold 0 (an index in the bundle): the head and the candidate pool match exact
    scoring at high overlap, and every candidate's sequence score is exact."""
    n = 4000
    exact_bundle, enc = _bundle_with_encoder(n)
    rows = np.arange(1, n + 1)
    indexed = ModelBundle(
        **{
            **exact_bundle.__dict__,
            "indexes": {"seq": AnnIndex.build(ann.seq_rows(enc, rows), rows)},
        }
    )
    st = Strategy()
    rng = np.random.default_rng(9)
    overlaps = []
    for _ in range(20):
        req = Request(rng.integers(1, n + 1, 8), None, {}, 0.0)
        want, got = signals(exact_bundle, req, st), signals(indexed, req, st)
        assert want.user is None and got.user is not None  # the index answered
        assert np.isneginf(got.seq).sum() > n // 2  # and no catalog-long product was made
        top_w = np.argsort(-want.seq)[: st.n_seq]
        top_g = np.argsort(-got.seq)[: st.n_seq]
        overlaps.append(len(set(top_w) & set(top_g)) / st.n_seq)
        ids = np.unique(np.r_[top_w, rng.integers(1, n + 1, 30)])
        cands = describe(
            indexed,
            None,
            np.zeros((n + 1, 384)),
            np.zeros(n + 1),
            np.zeros(n + 1),
            req,
            st,
            got,
            ids,
            [],
        )  # type: ignore[arg-type]
        np.testing.assert_allclose(cands.x[:, 0], want.seq[cands.ids], rtol=1e-4, atol=1e-4)
    assert np.mean(overlaps) >= 0.95


def test_a_changed_text_is_indexed_online_and_the_index_pickles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An upsert that changes an item's text adds its new vector (the engine's upsert path
    calls :func:`restate`); a bundle aligned in another process comes back pickled."""
    import pickle

    from shoprec.ranking.bundle import restate

    monkeypatch.setenv("SHOPREC_ANN_MIN_ITEMS", "0")
    vec = _shop(800)
    cat = _catalog(vec)
    bundle = build_bundle(cat, None, None, None, [])
    far = _unit(-vec[7:8] + 0.05)  # item 7's new text, unlike its old one
    cat.upsert([Item("i7", title="changed")], far, [ItemTags()], [0.0])
    text = restate(bundle, cat, np.array([7])).indexes["text"]
    assert text.search(far, 1)[0][0, 0] == 7
    assert len(restate(bundle, cat, np.array([3])).indexes["text"]) == len(bundle.indexes["text"])
    copy = pickle.loads(pickle.dumps(text))
    assert np.array_equal(copy.search(far, 5)[0], text.search(far, 5)[0])
