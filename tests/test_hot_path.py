"""The request hot path's shortcuts against their plain definitions."""

from __future__ import annotations

import numpy as np
import pytest

from shoprec.online.trending import Trending
from shoprec.ranking.candidates import SAMPLE, _top, _top_sparse
from shoprec.ranking.catalog import LabelIndex
from shoprec.ranking.pipeline import make_fill_order
from shoprec.ranking.rerank import mmr


def _reference_top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.sort(scores)[::-1][:k]


@pytest.mark.parametrize("n,k", [(12_101, 1000), (12_101, 100), (50_000, 20), (500, 100), (7, 10)])
def test_top_is_exact(n: int, k: int) -> None:
    rng = np.random.default_rng(n + k)
    scores = rng.standard_normal(n).astype(np.float32)
    got = _top(scores, k)
    assert len(got) == min(n, k) and len(set(got.tolist())) == len(got)
    np.testing.assert_array_equal(scores[got], _reference_top(scores, k))


def test_top_falls_back_when_the_sample_misleads() -> None:
    # the sample reads every (n // SAMPLE)-th entry: make exactly those the largest, so the
    # guessed threshold keeps far fewer than k entries and the full partition must run
    n = 8 * SAMPLE
    scores = np.random.default_rng(1).random(n).astype(np.float32)
    scores[:: n // SAMPLE] += 100.0
    got = _top(scores, 200)
    np.testing.assert_array_equal(scores[got], _reference_top(scores, 200))


def test_top_sparse_keeps_positive_scores_only() -> None:
    ids = np.array([3, 5, 9, 11])
    got = _top_sparse(ids, np.array([0.5, 0.0, 2.0, -1.0]), 10)
    assert got.tolist() == [9, 3]


def _affinity_loop(
    labels: list[tuple[str, ...]], items: np.ndarray, interests: dict[str, float]
) -> tuple[list[float], list[str]]:
    """The definition: summed weight of an item's labels and its first label of top weight."""
    totals, best = [], []
    for i in items.tolist():
        best_w, best_l, total = 0.0, "", 0.0
        for lab in labels[i]:
            w = interests.get(lab, 0.0)
            total += w
            if w > best_w:
                best_w, best_l = w, lab
        totals.append(total)
        best.append(best_l)
    return totals, best


def test_label_index_affinity_matches_the_loop() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"category:c{j}" for j in range(30)] + [f"price:p{j}" for j in range(5)]
    labels: list[tuple[str, ...]] = [()]
    index = LabelIndex()
    for i in range(1, 400):
        labs = tuple(rng.choice(vocab, size=int(rng.integers(0, 6)), replace=False).tolist())
        labels.append(labs)
        index.set(i, labs)
    index.set(7, ("category:c1",))  # an update narrows the row: stale ids must not remain
    labels[7] = ("category:c1",)
    interests = {lab: float(w) for lab, w in zip(vocab[::2], rng.random(18), strict=True)}
    interests["category:c2"] = interests["category:c4"] = 0.9  # a tie: the first label wins
    interests["brand:never-seen"] = 1.0
    items = rng.integers(1, 400, size=250)
    totals, best = index.affinity(items, interests)
    want_totals, want_best = _affinity_loop(labels, items, interests)
    np.testing.assert_allclose(totals, want_totals)
    assert [index.name(j) for j in best.tolist()] == want_best


def test_trending_top_is_cached_until_a_write() -> None:
    tr = Trending(10)
    tr.add(np.array([2, 5, 5, 7]), 1.0, 100.0)
    first = tr.top(3, 10)
    assert first.tolist() == [5, 2, 7]  # ties broken by the lower index
    assert tr.top(3, 10) is first
    tr.add(7, 5.0, 101.0)
    assert tr.top(3, 10).tolist() == [7, 5, 2]


def _mmr_reference(rel: np.ndarray, vecs: np.ndarray, n: int, lam: float) -> list[int]:
    span = rel.max() - rel.min()
    r = (rel - rel.min()) / span
    head = np.argsort(-r, kind="stable")[: max(4 * n, 50)]
    picks: list[int] = []
    for _ in range(min(n, len(head))):
        best, best_gain = -1, -np.inf
        for j in head.tolist():
            if j in picks:
                continue
            redundancy = max([0.0, *(float(vecs[j] @ vecs[p]) for p in picks)])
            gain = lam * r[j] - (1 - lam) * redundancy
            if gain > best_gain:
                best, best_gain = j, gain
        picks.append(best)
    return picks


def test_mmr_matches_its_definition() -> None:
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((120, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rel = rng.standard_normal(120)
    for lam in (0.5, 0.9):
        assert mmr(rel, vecs, 15, lam).tolist() == _mmr_reference(rel, vecs, 15, lam)


def test_trending_add_many_equals_one_add_per_event() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    idx = rng.integers(1, 400, size=n)
    w = rng.choice([1.0, 3.0, 5.0], size=n)
    # mostly increasing times with some out of order, spanning several rescales (30 tau each)
    ts = np.sort(rng.uniform(0, 2e8, size=n)) + rng.normal(0, 1e5, size=n)
    one, many = Trending(16), Trending(16)
    for i, wt, t in zip(idx.tolist(), w.tolist(), ts.tolist(), strict=True):
        one.add(i, wt, t)
    many.add_many(idx[:1000], w[:1000], ts[:1000])
    many.add_many(idx[1000:], w[1000:], ts[1000:])
    np.testing.assert_allclose(many.scores(400), one.scores(400), rtol=1e-9)
    np.testing.assert_allclose(many.scores(400, now=2.1e8), one.scores(400, now=2.1e8))


def test_session_slots_bring_the_last_items_neighbours_into_view() -> None:
    from shoprec.ranking.pipeline import _with_session_slots

    order = np.arange(100, 150)  # candidate positions, best first
    # nearest first: 150 and 155 are not in the list, 104 already ranks above its slot (8),
    # 140 ranks below its slot (13)
    closest = [150, 104, 155, 140]
    out = _with_session_slots(order, closest, 10, 20).tolist()
    assert len(out) == len(set(out)) == 20
    assert out[3] == 150 and out.index(104) <= 8 and out[13] == 155 and out[18] == 140
    # the first four of 10 slots fit a 20-item list: a fifth neighbour is not forced in
    assert 149 not in _with_session_slots(order, [*closest, 149], 10, 20).tolist()
    # only the ``slots`` nearest are placed
    assert 140 not in _with_session_slots(order, closest, 3, 20).tolist()
    # already high enough: the order is left alone
    assert _with_session_slots(order, [101, 102], 10, 20).tolist() == order[:20].tolist()


def test_session_slots_keep_the_rule_for_every_neighbour_on_real_orders() -> None:
    """Each placed neighbour ends at or above its slot, whatever the order (random trials):
    a later insertion never pushes an earlier-placed neighbour below its own slot."""
    from shoprec.ranking.pipeline import SESSION_EVERY, SESSION_FIRST, _with_session_slots

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(5, 60))
        order = rng.permutation(300)[:120]
        closest = rng.choice(300, size=int(rng.integers(1, 12)), replace=False).tolist()
        out = _with_session_slots(order, closest, 10, n).tolist()
        assert len(out) == len(set(out)) == min(n, len(order))
        for i, p in enumerate(closest[:10]):
            slot = SESSION_FIRST + SESSION_EVERY * i
            if slot < n:
                assert out.index(p) <= slot


def test_mmr_reads_rows_of_a_larger_table_like_the_gathered_vectors() -> None:
    rng = np.random.default_rng(4)
    table = rng.standard_normal((500, 16)).astype(np.float32)
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    rows = rng.choice(500, size=90, replace=False)
    rel = rng.standard_normal(90)
    np.testing.assert_array_equal(
        mmr(rel, table, 20, 0.8, rows=rows), mmr(rel, table[rows], 20, 0.8)
    )


def test_query_vectors_stay_out_of_the_item_cache(tmp_path) -> None:
    from shoprec.settings import Settings
    from shoprec.text.vectorizer import Vectorizer

    cache = tmp_path / "text.npz"
    vectorize = Vectorizer(Settings(text_cache=cache))
    items = vectorize(["Rose shampoo for dry hair"])  # an item text: cached on disk
    stamp = cache.stat().st_mtime_ns
    q = vectorize.queries(["red lipstick", "", "red lipstick"])
    assert cache.stat().st_mtime_ns == stamp  # no rewrite of the item cache per query
    assert not vectorize.cache.has("red lipstick")
    np.testing.assert_allclose(np.linalg.norm(q[[0, 2]], axis=1), 1.0, rtol=1e-5)
    assert not q[1].any() and np.array_equal(q[0], q[2])
    np.testing.assert_allclose(
        vectorize.queries(["Rose shampoo for dry hair"])[0], items[0], atol=1e-5
    )


def test_served_encoder_adds_the_models_text_lift(built, serving_root) -> None:
    """A sequence model with a text lift scores the same through the serving bundle (catalog
    indices, the bundle's text-neighbour table) as offline (model ids, its own table)."""
    from serving_fixtures import synthetic_settings
    from shoprec.models.sasrec_recommender import SASRecRecommender
    from shoprec.ranking.bundle import build_bundle
    from shoprec.training.sasrec_job import checkpoint_dir

    data, catalog = built.data, built.engine.catalog
    path = checkpoint_dir(synthetic_settings(serving_root), data.name, "sasrec-quick")
    sasrec = SASRecRecommender.load(path)
    sasrec.set_text_lift(1.5)
    bundle = build_bundle(catalog, sasrec, None, None, data.items.to_list())
    assert bundle.encoder is not None and bundle.encoder.text_lift is not None
    to_cat = catalog.indices(data.items.to_list())
    for u in range(0, 40, 4):
        h, t = data.sequences[u], data.timestamps[u]
        want = sasrec.score(np.zeros(1, np.int64), [h], [t])[0, 1:]
        got = bundle.encoder.scores(to_cat[h - 1], t)[to_cat]
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_head_values_are_the_largest_in_order() -> None:
    from shoprec.ranking.candidates import _head_values

    for n, k in ((12_101, 1000), (12_101, 100), (300, 1000), (50_000, 7)):
        scores = np.random.default_rng(n + k).standard_normal(n).astype(np.float32)
        np.testing.assert_array_equal(_head_values(scores, k), np.sort(scores)[-k:])


def _reference_candidates(bundle, vectors, trending, req, st):  # noqa: ANN001, ANN202
    """generate()'s features by their plain definitions: a dense co-visitation sum over the
    catalog, each candidate's anchor by a loop over the recent items, the sequence rank by a
    full sort."""
    from shoprec.ranking.candidates import COVIS_RECENT, SEQ_RANK_CAP, TEXT_RECENT, F

    n = bundle.n_rows
    hist = req.history
    seq = bundle.encoder.scores(hist, req.times)[:n]
    order = np.argsort(-seq, kind="stable")
    rank = np.full(n, SEQ_RANK_CAP)
    rank[order[: int(SEQ_RANK_CAP)]] = np.arange(min(n, int(SEQ_RANK_CAP)))
    recent = hist[::-1][:COVIS_RECENT]
    covis = np.zeros(n)
    best = np.zeros((len(recent), n))
    for r, item in enumerate(recent.tolist()):
        for j, s in zip(bundle.covis_ids[item], bundle.covis_sims[item], strict=True):
            if j > 0:
                covis[j] += s * 0.5**r
                best[r, j] += s * 0.5**r
    anchor = np.where(best.max(axis=0) > 0, recent[best.argmax(axis=0)], 0)
    last = hist[::-1][:TEXT_RECENT]
    text = vectors[:n] @ vectors[last].T
    return (
        {
            F["seq"]: seq,
            F["seq_logrank"]: np.log1p(rank),
            F["covis"]: covis,
            F["text"]: text.max(axis=1),
            F["trending"]: np.log1p(np.maximum(trending[:n], 0.0)),
        },
        anchor,
        last[text.argmax(axis=1)],
    )


def test_candidate_features_match_their_definitions(built) -> None:
    from shoprec.ranking.candidates import generate

    eng = built.engine
    bundle, cat = eng.bundle, eng.catalog
    view = cat.view()
    vectors, added_at = view.vectors, view.added_at
    trending = eng.trending.scores(bundle.n_rows)
    checked = 0
    for user in eng.states.users()[:25]:
        req = eng.request_for(eng.states.get(user))
        if not len(req.history):
            continue
        st = eng.pipeline.strategy
        c = generate(bundle, cat.label_index, vectors, added_at, trending, req, st)
        want, covis_anchor, text_anchor = _reference_candidates(bundle, vectors, trending, req, st)
        for j, col in want.items():
            np.testing.assert_allclose(c.x[:, j], col[c.ids], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(c.covis_anchor, covis_anchor[c.ids])
        np.testing.assert_array_equal(c.text_anchor, text_anchor[c.ids])
        # the pools: the sequence model's best, the latest item's neighbours, trending
        order = np.argsort(-want[0][1:], kind="stable")[: st.n_seq] + 1
        assert set(order.tolist()) <= set(c.ids.tolist())
        assert {j for j, _, _ in c.session} <= set(c.ids.tolist())
        checked += 1
    assert checked >= 10


def test_quick_preset_chooses_a_text_lift_and_serves_it(built, serving_root) -> None:
    """The demo's quick preset calibrates beta (on a subset of validation users) instead of
    serving without the lift; the served encoder adds that beta."""
    import json

    from serving_fixtures import synthetic_settings
    from shoprec.training.sasrec_job import BETAS, checkpoint_dir

    path = checkpoint_dir(synthetic_settings(serving_root), built.data.name, "sasrec-quick")
    calib = json.loads((path / "manifest.json").read_text())["calibration"]
    assert calib["quick"] and calib["tau"] == 0.0 and calib["beta"] in BETAS
    assert set(calib["valid_NDCG@10"]) == {f"tau=0.0,beta={b}" for b in BETAS}
    lift = built.engine.bundle.encoder.text_lift
    assert (lift is None) if calib["beta"] == 0 else (lift[0] == calib["beta"])


def test_category_feed_fill_follows_upserts_and_events(built) -> None:
    """The category masks and the fill order are cached: a list asking for more items than
    the category holds is the whole category, also after an upsert into it, and the fill
    order is rebuilt after an event (it follows trending)."""
    from dataclasses import replace

    from shoprec.data.records import Event, EventType, Item

    eng = built.engine
    cat = eng.catalog
    name = next(c for c in (cat.category_of(i) for i in range(1, len(cat) + 1)) if c)

    def whole() -> set[int]:
        mask = cat.in_category(name, eng.bundle.n_rows) & cat.view().in_stock[: eng.bundle.n_rows]
        return set(np.flatnonzero(mask).tolist())

    assert 0 < len(whole()) < 100
    assert {r.index for r in eng.recommend("nobody-yet", 100, category=name).items} == whole()
    item = Item("SKU-cache-test", title="A brand new item", category=[name], price=9.0)
    (idx,) = eng.upsert_items([item]).tolist()
    got = {r.index for r in eng.recommend("nobody-yet", 100, category=name).items}
    assert idx in got and got == whole()
    # an existing item moved into the category (same catalog size: the cached mask must go)
    other = next(i for i in range(1, len(cat)) if i not in whole() and cat.items[i])
    eng.upsert_items([replace(cat.items[other], category=[name])])
    got = {r.index for r in eng.recommend("nobody-yet", 100, category=name).items}
    assert other in got and got == whole()
    eng.ingest([Event("someone", item.item_id, EventType.VIEW, eng.clock + 1.0, "cache-1")])
    eng.recommend("nobody-yet", 100, category=name)
    fill = eng.recommender.fill
    assert fill is not None and fill[0] == eng.trending.version
    want = make_fill_order(eng.bundle, eng.trending.scores(eng.bundle.n_rows))
    np.testing.assert_array_equal(fill[2], want)
