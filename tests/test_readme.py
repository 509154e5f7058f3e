"""The README's five-minute tour runs as written: every ``curl`` command of its block, in order,
against a real HTTP server over the Amazon Beauty catalog, each answer checked against what the
README's comment above it says."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import require_data
from serving_fixtures import catalog_engine, serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BOUGHT, VIEWED = "B004ZT0SSG", "B004756YJA"


def tour_commands() -> list[str]:
    """The commands of the first ``bash`` block under the tour heading, continuation lines
    joined, comments dropped."""
    text = README.read_text()
    section = text.split("## A five-minute tour", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "no bash block in the README's tour"
    joined = block.group(1).replace("\\\n", " ")
    return [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]


def ids(body: dict) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def _events(body: dict) -> None:
    assert body == {"accepted": 2, "duplicates": 0}


def _resent(body: dict) -> None:
    assert body == {"accepted": 0, "duplicates": 1}


#: the first page of the tour's feed, which the second must not repeat
FIRST_PAGE: list[str] = []


def _feed(body: dict) -> None:
    assert len(body["items"]) == 5 and all(i["reasons"] for i in body["items"])
    assert BOUGHT not in ids(body)
    FIRST_PAGE[:] = ids(body)


def _page_two(body: dict) -> None:
    assert len(body["items"]) == 5 and not set(ids(body)) & set(FIRST_PAGE), FIRST_PAGE
    assert body["recommendation_id"]


def _ranked(body: dict) -> None:
    assert sorted(ids(body)[:3]) == sorted(["B00021DJ32", "B004756YJA", "B0020YLEYK"])
    assert ids(body)[3:] == body["unknown"] == ["NOT-AN-ITEM"]  # kept at the end, named
    assert body["recommendation_id"]
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)  # the score is the one that ordered the list


def _similar(body: dict) -> None:
    assert len(body["items"]) == 5 and not {BOUGHT, VIEWED} & set(ids(body))


def _search(body: dict) -> None:
    assert body["items"] and body["user_id"] == "tour"


def _profile(body: dict) -> None:
    assert VIEWED in [r["item_id"] for r in body["recent"]] and BOUGHT in body["bought"]


def _upsert(body: dict) -> None:
    assert body == {"upserted": 1, "new": 1}


def _new_item_found(body: dict) -> None:
    assert "NEW1" in ids(body)[:5], ids(body)


def _assistant(body: dict) -> None:
    assert body["intent"] == "need" and body["products"] and body["citations"]


def _export(body: dict) -> None:
    assert {e["event_id"] for e in body["events"]} == {"tour-1", "tour-2"}


def _deleted(body: dict) -> None:
    assert body == {"user_id": "tour", "events_deleted": 2}


def _session_view(body: dict) -> None:
    assert body == {"accepted": 1, "duplicates": 0}


def _session_feed(body: dict) -> None:
    assert len(body["items"]) == 3 and body["user_id"] == "session:tour-s"
    assert body["fallback"] is None  # the view is history enough


def _signed_in(body: dict) -> None:
    assert [r["item_id"] for r in body["recent"]] == [BOUGHT, VIEWED]  # newest first
    assert body["session_id"] == "tour-s" and body["n_events"] == 2


def _metrics(text: str) -> None:
    assert "# TYPE" in text and "shoprec_" in text


#: what each tour command must answer, in the README's order: (a piece of the command, check)
EXPECT: list[tuple[str, Callable]] = [
    ("tour-1", _events),
    ('"event_id": "tour-2"}]}', _resent),
    ("/recommendations?n=5'", _feed),
    ("offset=5", _page_two),
    ("/v1/rank", _ranked),
    ("/similar", _similar),
    ("q=vitamin", _search),
    ("/profile", _profile),
    ("PUT", _upsert),
    ("q=glitter", _new_item_found),
    ("/v1/assistant", _assistant),
    ("/export", _export),
    ("DELETE", _deleted),
    ('"session_id": "tour-s", "item_id"', _session_view),
    ("/v1/sessions/tour-s/recommendations", _session_feed),
    ('"user_id": "tour-in", "session_id": "tour-s"', _session_view),
    ("/v1/users/tour-in/profile", _signed_in),
    ("/metrics", _metrics),
]


@pytest.mark.timeout(900)
def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    from shoprec.data.datasets import load_dataset
    from shoprec.serving.app import create_app
    from shoprec.serving.build import import_events

    assert shutil.which("curl"), "the README's tour uses curl"
    commands = tour_commands()
    assert len(commands) == len(EXPECT), commands
    settings = require_data()
    data = load_dataset("amazon-beauty", settings)
    engine = catalog_engine(data, settings, tmp_path)
    engine.ingest(import_events(data)[:20_000])  # some history: trending and neighbours
    with serve_in_thread(create_app(engine)) as url:
        for cmd, (piece, check) in zip(commands, EXPECT, strict=True):
            assert piece in cmd, (piece, cmd)
            assert cmd.startswith("curl -s ") and "localhost:8000" in cmd, cmd
            run = cmd.replace("localhost:8000", url.removeprefix("http://"))
            # as written, plus the HTTP status on a last line of its own
            status_line = " -w '\\n%{http_code}'"
            out = subprocess.run(
                run + status_line, shell=True, capture_output=True, text=True, timeout=60
            )
            assert out.returncode == 0, (cmd, out.stderr)
            body, _, status = out.stdout.rpartition("\n")
            assert status.startswith("2"), (cmd, status, body[:500])
            check(body if piece == "/metrics" else json.loads(body))
