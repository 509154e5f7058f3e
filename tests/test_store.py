"""Contract tests for the storage protocols, run against every implementation in ``BACKENDS``.

A new implementation (Redis, ...) joins by adding a :class:`Backend` entry; the tests only use
the protocols. ``reopen`` tests open a second handle on the same storage, as a restarted
process would.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from threading import Thread
from typing import Any, TypeVar

import pytest
import redis

import shoprec.store.sqlite as sqlite_store
from shoprec.data.records import Event, EventType, Item
from shoprec.store import (
    Durability,
    EventLog,
    ItemStore,
    MemoryStateStore,
    SQLiteEventLog,
    SQLiteItemStore,
    StateStore,
    open_embedded,
)
from shoprec.store.redis_items import RedisItemStore
from shoprec.store.redis_log import RedisEventLog
from shoprec.store.redis_state import RedisStateStore
from shoprec.store.sqlite_state import SQLiteStateStore

T = TypeVar("T")


@dataclass(frozen=True)
class Backend:
    """How to open each store of one implementation on the storage under a folder."""

    open_log: Callable[[Path], EventLog]
    open_items: Callable[[Path], ItemStore]
    #: Python source that binds ``log`` to an EventLog on the folder ``Path(sys.argv[1])``.
    child_open_log: str


def _sqlite(durability: Durability) -> Backend:
    return Backend(
        open_log=lambda d: SQLiteEventLog(d / "shoprec.db", durability),
        open_items=lambda d: SQLiteItemStore(d / "shoprec.db"),
        child_open_log="from shoprec.store import SQLiteEventLog\n"
        f"log = SQLiteEventLog(Path(sys.argv[1]) / 'shoprec.db', {durability!r})",
    )


REDIS_URL = os.environ.get("SHOPREC_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _redis_prefix(d: Path) -> str:
    """One key space per test folder: a reopened handle on the same folder sees the same data."""
    return f"test:{d.name}:{abs(hash(str(d)))}:"


def _redis() -> Backend:
    return Backend(
        open_log=lambda d: RedisEventLog.from_url(REDIS_URL, _redis_prefix(d)),
        open_items=lambda d: RedisItemStore(redis.Redis.from_url(REDIS_URL), _redis_prefix(d)),
        child_open_log="from shoprec.store.redis_log import RedisEventLog\n"
        f"log = RedisEventLog.from_url({REDIS_URL!r}, sys.argv[3])",
    )


BACKENDS: dict[str, Backend] = {
    "sqlite-fsync": _sqlite("fsync"),
    "sqlite-os": _sqlite("os"),
    "redis": _redis(),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.ping()
        except redis.ConnectionError as exc:  # .ci/run starts Redis: a missing one is a failure
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}", pytrace=False)
        client.flushdb()
        yield BACKENDS[request.param]
        client.flushdb()
    else:
        yield BACKENDS[request.param]


@pytest.fixture
def handles() -> Iterator[list[EventLog | ItemStore]]:
    """Every store a test opens, closed after it."""
    opened: list[EventLog | ItemStore] = []
    yield opened
    for handle in opened:
        handle.close()


@pytest.fixture
def open_log(backend: Backend, tmp_path: Path, handles: list[Any]) -> Callable[[], EventLog]:
    """Opens a new handle on the same log at each call, as a restarted process would."""
    return lambda: _keep(handles, backend.open_log(tmp_path))


@pytest.fixture
def open_items(backend: Backend, tmp_path: Path, handles: list[Any]) -> Callable[[], ItemStore]:
    return lambda: _keep(handles, backend.open_items(tmp_path))


@pytest.fixture
def log(open_log: Callable[[], EventLog]) -> EventLog:
    return open_log()


def _keep(handles: list[Any], handle: T) -> T:
    handles.append(handle)
    return handle


def ev(user: str, item: str, eid: str | None = None, **kw: Any) -> Event:
    """A view event at t=1000 (``kw``: the optional fields)."""
    return Event(user, item, EventType.VIEW, 1000.0, eid, **kw)


# --------------------------------------------------------------------------- event log


def test_log_satisfies_protocol(log: EventLog) -> None:
    assert isinstance(log, EventLog)
    assert (log.count(), log.last_seq(), list(log.replay()), log.append([])) == (0, 0, [], [])


def test_append_replay_in_order_with_all_fields(log: EventLog) -> None:
    full = Event("u1", "i9", EventType.SEARCH, 1.5e9, "e1", "s1", "red lipstick", "nice", 4.5)
    batch = [full, ev("u2", "i2", "e2"), ev("", "i3", session_id="anon")]
    assert log.append(batch) == [True, True, True]
    assert log.append([ev("u1", "i4", "e4")]) == [True]
    replayed = list(log.replay())
    assert [e for _, e in replayed] == [*batch, ev("u1", "i4", "e4")]
    assert replayed[0][1].type is EventType.SEARCH
    seqs = [s for s, _ in replayed]
    assert seqs == sorted(set(seqs)) and seqs[-1] == log.last_seq() and log.count() == 4


def test_replay_after_and_batch_size(log: EventLog) -> None:
    log.append([ev("u", f"i{k}", f"e{k}") for k in range(25)])
    everything = list(log.replay())
    for batch_size in (1, 7, 25, 100):
        assert list(log.replay(batch_size=batch_size)) == everything
    cut = everything[9][0]
    assert list(log.replay(after=cut, batch_size=4)) == everything[10:]
    assert list(log.replay(after=log.last_seq())) == []
    with pytest.raises(ValueError):
        log.replay(batch_size=0)


def test_duplicates_across_batches_are_skipped(log: EventLog) -> None:
    assert log.append([ev("u1", "a", "e1"), ev("u1", "b", "e2")]) == [True, True]
    seq = log.last_seq()
    assert log.append([ev("u1", "a", "e1")]) == [False]
    # a retried batch that overlaps: only the new event is stored
    assert log.append([ev("u1", "b", "e2"), ev("u1", "c", "e3")]) == [False, True]
    assert log.count() == 3 and log.last_seq() > seq
    assert [e.item_id for e in log.user_events("u1")] == ["a", "b", "c"]


def test_duplicates_within_a_batch_keep_the_first(log: EventLog) -> None:
    batch = [ev("u1", "a", "e1"), ev("u1", "b", "e1"), ev("u1", "c", "e2"), ev("u1", "d", "e1")]
    assert log.append(batch) == [True, False, True, False]
    assert [e.item_id for _, e in log.replay()] == ["a", "c"]


def test_events_without_id_are_never_deduplicated(log: EventLog) -> None:
    same = ev("u1", "a")
    assert log.append([same, same]) == [True, True]
    assert log.append([same]) == [True]
    assert log.count() == 3


def test_duplicate_check_spans_large_batches(log: EventLog) -> None:
    first = [ev(f"u{k % 3}", "i", f"e{k}") for k in range(1500)]
    assert all(log.append(first))
    again = [ev("u0", "i", f"e{k}") for k in range(1000, 2700)]
    assert log.append(again) == [k >= 1500 for k in range(1000, 2700)]
    assert log.count() == 2700


def test_user_events_in_append_order(log: EventLog) -> None:
    log.append([ev("u1", "a", "1"), ev("u2", "b", "2"), ev("u1", "c", "3")])
    log.append([ev("u2", "d", "4"), ev("u1", "e", "5")])
    assert [e.item_id for e in log.user_events("u1")] == ["a", "c", "e"]
    assert [e.item_id for e in log.user_events("u2")] == ["b", "d"]
    assert log.user_events("nobody") == []


def test_delete_user_removes_exactly_that_user(log: EventLog) -> None:
    log.append([ev("u1", "a", "1"), ev("u2", "b", "2"), ev("u1", "c"), ev("", "d", "4")])
    log.append([ev("u10", "e", "5"), ev("u1", "f", "6")])
    last = log.last_seq()
    assert log.delete_user("u1") == 3
    assert log.user_events("u1") == []
    assert [e.item_id for _, e in log.replay()] == ["b", "d", "e"]
    assert log.count() == 3
    assert log.last_seq() == last  # seq never goes back: consumers' checkpoints stay valid
    assert log.delete_user("u1") == 0
    with pytest.raises(ValueError):
        log.delete_user("")  # would erase every anonymous event
    # new events get fresh, larger seqs; a re-sent erased event_id is stored again
    assert log.append([ev("u1", "z", "1")]) == [True]
    assert list(log.replay(after=last)) == [(log.last_seq(), ev("u1", "z", "1"))]


def test_reopen_keeps_everything(open_log: Callable[[], EventLog]) -> None:
    first = open_log()
    first.append([ev("u1", "a", "e1"), ev("u2", "b"), ev("u1", "c", "e3", rating=2.0)])
    first.delete_user("u2")
    before, last = list(first.replay()), first.last_seq()
    first.close()
    first.close()  # closing twice is fine
    second = open_log()
    assert list(second.replay()) == before and second.last_seq() == last
    assert second.count() == 2 and len(second.user_events("u1")) == 2
    assert second.append([ev("u1", "a", "e1")]) == [False]  # dedup survives the restart
    assert second.append([ev("u3", "d", "e4")]) == [True] and second.last_seq() > last


def test_two_handles_see_each_other(open_log: Callable[[], EventLog]) -> None:
    a, b = open_log(), open_log()
    assert a.append([ev("u1", "x", "e1")]) == [True]
    assert b.append([ev("u1", "x", "e1"), ev("u1", "y", "e2")]) == [False, True]
    assert [e.item_id for e in a.user_events("u1")] == ["x", "y"]


def test_export_and_erasure_follow_the_other_handle(open_log: Callable[[], EventLog]) -> None:
    a, b = open_log(), open_log()
    a.append([ev("u1", "x"), ev("u2", "y")])
    assert [e.item_id for e in a.user_events("u1")] == ["x"]  # a has looked u1 up once
    b.append([ev("u1", "z"), ev("u2", "w")])  # appended after that look-up, through b
    assert [e.item_id for e in a.user_events("u1")] == ["x", "z"]
    assert b.delete_user("u1") == 2
    assert a.user_events("u1") == []  # erased through b
    a.append([ev("u1", "new")])
    assert [e.item_id for e in a.user_events("u1")] == ["new"]
    b.append([ev("u1", "newer")])
    assert a.delete_user("u1") == 2 and b.user_events("u1") == []
    assert sorted(e.item_id for e in a.user_events("u2")) == ["w", "y"]


def test_concurrent_appends_store_each_id_once(log: EventLog) -> None:
    results: list[list[tuple[str | None, bool]]] = [[] for _ in range(4)]

    def work(n: int) -> None:
        for b in range(15):  # threads overlap on ids: every id is sent by two threads
            batch = [ev(f"u{n}", "i", f"e{(n // 2) * 1000 + b * 40 + k}") for k in range(40)]
            results[n] += [(e.event_id, ok) for e, ok in zip(batch, log.append(batch), strict=True)]

    threads = [Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = [eid for r in results for eid, ok in r if ok]
    assert len(stored) == len(set(stored)) == log.count() == 2 * 15 * 40


# --------------------------------------------------------------------------- item store


def test_items_round_trip(open_items: Callable[[], ItemStore]) -> None:
    store = open_items()
    assert isinstance(store, ItemStore) and store.count() == 0 and store.all() == []
    full = Item(
        "sku1", "Nail polish", "Glossy red.", ("Makeup", "Nails"), "Acme", 9.5, True,
        {"colour": "red", "size": "10 ml", "note": "naïve ✓"},
    )  # fmt: skip
    bare = Item("sku2", price=None, in_stock=False)
    store.upsert([full, bare], added_at=100.0)
    assert store.get("sku1") == full and store.get("sku2") == bare
    assert store.get("missing") is None
    got = store.get("sku1")
    assert got is not None and isinstance(got.category, tuple) and got.attributes["size"] == "10 ml"
    store.close()
    assert open_items().all() == [(full, 100.0), (bare, 100.0)]


def test_items_changed_since_a_revision(open_items: Callable[[], ItemStore]) -> None:
    """What another handle upserted after a revision, as a follower of the store asks it."""
    store = open_items()
    store.upsert([Item("a", "A"), Item("b", "B")], added_at=1.0)
    changed, rev = open_items().changed_since(0)  # another handle (process) sees them
    assert sorted(it.item_id for it, _ in changed) == ["a", "b"] and rev > 0
    assert store.changed_since(rev) == ([], rev)  # nothing since
    store.upsert([Item("b", "B2")], added_at=2.0)
    changed, later = store.changed_since(rev)
    assert changed == [(Item("b", "B2"), 1.0)] and later > rev  # the first added_at kept


def test_upsert_replaces_fields_and_keeps_first_added_at(
    open_items: Callable[[], ItemStore],
) -> None:
    store = open_items()
    store.upsert([Item("a", "A", price=1.0), Item("b", "B")], added_at=10.0)
    store.upsert([Item("c", "C")], added_at=20.0)
    new_a = Item("a", "A2", category=("X",), price=None, in_stock=False, attributes={"k": "v"})
    store.upsert([new_a, Item("d", "D")], added_at=30.0)
    assert store.all() == [(new_a, 10.0), (Item("b", "B"), 10.0), (Item("c", "C"), 20.0),
                           (Item("d", "D"), 30.0)]  # fmt: skip
    store.upsert([Item("e", "first"), Item("e", "second")], added_at=40.0)  # later one wins
    assert store.get("e") == Item("e", "second") and store.count() == 5
    store.upsert([], added_at=50.0)
    assert store.count() == 5


def test_open_embedded_shares_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    log, items = open_embedded(folder)
    with log, items:
        log.append([ev("u1", "sku1", "e1")])
        items.upsert([Item("sku1", "One")], added_at=1.0)
    assert (folder / "shoprec.db").is_file()
    log, items = open_embedded(folder, "os")
    with log, items:
        assert log.count() == 1 and items.get("sku1") == Item("sku1", "One")


def _synchronous(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA synchronous").fetchone()[0])


@pytest.mark.parametrize(("durability", "level"), [("fsync", 2), ("os", 1)])  # FULL, NORMAL
def test_durability_setting_reaches_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: str, level: int
) -> None:
    """SHOPREC_DURABILITY, read by Settings, sets the event log's ``PRAGMA synchronous`` where
    the CLI opens the store (``open_store``; the server's build: test_kill_restart.py)."""
    from shoprec.cli.common import open_store
    from shoprec.settings import Settings

    monkeypatch.setenv("SHOPREC_DURABILITY", durability)
    log, items = open_store(str(tmp_path), Settings())
    with log, items:
        assert log.durability == durability
        assert _synchronous(log._db()) == level
        assert _synchronous(items._db()) == 1  # the catalog stays NORMAL whatever the setting


def test_durability_defaults_to_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shoprec.settings import Settings

    monkeypatch.delenv("SHOPREC_DURABILITY", raising=False)
    assert Settings().durability == "fsync"
    log, items = open_embedded(tmp_path)
    with log, items:
        assert _synchronous(log._db()) == 2
    with pytest.raises(ValueError, match="durability"):
        SQLiteEventLog(tmp_path / "other.db", "power")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- state store


def _open_state(kind: str, folder: Path) -> StateStore[dict[str, int]]:
    """A handle on one shared store of ``kind`` (the same one for every call in a test)."""
    if kind == "memory":
        return MemoryStateStore()
    if kind == "sqlite":
        return SQLiteStateStore(folder / "records.db", dict, dict)
    return RedisStateStore(redis.Redis.from_url(REDIS_URL), dict, dict, prefix="test:state:")


@pytest.fixture(params=["memory", "sqlite", "redis"])
def state_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StateStore[dict[str, int]]]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    yield _open_state(request.param, tmp_path)
    redis.Redis.from_url(REDIS_URL).flushdb()


def test_state_store_contract(state_store: StateStore[dict[str, int]]) -> None:
    store = state_store
    assert isinstance(store, StateStore)
    assert store.get("u1") is None and len(store) == 0 and store.users() == []
    state = {"n": 1}
    store.put("u1", state)
    store.put("u2", {"n": 2})
    assert store.get("u1") == state
    store.put("u1", {"n": 3})
    assert store.get("u1") == {"n": 3} and store.users() == ["u1", "u2"] and len(store) == 2
    assert store.delete("u1") is True and store.delete("u1") is False
    assert store.users() == ["u2"]
    store.clear()
    assert len(store) == 0 and store.get("u2") is None


def test_update_writes_the_key_and_its_companions_together(
    state_store: StateStore[dict[str, int]],
) -> None:
    store = state_store
    assert store.update("u1", lambda old: ({"n": 1}, {"total": {"n": 1}})) == (None, {"n": 1})
    assert store.get("u1") == {"n": 1} and store.get("total") == {"n": 1}
    bump = lambda old: ({"n": old["n"] + 1} if old else None, {})  # noqa: E731
    assert store.update("u1", bump) == ({"n": 1}, {"n": 2})
    assert store.update("nobody", bump) == (None, None) and store.get("nobody") is None
    assert store.update("u1", lambda old: (None, {"total": {"n": 0}})) == ({"n": 2}, None)
    assert store.get("u1") is None and store.get("total") == {"n": 0}


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_update_is_atomic_across_handles(kind: str, tmp_path: Path) -> None:
    """Two handles (as two processes would hold) incrementing one key: no update is lost."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    handles = [_open_state(kind, tmp_path) for _ in range(2)]

    def bump(store: StateStore[dict[str, int]]) -> None:
        for _ in range(150):
            store.update("n", lambda old: ({"n": (old or {"n": 0})["n"] + 1}, {}))

    threads = [Thread(target=bump, args=(h,)) for h in handles for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert handles[0].get("n") == {"n": 600}
    redis.Redis.from_url(REDIS_URL).flushdb()


# --------------------------------------------------------------------------- crash durability

CHILD = """
import sys
from pathlib import Path
from shoprec.data.records import Event, EventType
{open_log}
size = int(sys.argv[2])
for b in range(1_000_000):
    log.append([Event(f"u{{k % 5}}", f"i{{k}}", EventType.CLICK, float(b), event_id=f"b{{b}}-{{k}}")
                for k in range(size)])
    print(f"b{{b}}-{{size - 1}}", flush=True)
"""


@pytest.mark.timeout(120)
def test_acknowledged_batches_survive_kill_9(backend: Backend, tmp_path: Path) -> None:
    size, wanted = 200, 25
    code = CHILD.format(open_log=backend.child_open_log)
    args = [sys.executable, "-c", code, str(tmp_path), str(size), _redis_prefix(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        while len(acked) < wanted:
            line = proc.stdout.readline()
            assert line, f"child ended early: {proc.stderr.read() if proc.stderr else ''}"
            acked.append(line.strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # lines the child printed before it died are acknowledged too (only complete lines)
    acked += [line for line in rest.split("\n")[:-1] if line]
    last_batch = max(int(a.split("-")[0][1:]) for a in acked)
    log = backend.open_log(tmp_path)
    try:
        stored = {e.event_id for _, e in log.replay()}
        assert all(f"b{b}-{k}" in stored for b in range(last_batch + 1) for k in range(size))
        assert len(stored) == log.count() and log.count() % size == 0  # no partial batch
        assert log.append([Event("u", "i", EventType.VIEW, 0.0, event_id=acked[-1])]) == [False]
    finally:
        log.close()


def test_sqlite_shopper_map_catches_up_page_by_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_MAP_PAGE", 7)  # many pages per look-up
    with SQLiteEventLog(tmp_path / "shoprec.db") as log:
        for k in range(10):
            log.append([ev(f"u{j % 3}", f"i{k}-{j}", f"e{k}-{j}") for j in range(10)])
            assert len(log.user_events("u1")) == 3 * (k + 1)  # u1 is j = 1, 4, 7
        assert [e.event_id for e in log.user_events("u2")][:4] == ["e0-2", "e0-5", "e0-8", "e1-2"]
        assert log.delete_user("u0") == 40
        assert log.count() == 60 and log.user_events("u0") == []


def test_sqlite_drops_the_old_shopper_index(tmp_path: Path) -> None:
    path = tmp_path / "shoprec.db"
    with SQLiteEventLog(path) as log:
        log.append([ev("u1", "a", "e1")])
    with sqlite3.connect(path) as conn:  # a store written before the index went
        conn.execute("CREATE INDEX events_user_id ON events (user_id)")
    with SQLiteEventLog(path) as log:
        names = [r[0] for r in log._query("SELECT name FROM sqlite_master WHERE type='index'")]
        assert "events_user_id" not in names
        assert [e.item_id for e in log.user_events("u1")] == ["a"]
        assert log.append([ev("u1", "a", "e1")]) == [False]  # the event id index stays


def test_sqlite_delete_user_leaves_no_trace_on_disk(tmp_path: Path) -> None:
    with SQLiteEventLog(tmp_path / "shoprec.db") as log:
        log.append([ev("victim", f"i{k}", f"SECRET-{k}", query="SECRET") for k in range(200)])
        log.append([ev("other", f"i{k}", f"kept-{k}") for k in range(200)])
        assert log.delete_user("victim") == 200
        for f in tmp_path.iterdir():  # the database, its WAL and shared-memory index
            assert b"SECRET" not in f.read_bytes(), f.name


def test_embedded_store_does_not_import_redis(tmp_path: Path) -> None:
    """The embedded setup (a folder, SQLite) runs without the Redis client library loaded."""
    code = (
        "import sys, pathlib\n"
        "from shoprec.store import open_embedded, open_stores\n"
        "from shoprec.store.sqlite_state import SQLiteStateStore\n"
        f"log, items = open_stores(pathlib.Path({str(tmp_path)!r}))\n"
        "log.close(); items.close()\n"
        "assert 'redis' not in sys.modules, sorted(m for m in sys.modules if 'redis' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
