"""One contract suite run against every registered model (implicit's shared test mixin, in
pytest form): a model joins by adding a :class:`ModelSpec` to ``shoprec.models.registry``.

The toy data has a known answer: items 1-5 (cluster A) and 6-10 (cluster B) are never touched by
the same user, so a user who touched four A items must get the fifth above every B item.
"""

from __future__ import annotations

import numpy as np
import pytest

from shoprec.data.interactions import TrainData
from shoprec.models.registry import MODELS, ModelSpec
from shoprec.models.scoring import recommend

N_ITEMS = 10
CLUSTERS = (np.arange(1, 6), np.arange(6, 11))
REPEATS = 4  # copies of each leave-one-out user, so every pair co-occurs often enough


def _toy_histories() -> list[np.ndarray]:
    """For each cluster, every 4-item subset (held-out item = each one in turn), ``REPEATS``
    times, in varying order; 40 users."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(REPEATS):
        for cluster in CLUSTERS:
            for held_out in cluster:
                out.append(rng.permutation(cluster[cluster != held_out]).astype(np.int64))
    return out


HISTORIES = _toy_histories()
DATA = TrainData(histories=HISTORIES, n_items=N_ITEMS)
# query users: known ids with their fitted history, then the same histories as new users (id 0)
QUERY_ROWS = [0, 1, 5, 6]
NAMES = sorted(MODELS)


def _spec(name: str) -> ModelSpec:
    return MODELS[name]


def _fitted(name: str):
    spec = _spec(name)
    return spec.build(spec.test_params).fit(DATA)


def _queries() -> tuple[np.ndarray, list[np.ndarray]]:
    known = np.asarray(QUERY_ROWS, dtype=np.int64) + 1  # internal user id = row + 1
    users = np.concatenate([known, np.zeros(len(QUERY_ROWS), dtype=np.int64)])
    histories = [HISTORIES[r] for r in QUERY_ROWS] * 2
    return users, histories


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self(name: str) -> None:
    spec = _spec(name)
    model = spec.build(spec.test_params)
    assert model.fit(DATA) is model
    assert model.name == name


@pytest.mark.parametrize("name", NAMES)
def test_score_shape_dtype_and_padding(name: str) -> None:
    users, histories = _queries()
    scores = _fitted(name).score(users, histories)
    assert scores.shape == (len(users), N_ITEMS + 1)
    assert scores.dtype == np.float32
    assert np.all(scores[:, 0] == -np.inf)
    assert not np.isnan(scores).any()
    assert np.isfinite(scores[:, 1:]).all(), "unseen or unrelated items must not be -inf"


@pytest.mark.parametrize("name", NAMES)
def test_empty_history_gets_finite_scores(name: str) -> None:
    scores = _fitted(name).score(np.zeros(1, dtype=np.int64), [np.zeros(0, dtype=np.int64)])
    assert scores.shape == (1, N_ITEMS + 1)
    assert np.isfinite(scores[:, 1:]).all()


@pytest.mark.parametrize("name", NAMES)
def test_held_out_item_of_own_cluster_ranks_above_other_cluster(name: str) -> None:
    if not _spec(name).personalised:
        pytest.skip("scores do not depend on the user")
    users, histories = _queries()
    scores = _fitted(name).score(users, histories)
    for b, h in enumerate(histories):
        own = CLUSTERS[0] if h[0] in CLUSTERS[0] else CLUSTERS[1]
        other = CLUSTERS[1] if own is CLUSTERS[0] else CLUSTERS[0]
        held_out = np.setdiff1d(own, h)
        assert len(held_out) == 1
        assert scores[b, held_out[0]] > scores[b, other].max(), (
            f"user {users[b]} with history {h.tolist()}: held-out {held_out[0]} scores "
            f"{scores[b, held_out[0]]:.4g}, best other-cluster item {scores[b, other].max():.4g}"
        )


@pytest.mark.parametrize("name", NAMES)
def test_recommend_excludes_history(name: str) -> None:
    users, histories = _queries()
    ids, scores = recommend(_fitted(name), users, histories, n=N_ITEMS - 4)
    assert ids.shape == scores.shape == (len(users), N_ITEMS - 4)
    for row, h in zip(ids, histories, strict=True):
        assert not set(row.tolist()) & set(h.tolist())
        assert 0 not in row
    assert np.all(np.diff(scores, axis=1) <= 0), "best first"
    if _spec(name).personalised:  # the one unseen own-cluster item comes first
        for row, h in zip(ids, histories, strict=True):
            own = CLUSTERS[0] if h[0] in CLUSTERS[0] else CLUSTERS[1]
            assert row[0] == np.setdiff1d(own, h)[0]


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_fixed_params(name: str) -> None:
    users, histories = _queries()
    first = _fitted(name).score(users, histories)
    second = _fitted(name).score(users, histories)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name: str, tmp_path) -> None:
    model = _fitted(name)
    if not hasattr(model, "save"):
        pytest.skip("model has no artifact format")
    model.save(tmp_path / name)
    assert (tmp_path / name / "manifest.json").is_file()
    loaded = type(model).load(tmp_path / name)
    assert loaded.config == model.config
    users, histories = _queries()
    np.testing.assert_array_equal(loaded.score(users, histories), model.score(users, histories))


@pytest.mark.parametrize("name", NAMES)
def test_similar_items_stay_in_cluster(name: str) -> None:
    model = _fitted(name)
    if not hasattr(model, "similar_items"):
        pytest.skip("model has no similar_items")
    queries = np.array([1, 7])
    ids, sims = model.similar_items(queries, n=4)
    assert ids.shape == sims.shape == (2, 4)
    for q, row in zip(queries, ids, strict=True):
        cluster = CLUSTERS[0] if q in CLUSTERS[0] else CLUSTERS[1]
        assert set(row.tolist()) == set(cluster.tolist()) - {int(q)}


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_is_an_error(name: str) -> None:
    with pytest.raises(TypeError):
        _spec(name).build({"no_such_parameter": 1})


@pytest.mark.parametrize("name", NAMES)
def test_grid_points_build(name: str) -> None:
    spec = _spec(name)
    assert spec.grid, "a grid has at least one point (may be {})"
    for point in spec.grid:
        spec.build(point)  # validates every point without fitting


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("itemknn", {"k": 0}),
        ("itemknn", {"alpha": 1.5}),
        ("itemknn", {"recency_decay": 0.0}),
        ("als", {"factors": 0}),
        ("als", {"alpha": 0.0}),
        ("bpr", {"learning_rate": 0.0}),
        ("bpr", {"iterations": 0}),
    ],
)
def test_invalid_config_is_rejected(name: str, bad: dict) -> None:
    with pytest.raises(ValueError):
        _spec(name).build(bad)
