"""The training-export consumer group: every stored item event reaches the events file once,
in a format ``read_events`` reads back; a batch written but never acknowledged (the exporter
died) is not written twice; erased events are not exported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_fixtures import RedisServer
from shoprec.data.readers import read_events
from shoprec.data.records import Event, EventType
from shoprec.store.redis_export import EXPORT_GROUP, export_events
from shoprec.store.redis_groups import StreamGroup
from shoprec.store.redis_health import connect
from shoprec.store.redis_log import RedisEventLog


@pytest.fixture
def log(tmp_path: Path) -> Iterator[RedisEventLog]:
    server = RedisServer(tmp_path).start()
    log = RedisEventLog(connect(server.url))
    yield log
    log.close()
    server.kill()


def _events(n: int, start: int = 0) -> list[Event]:
    return [
        Event(f"u{k % 3}", f"i{k}", EventType.PURCHASE, 1e9 + k, f"e{k}", rating=None)
        for k in range(start, start + n)
    ]


def test_export_writes_each_event_once_and_reads_back(log: RedisEventLog, tmp_path: Path) -> None:
    out = tmp_path / "export" / "events.csv"
    first = _events(30)
    log.append(first)
    log.append([Event("u9", "", EventType.SEARCH, 1e9, "s1", query="red lipstick")])
    log.append([Event("", "i5", EventType.VIEW, 1e9 + 1, None, session_id="anon")])
    assert export_events(log, out, batch=7) == 31  # the search event has no item
    assert export_events(log, out) == 0
    log.append(_events(5, start=30))
    assert export_events(log, out) == 5
    back = read_events(out)
    assert [e.event_id for e in back[:30]] == [e.event_id for e in first]
    assert back[0] == first[0]
    assert back[30].user_id == "session:anon" and back[30].event_id.startswith("stream-")
    assert len(back) == 36


def test_unacknowledged_batch_is_not_written_twice(log: RedisEventLog, tmp_path: Path) -> None:
    out = tmp_path / "events.csv"
    log.append(_events(10))
    assert export_events(log, out) == 10
    log.append(_events(10, start=10))
    # an exporter that wrote the next batch and died before acknowledging it
    group = StreamGroup(log, EXPORT_GROUP, "exporter", start="0")
    delivered = group.read(100)
    assert len(delivered) == 10
    with out.open("a") as f:  # the rows it managed to write
        for e in (x.event for x in delivered[:4]):
            assert e is not None
            f.write(f"{e.user_id},{e.item_id},purchase,{e.timestamp!r},{e.event_id},,,,\n")
    assert export_events(log, out) == 6
    ids = [e.event_id for e in read_events(out)]
    assert len(ids) == len(set(ids)) == 20


def test_erased_events_are_not_exported(log: RedisEventLog, tmp_path: Path) -> None:
    log.append(_events(9))
    log.delete_user("u1")
    out = tmp_path / "events.csv"
    assert export_events(log, out) == 6
    assert {e.user_id for e in read_events(out)} == {"u0", "u2"}


def test_erasing_a_user_reaches_the_exported_files(log: RedisEventLog, tmp_path: Path) -> None:
    from shoprec.store.redis_export import erase_user

    log.append(_events(9))
    a, b = tmp_path / "a" / "events.csv", tmp_path / "b" / "events.csv"
    assert export_events(log, a) == 9 and export_events(log, b, consumer="other") == 0
    log.delete_user("u1")
    assert erase_user(log, "u1") == (2, 0)
    assert {e.user_id for e in read_events(a)} == {"u0", "u2"}
    assert len(read_events(a)) == 6
    # exporting on goes on appending to the rewritten file, nothing twice
    log.append(_events(3, start=9))
    assert export_events(log, a) == 3
    ids = [e.event_id for e in read_events(a)]
    assert len(ids) == len(set(ids)) == 9


def test_an_erasure_waits_for_a_held_file_and_the_next_export_applies_it(
    log: RedisEventLog, tmp_path: Path
) -> None:
    import fcntl

    from shoprec.store.redis_export import erase_user

    log.append(_events(6))
    out = tmp_path / "events.csv"
    assert export_events(log, out) == 6
    with (tmp_path / "events.csv.lock").open("a") as held:  # an export in progress
        fcntl.flock(held, fcntl.LOCK_EX)
        assert erase_user(log, "u2", wait_s=0.2) == (0, 1)
        fcntl.flock(held, fcntl.LOCK_UN)
    assert "u2" in {e.user_id for e in read_events(out)}  # not yet: pending
    assert export_events(log, out) == 0
    assert {e.user_id for e in read_events(out)} == {"u0", "u1"}
    assert erase_user(log, "u2") == (1, 0)  # nothing pending any more, the file stays clean
