"""bench/replay.py's pure helpers: the event-quantile cut, the stream order, the chunks of
distinct shoppers and the per-event metrics (the bench itself runs servers; not in the suite)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
_spec = importlib.util.spec_from_file_location("replay_bench", BENCH / "replay.py")
replay = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(replay)


def test_the_cut_is_the_event_quantile_and_ties_go_to_the_stream() -> None:
    ts = np.array([1, 1, 1, 1, 1, 1, 9, 9, 10, 10], dtype=float)
    cut = replay.split_at_event_quantile(ts, 0.7)
    assert cut == 9.0  # the 8th event's time; the span reading would put 7/10 of it at 7.3
    assert (ts < cut).sum() == 6  # both events at 9 go to the stream, none split


def test_order_keeps_each_shoppers_sequence_and_interleaves_ties() -> None:
    df = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b"],
            "item_id": ["1", "2", "3", "4", "5"],
            "timestamp": [5.0, 5.0, 4.0, 5.0, 5.0],
        }  # fmt: skip
    )
    out = replay.ordered(df)
    assert out["item_id"].tolist() == ["3", "1", "4", "2", "5"]
    assert replay.chunks(out["user_id"].tolist(), 1000) == [(0, 1), (1, 3), (3, 5)]


def test_chunks_hold_distinct_shoppers_and_respect_the_limit() -> None:
    users = ["a", "b", "c", "a", "d", "e", "f"]
    assert replay.chunks(users, 3) == [(0, 3), (3, 6), (6, 7)]
    assert replay.chunks(users, 10) == [(0, 3), (3, 7)]


def test_rank_metrics() -> None:
    assert replay.rank_metrics(["x", "y", "z"], "x") == (1.0, 1.0)
    assert replay.rank_metrics(["x", "y", "z"], "z") == (1.0, 1 / math.log2(4))
    assert replay.rank_metrics(["x"] * 10 + ["t"], "t") == (0.0, 0.0)
