"""Retention (issue 22): ``shoprec compact`` and the serving process's housekeeping drop events
older than the window from the log, on SQLite and on Redis, and keep what the shoppers' states
need; the dedupe ids and erasure still hold afterwards; anonymous sessions expire in the
embedded store as in Redis, and a session's items are capped."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from shoprec.data.records import Event, EventType, Item
from shoprec.online.state import MAX_RECENT, UserState
from shoprec.serving.clock import EngineClock
from shoprec.serving.engine import Engine
from shoprec.serving.housekeeping import Housekeeping
from shoprec.store import DB_FILENAME, MemoryStateStore, open_embedded
from shoprec.store.retention import compact_sqlite

DAY = 86_400.0
#: the test's now: events before NOW - 30 days are outside a 30-day window
NOW = 1_000 * DAY
OLD, RECENT = NOW - 40 * DAY, NOW - 2 * DAY


def _vectors(texts: list[str]) -> np.ndarray:
    """Unit vectors from the texts' hashes: no encoder to load."""
    out = np.zeros((len(texts), 384), np.float32)
    for k, text in enumerate(texts):
        seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).standard_normal(384)
        out[k] = v / np.linalg.norm(v)
    return out


def _view(user: str, item: str, ts: float, eid: str | None, session: str | None = None) -> Event:
    return Event(user, item, EventType.VIEW, ts, eid, session_id=session)


def _history() -> list[Event]:
    """In append order: an anonymous session before the window; 'busy' five old views then
    three recent ones; 'quiet' two old views and an old purchase, nothing since; 'late' one
    recent view without an event_id."""
    events = [_view("", "b", OLD, "s0", session="anon")]
    events += [_view("busy", "abc"[k % 3], OLD + 10 + k, f"b{k}") for k in range(5)]
    events += [_view("quiet", "a", OLD + 20, "q0"), _view("quiet", "b", OLD + 21, "q1")]
    events += [Event("quiet", "c", EventType.PURCHASE, OLD + 22, "q2")]
    events += [_view("busy", f"r{k}", RECENT + k, f"br{k}") for k in range(3)]
    events += [_view("late", "a", RECENT + 5, None)]  # no event_id: stored every time
    return events


def test_sqlite_compaction_drops_old_events_keeps_recent_and_state_tail(tmp_path: Path) -> None:
    events, items = open_embedded(tmp_path)
    try:
        events.append(_history())
        assert events.user_events("busy")  # the shopper map is read, as a server's is
        done = compact_sqlite(events, NOW - 30 * DAY, keep_last=3)
        left = {e.event_id for _, e in events.replay()}
        # busy: its 3 recent events are its latest 3, so the 5 old ones go; quiet: nothing
        # newer, so its latest 3 stay however old; the anonymous session's old event goes
        assert left == {"br0", "br1", "br2", "q0", "q1", "q2", None}
        assert (done.dropped, done.kept_for_state) == (6, 3)
        assert [e.item_id for e in events.user_events("busy")] == ["r0", "r1", "r2"]
        # dedupe: a recent id is still refused; an erasure still erases everything
        assert events.append([_view("busy", "r0", RECENT, "br0")]) == [False]
        assert events.delete_user("quiet") == 3 and events.user_events("quiet") == []
        assert compact_sqlite(events, NOW - 30 * DAY, keep_last=3).dropped == 0  # idempotent
    finally:
        events.close()
        items.close()


def test_sqlite_vacuum_hands_space_back_then_incremental(tmp_path: Path) -> None:
    """--vacuum rewrites the file once in incremental mode; later compactions then hand their
    freed pages back without a VACUUM."""
    events, items = open_embedded(tmp_path)
    text = "x" * 400
    try:
        rows = [Event("u", "a", EventType.REVIEW, OLD + k, f"o{k}", text=text) for k in range(3000)]
        events.append(rows)
        events.append([Event("u", "a", EventType.VIEW, RECENT, "new")])
        events._checkpoint(wait_ms=1000)  # the rows into the file, out of the WAL
        size = (tmp_path / DB_FILENAME).stat().st_size
        first = compact_sqlite(events, NOW - 30 * DAY, vacuum=True)
        assert first.space == "vacuum" and first.dropped == 3000
        assert (tmp_path / DB_FILENAME).stat().st_size < size / 10
        mid = NOW - DAY
        events.append(
            [Event("v", "a", EventType.REVIEW, mid, f"p{k}", text=text) for k in range(3000)]
        )
        events.append([Event("v", "a", EventType.VIEW, NOW, "last")])
        second = compact_sqlite(events, NOW - DAY / 2)  # a day later: "new" and the 3000 go
        assert second.space == "incremental" and second.dropped == 3001
        assert second.freed_pages > 100
        assert [e.event_id for _, e in events.replay()] == ["last"]
    finally:
        events.close()
        items.close()


@pytest.fixture
def redis_log() -> Iterator[tuple[redis.Redis, str]]:
    from redis_fixtures import SHARED_REDIS_URL, missing_redis

    client = redis.Redis.from_url(SHARED_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        missing_redis(f"no Redis answers at {SHARED_REDIS_URL}")
    prefix = f"test-retention-{uuid.uuid4().hex[:8]}:"
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


def test_redis_compaction_trims_stream_dedupe_ids_and_shopper_lists(
    redis_log: tuple[redis.Redis, str],
) -> None:
    from shoprec.store.redis_log import RedisEventLog
    from shoprec.store.redis_retention import compact_redis

    client, p = redis_log
    log = RedisEventLog(client, p)
    log.append(_history())
    done = compact_redis(log, NOW - 30 * DAY, batch=4)  # the old prefix spans batches
    left = [e.event_id for _, e in log.replay()]
    assert left == ["br0", "br1", "br2", None] and done.dropped == 9
    assert log.count() == 4 and client.xlen(p + "events") == 4
    # the dedupe ids of the trimmed entries are forgotten, the recent ones kept
    assert client.smembers(p + "event_ids") == {b"br0", b"br1", b"br2"}
    assert log.append([_view("busy", "r0", RECENT, "br0")]) == [False]
    # the per-shopper lists hold only entries still in the stream
    assert [e.item_id for e in log.user_events("busy")] == ["r0", "r1", "r2"]
    assert client.llen(p + "user:quiet") == 0 and client.llen(p + "user:") == 0
    assert log.delete_user("busy") == 3 and log.user_events("busy") == []
    assert compact_redis(log, NOW - 30 * DAY).dropped == 0


def _out_of_order() -> list[Event]:
    """A recent event, then two old ones appended after it (a log filled without a window)."""
    return [
        _view("x", "a", RECENT, "r"),
        _view("x", "b", OLD, "o1"),
        _view("", "c", OLD, "o2", session="anon"),
    ]


def test_a_full_walk_drops_old_events_appended_after_newer_ones_sqlite(tmp_path: Path) -> None:
    events, items = open_embedded(tmp_path)
    try:
        events.append(_out_of_order())
        assert compact_sqlite(events, NOW - 30 * DAY).dropped == 0  # stops at the recent one
        done = compact_sqlite(events, NOW - 30 * DAY, full=True)
        assert done.dropped == 2 and [e.event_id for _, e in events.replay()] == ["r"]
        assert [e.event_id for e in events.user_events("x")] == ["r"]
    finally:
        events.close()
        items.close()


def test_a_full_walk_drops_old_events_appended_after_newer_ones_redis(
    redis_log: tuple[redis.Redis, str],
) -> None:
    from shoprec.store.redis_log import RedisEventLog
    from shoprec.store.redis_retention import compact_redis

    client, p = redis_log
    log = RedisEventLog(client, p)
    log.append(_out_of_order())
    assert compact_redis(log, NOW - 30 * DAY).dropped == 0
    assert compact_redis(log, NOW - 30 * DAY, full=True).dropped == 2
    assert [e.event_id for _, e in log.replay()] == ["r"]
    assert client.smembers(p + "event_ids") == {b"r"}
    assert client.llen(p + "user:x") == 1 and client.llen(p + "user:") == 0
    assert log.append([_view("x", "b", OLD, "o1")]) == [True]  # forgotten: the window refuses it


def _engine(store: Path) -> Engine:
    events, items = open_embedded(store)
    clock = EngineClock("data", skew_s=30 * DAY)  # the test's events leap days ahead
    engine = Engine(events, items, MemoryStateStore[UserState](), _vectors, clock=clock)
    engine.upsert_items([Item(x, f"Item {x}") for x in "abc"], now=0.0)
    return engine


def test_restart_after_compaction_keeps_what_the_state_learned(tmp_path: Path) -> None:
    """The serving process's round compacts with the state's capacity kept: after a restart
    (the state rebuilt from the log) a shopper whose events are all older than the window
    keeps their recent items and purchase; one who came back keeps the new ones."""
    engine = _engine(tmp_path)
    engine.ingest(_history())  # the data clock: now = the latest event
    before = engine.state("quiet")
    assert before is not None
    keeper = Housekeeping(engine, retain_s=30 * DAY, every_s=3600)
    _, done = keeper.step()
    # the anonymous session's event goes; every shopper's 8 or fewer events are their latest
    assert done is not None and done.dropped == 1 and done.kept_for_state == 8
    engine.events.close()
    engine.items.close()
    restarted = _engine(tmp_path)
    restarted.load()
    quiet, busy = restarted.state("quiet"), restarted.state("busy")
    assert quiet is not None and quiet.recent == before.recent and quiet.bought == {"c"}
    assert busy is not None and busy.recent_items()[-3:] == ["r0", "r1", "r2"]
    assert restarted.state("session:anon") is None
    restarted.events.close()
    restarted.items.close()


def test_embedded_sessions_expire_and_session_items_are_capped(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    t0 = 100 * DAY
    engine.ingest([_view("", "a", t0, None, session="idle")])
    busy = [_view("", "abc"[k % 3], t0 + k, None, session="bot") for k in range(MAX_RECENT + 50)]
    engine.ingest(busy)
    bot = engine.state("session:bot")
    assert bot is not None and len(bot.session_items) == MAX_RECENT  # capped, as over Redis
    engine.ingest([_view("", "b", t0 + 8 * DAY, None, session="fresh")])
    engine.ingest([_view("shopper", "c", t0, None)])  # a signed-in shopper never expires
    keeper = Housekeeping(engine, retain_s=None, every_s=3600)
    assert keeper.step() == (2, None)  # idle and bot: a week without events
    assert engine.state("session:idle") is None and engine.state("session:bot") is None
    assert engine.state("session:fresh") is not None and engine.state("shopper") is not None
    # the thread sweeps once as it starts (the start-up replay rebuilds expired sessions)
    engine.ingest([_view("", "a", t0, None, session="replayed")])
    Housekeeping(engine, retain_s=None, every_s=3600).start().stop()
    assert engine.state("session:replayed") is None
    engine.events.close()
    engine.items.close()


def test_one_redis_process_compacts_per_round(redis_log: tuple[redis.Redis, str]) -> None:
    """Over Redis every worker runs the round; the period's key lets one of them compact."""
    from redis_fixtures import SHARED_REDIS_URL
    from shoprec.serving.shared import SharedState

    _, prefix = redis_log
    shared = SharedState(SHARED_REDIS_URL, prefix)
    try:
        engines = [
            Engine(shared.log, shared.items, shared.states, _vectors, shared=shared)
            for _ in range(2)
        ]
        shared.log.append([*_history()[:2], _view("late", "a", RECENT + 10, "late")])
        rounds = [
            Housekeeping(e, retain_s=30 * DAY, every_s=60).compact(NOW - 30 * DAY) for e in engines
        ]
        assert rounds[0] is not None and rounds[0].dropped == 2 and rounds[1] is None
        assert shared.log.count() == 1
    finally:
        shared.close()


def test_cli_compacts_a_store_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``shoprec compact --store DIR --retain-days 30`` under the data clock (now = the latest
    event): the old events go, the summary says how many and how space was handled."""
    from typer.testing import CliRunner

    from shoprec.cli import app

    events, items = open_embedded(tmp_path)
    events.append(_history())
    events.close()
    items.close()
    monkeypatch.setenv("SHOPREC_CLOCK", "data")
    result = CliRunner().invoke(app, ["compact", "--store", str(tmp_path), "--retain-days", "30"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps lines
    assert "1 dropped, 8 kept for state" in said  # the progress line
    assert "dropped 1 of 13 events older than 30 days" in said
    assert "kept 8 older ones" in said and "12 events left" in said
    bad = CliRunner().invoke(app, ["compact", "--store", str(tmp_path)])
    assert bad.exit_code == 2 and "SHOPREC_RETAIN_DAYS" in bad.output
