"""``shoprec import``: a shop's files (CSV, JSONL, Parquet) into a folder store and a Redis store,
idempotent by event id, resumable after a crash with each event stored once, bad rows refused
naming the file, the row and the field with nothing written."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import redis
from typer.testing import CliRunner

from shoprec.cli import app
from shoprec.data.readers import DataFormatError, read_events
from shoprec.data.records import Event
from shoprec.data.synthetic import generate
from shoprec.store import open_embedded
from shoprec.store.bulk_import import derive_ids, import_files


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated shop's export (items, events, reviews as CSV), and the events as JSONL
    without their ids (the importer derives them) and as Parquet."""
    folder = generate(n_users=60, n_items=50, seed=3).write(tmp_path_factory.mktemp("files"))
    events = pd.read_csv(folder / "events.csv", dtype=str, keep_default_na=False)
    events.drop(columns=["event_id"]).to_json(folder / "events.jsonl", orient="records", lines=True)
    events.to_parquet(folder / "events.parquet")
    pd.read_csv(folder / "items.csv", dtype=str, keep_default_na=False).to_parquet(
        folder / "items.parquet"
    )
    return folder


def _key(e: Event) -> tuple:
    return (e.user_id, e.item_id, str(e.type), e.timestamp, e.session_id, e.query, e.text)


def _stored(folder: Path) -> list[Event]:
    log, items = open_embedded(folder)
    try:
        return [e for _, e in log.replay()]
    finally:
        log.close()
        items.close()


@pytest.mark.parametrize(
    ("items_name", "events_name"),
    [
        ("items.csv", "events.csv"),
        ("items.csv", "events.jsonl"),
        ("items.parquet", "events.parquet"),
    ],
)
def test_import_each_format_then_again_adds_nothing(
    shop: Path, tmp_path: Path, items_name: str, events_name: str
) -> None:
    rows = read_events(shop / events_name)
    args = ["import", "--store", str(tmp_path), "--items", str(shop / items_name)]
    args += ["--events", str(shop / events_name), "--reviews", str(shop / "reviews.csv")]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    n_reviews = len(pd.read_csv(shop / "reviews.csv"))
    stored = _stored(tmp_path)
    assert len(stored) == len(rows) + n_reviews
    # every row once, as the reader reads it (the derived ids aside)
    assert Counter(_key(e) for e in stored[: len(rows)]) == Counter(_key(e) for e in rows)
    assert len({e.event_id for e in stored}) == len(stored)  # every event has its own id
    log, items = open_embedded(tmp_path)
    assert items.count() == 50
    log.close()
    items.close()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert f"stored 0 new, {len(rows) + n_reviews} already stored" in " ".join(again.output.split())
    assert len(_stored(tmp_path)) == len(stored)


def test_crash_mid_import_then_rerun_stores_each_event_once(shop: Path, tmp_path: Path) -> None:
    """A crash after two chunks (an exception out of the progress callback) leaves those
    chunks stored; the same import run again stores exactly the rest."""
    rows = derive_ids(read_events(shop / "events.jsonl"))  # ids derived from the content
    chunks = 0

    def crash(what: str, done: int, total: int) -> None:
        nonlocal chunks
        chunks += what == "events"
        if chunks == 2:
            raise KeyboardInterrupt("killed mid-import")

    log, items = open_embedded(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        import_files(log, items, events_file=shop / "events.jsonl", chunk=700, progress=crash)
    assert log.count() == 1400
    report = import_files(log, items, events_file=shop / "events.jsonl", chunk=700)
    assert (report.stored, report.known) == (len(rows) - 1400, 1400)
    stored = [e for _, e in log.replay()]
    assert [e.event_id for e in stored] == [e.event_id for e in rows]  # once each, in file order
    assert report.unknown_items  # no items file: the events name items the catalog lacks
    log.close()
    items.close()


def test_derived_ids_depend_on_the_row_only() -> None:
    a = Event("u1", "i1", "view", 100.0)
    b = Event("u1", "i2", "view", 100.0)
    first = derive_ids([a, b, a])
    assert first[0].event_id != first[1].event_id
    assert first[2].event_id == f"{first[0].event_id}:2"  # a repeated row is a second event
    assert derive_ids([b])[0].event_id == first[1].event_id  # not its position in the file
    assert derive_ids([Event("u1", "i1", "view", 100.0, "mine")])[0].event_id == "mine"


def test_bad_row_is_refused_naming_file_row_and_field(shop: Path, tmp_path: Path) -> None:
    bad = tmp_path / "events.csv"
    bad.write_text("user_id,item_id,type,timestamp\nu1,P00001,view,100\nu2,P00002,wishlist,100\n")
    store = tmp_path / "store"
    run = CliRunner().invoke(
        app,
        ["import", "--store", str(store), "--items", str(shop / "items.csv"), "--events", str(bad)],
    )
    assert run.exit_code == 2
    said = " ".join(run.output.split())
    assert f"{bad}, row 2, field 'type': unknown event type 'wishlist'" in said
    assert "nothing written" in said and not store.exists()  # the items were not written either
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text('{"user_id": "u", "item_id": "i", "type": "view", "timestamp": "now"}\n')
    log, items = open_embedded(tmp_path / "other")
    with pytest.raises(DataFormatError, match=r"events.jsonl, row 1, field 'timestamp'"):
        import_files(log, items, events_file=jsonl)
    assert log.count() == 0
    log.close()
    items.close()


def test_import_into_redis_once(shop: Path) -> None:
    from redis_fixtures import SHARED_REDIS_URL, missing_redis

    client = redis.Redis.from_url(SHARED_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        missing_redis(f"no Redis answers at {SHARED_REDIS_URL}")
    prefix = f"test-import-{uuid.uuid4().hex[:8]}:"
    args = ["import", "--store", SHARED_REDIS_URL, "--items", str(shop / "items.csv")]
    args += ["--events", str(shop / "events.csv")]
    env = {"SHOPREC_REDIS_PREFIX": prefix}
    try:
        for _ in range(2):
            run = CliRunner().invoke(app, args, env=env)
            assert run.exit_code == 0, run.output
        from shoprec.serving.shared import SharedState

        shared = SharedState(SHARED_REDIS_URL, prefix)
        assert shared.log.count() == len(read_events(shop / "events.csv"))
        assert shared.items.count() == 50
        # on the shoppers' pending lists, so that running replicas fold them into their states
        assert client.llen(shared.log.pending_key("u00001")) > 0
        shared.close()
    finally:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()


def test_import_killed_mid_way_then_rerun(shop: Path, tmp_path: Path) -> None:
    """SIGKILL to an importing process between chunks: the chunks it committed stay whole,
    and the import run again stores exactly the rest, each event once."""
    import signal
    import subprocess
    import sys

    child = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from shoprec.store import open_embedded\n"
        "from shoprec.store.bulk_import import import_files\n"
        "def said(what, done, total):\n"
        "    print(done, flush=True)\n"
        "    time.sleep(0.2)  # the parent kills it meanwhile\n"
        "log, items = open_embedded(Path(sys.argv[1]))\n"
        "import_files(log, items, events_file=Path(sys.argv[2]), chunk=500, progress=said)\n"
    )
    events = shop / "events.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", child, str(tmp_path), str(events)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "500"
        assert proc.stdout.readline().strip() == "1000"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    log, items = open_embedded(tmp_path)
    before = log.count()
    assert before in (1000, 1500)  # whole chunks only (the third may have committed)
    report = import_files(log, items, events_file=events)
    rows = derive_ids(read_events(events))
    assert (report.known, report.stored) == (before, len(rows) - before)
    assert [e.event_id for _, e in log.replay()] == [e.event_id for e in rows]
    log.close()
    items.close()
