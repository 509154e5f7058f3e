"""Product search: the FTS5 lexical index follows catalog upserts row by row (a renamed item is
found by its new name on the next query and no longer by its old one), in process and through a
real server; free text never reaches FTS5 as query syntax."""

from __future__ import annotations

import zlib

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from shoprec.data.records import Item
from shoprec.nlp.lexical import LexicalIndex, match_expression
from shoprec.nlp.semantic import SemanticTop
from shoprec.online.tags import ItemTags, tags_for_catalog
from shoprec.ranking.catalog import Catalog, add_items


def _vectorize(texts: list[str]) -> np.ndarray:
    """A fixed random unit vector per text (its CRC seeds it)."""
    rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=384) for t in texts]
    v = np.asarray(rows, np.float32).reshape(len(texts), 384)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _catalog(*items: Item) -> Catalog:
    cat = Catalog()
    add_items(cat, list(items), [0.0] * len(items), _vectorize)
    return cat


def test_lexical_index_follows_upserts_row_by_row() -> None:
    cat = _catalog(
        Item("a", "Quorvex lavender bath salts", category=("Bath",)),
        Item("b", "Lavender hand cream", brand="Softly"),
        Item("c", "Argan oil shampoo", description="for dry hair"),
    )
    index = LexicalIndex(cat)
    assert index.sync() == 3
    ids, scores = index.search("lavender", 10, len(cat) + 1)
    assert sorted(cat.ids[i] for i in ids) == ["a", "b"] and (scores > 0).all()
    assert [cat.ids[i] for i in index.search("shampoos", 10, 99)[0]] == ["c"]  # stemmed
    assert [cat.ids[i] for i in index.search("softly", 10, 99)[0]] == ["b"]  # brand
    assert [cat.ids[i] for i in index.search("quorvex", 10, 99)[0]] == ["a"]

    add_items(cat, [Item("a", "Blenthar carbon phone case")], [1.0], _vectorize)
    assert [cat.ids[i] for i in index.search("blenthar", 10, 99)[0]] == ["a"]
    assert len(index.search("quorvex", 10, 99)[0]) == 0
    assert index.sync() == 0  # the rename re-read one row, once
    add_items(cat, [Item("d", "Quorvex returns")], [2.0], _vectorize)
    assert index.sync() == 1
    # rows at or past ``below`` (not yet in the served model) are left out
    assert len(index.search("quorvex", 10, cat.get("d"))[0]) == 0


def test_semantic_top_stays_exact_under_upserts() -> None:
    cat = _catalog(*(Item(f"i{k}", f"title {k}") for k in range(300)))
    sem, rng = SemanticTop(cat, _vectorize), np.random.default_rng(0)
    queries = [f"query {k}" for k in range(4)]
    for step in range(30):
        n_rows = len(cat) + 1 - (step % 3 == 0)  # the served rows may trail the catalog
        for q in queries:
            truth = cat.view().vectors[1:n_rows] @ _vectorize([q])[0]
            want = 1 + np.argsort(-truth, kind="stable")[:10]
            assert sem.top(q, 10, n_rows).tolist() == want.tolist()
        # rename a few rows (the current best among them), now and then add one
        best = sem.top(queries[step % 4], 10, n_rows)[: 1 + step % 3]
        renamed = [Item(cat.ids[i], f"renamed {step} {i}") for i in best.tolist()]
        new = [Item(f"new{step}", f"new {step}")] if step % 4 == 0 else []
        add_items(cat, renamed + new, [float(step)] * len(renamed + new), _vectorize)
        if step == 20:  # many rows at once
            add_items(
                cat,
                [Item(f"i{k}", f"again {k}") for k in rng.integers(0, 300, 80)],
                [0.0] * 80,
                _vectorize,
            )


class _Looking(list):
    """Tags that run ``look`` each time Catalog.upsert reads one: after the upsert counted the
    generation up and before it stamps the row, as a search in another thread may."""

    def __init__(self, tags: list[ItemTags], look) -> None:  # noqa: ANN001
        super().__init__(tags)
        self.look = look

    def __getitem__(self, k):  # noqa: ANN001, ANN204
        self.look()
        return super().__getitem__(k)


def test_an_upsert_seen_half_written_is_read_at_the_next_look() -> None:
    cat = _catalog(*(Item(f"i{k}", f"Quorvex lavender bath salts {k}") for k in range(50)))
    index, sem, sem2 = LexicalIndex(cat), SemanticTop(cat, _vectorize), SemanticTop(cat, _vectorize)
    renamed = [Item("i7", "Blenthar carbon phone case")]
    query = renamed[0].text()  # its vector is the renamed row's: that row is the nearest
    n_rows = len(cat) + 1

    def look() -> None:
        index.sync()
        sem.top(query, 1, n_rows)
        sem2.top(query, 1, n_rows)

    look()
    vectors = _vectorize([query])
    tags = _Looking(tags_for_catalog(renamed, vectors, None), look)
    cat.upsert(renamed, vectors, tags, [1.0])
    assert [cat.ids[i] for i in index.search("blenthar", 10, n_rows)[0]] == ["i7"]
    assert "i7" not in [cat.ids[i] for i in index.search("quorvex", 99, n_rows)[0]]
    assert [cat.ids[i] for i in sem2.top(query, 1, n_rows)] == ["i7"]  # that upsert the latest
    add_items(cat, [Item("i9", "Argan oil shampoo")], [2.0], _vectorize)
    assert [cat.ids[i] for i in sem.top(query, 1, n_rows)] == ["i7"]  # and once it is over


@pytest.mark.parametrize(
    "query", ['"', "AND OR NOT", "title: NEAR(x y)", "* ^ - +", "col:lavender", "((", "  "]
)
def test_free_text_is_never_fts_syntax(query: str) -> None:
    index = LexicalIndex(_catalog(Item("a", "Lavender and oat soap")))
    ids, _ = index.search(query, 10, 99)  # raises nothing
    assert all(w.startswith('"') for w in match_expression(query).split(" OR ") if w)


def _rename_round(put, get, item_id: str) -> None:  # noqa: ANN001
    old = {"item_id": item_id, "title": "Quorvex lavender bath salts", "category": "Bath > Salts"}
    new = {"item_id": item_id, "title": "Blenthar carbon fiber phone case", "category": "Tech"}

    def found(q: str) -> bool:
        r = get("/v1/search", params={"q": q, "n": 10})
        assert r.status_code == 200
        return item_id in [h["item_id"] for h in r.json()["items"]]

    assert put("/v1/items", json={"items": [old]}).status_code == 200
    assert found("quorvex bath salts")
    assert put("/v1/items", json={"items": [new]}).status_code == 200
    assert found("blenthar phone case")
    assert not found("quorvex bath salts")


def test_renamed_item_found_by_new_name_in_process(client: TestClient) -> None:
    _rename_round(client.put, client.get, "SEARCH-RENAME-INPROC")


def test_renamed_item_found_by_new_name_live(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as c:
        _rename_round(c.put, c.get, "SEARCH-RENAME-LIVE")


class _Recorder:
    """An encoder that notes the thread, its nice value and torch's thread count per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        import os
        import threading

        import torch

        tid = threading.get_native_id()
        self.calls.append((tid, os.getpriority(os.PRIO_PROCESS, tid), torch.get_num_threads()))
        return _vectorize(list(texts))


def test_upserted_text_is_encoded_apart_from_the_requests(tmp_path) -> None:  # noqa: ANN001
    import os
    import threading

    import torch

    from shoprec.settings import Settings
    from shoprec.text.vectorizer import ENCODER_NICE, Vectorizer

    vec = Vectorizer(Settings(text_cache=tmp_path / "text.npz"))
    vec._encoder = rec = _Recorder()  # type: ignore[assignment]
    threads = torch.get_num_threads()
    vec(["Blenthar carbon phone case"])
    vec.queries(["phone case"])
    (item_tid, item_nice, item_threads), (query_tid, query_nice, query_threads) = rec.calls
    me = threading.get_native_id()
    # an item text on the encoder's own thread, at a lower priority; a query on the caller's
    assert item_tid != me and item_nice == ENCODER_NICE
    assert query_tid == me and query_nice == os.getpriority(os.PRIO_PROCESS, me)
    assert item_threads == query_threads == 1  # a request's few texts: one torch thread
    assert torch.get_num_threads() == threads  # and the count from before after
    vec(["Blenthar carbon phone case"])  # cached: not encoded again
    assert len(rec.calls) == 2
    if hasattr(os, "fork"):  # a forked worker starts its own encoder thread
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            import signal

            signal.alarm(30)  # a call that never returns fails the test, not hangs it
            ok = vec(["Quorvex bath salts"]).shape == (1, 384)
            os._exit(0 if ok and len(rec.calls) == 3 else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
