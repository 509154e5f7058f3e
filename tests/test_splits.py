"""Splits: leave-one-out by hand, temporal cut, and the published Beauty split user for user."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shoprec.data.interactions import SequenceData
from shoprec.data.splits import leave_one_out, temporal_split
from shoprec.settings import Settings


def _seqs(*rows: list[int]) -> list[np.ndarray]:
    return [np.asarray(r, dtype=np.int64) for r in rows]


def test_leave_one_out_by_hand() -> None:
    split = leave_one_out(_seqs([1, 2, 3, 4, 5], [7, 8], [9, 3, 2], [4, 4, 6, 1]))
    assert split.users.tolist() == [1, 3, 4]  # user 2 has fewer than 3 items
    assert [h.tolist() for h in split.train] == [[1, 2, 3], [9], [4, 4]]
    assert split.valid.tolist() == [4, 3, 6]
    assert split.test.tolist() == [5, 2, 1]
    assert [h.tolist() for h in split.test_histories()] == [[1, 2, 3, 4], [9, 3], [4, 4, 6]]
    assert split.valid.dtype == np.int64 and split.test.dtype == np.int64


def test_leave_one_out_does_not_touch_input() -> None:
    seqs = _seqs([1, 2, 3, 4])
    split = leave_one_out(seqs)
    split.train[0][0] = 99
    split.test_histories()[0][0] = 77
    assert seqs[0].tolist()[1:] == [2, 3, 4]


def test_temporal_split() -> None:
    seqs = _seqs([1, 2, 3], [4, 5], [6, 7, 8, 9, 10])
    stamps = [np.array([1.0, 5.0, 9.0]), np.array([2.0, 10.0]), np.array([3.0, 4.0, 6.0, 7.0, 8.0])]
    split = temporal_split(seqs, stamps, test_fraction=0.2)
    assert 8.0 < split.cutoff <= 9.0  # the last 2 of 10 events fall after the cut
    assert [t.tolist() for t in split.train] == [[1, 2], [4], [6, 7, 8, 9, 10]]
    assert [t.tolist() for t in split.test] == [[3], [5], []]
    for tr, te, ts, seq in zip(split.train, split.test, stamps, seqs, strict=True):
        assert len(tr) + len(te) == len(seq)
        assert np.all(ts[: len(tr)] < split.cutoff) and np.all(ts[len(tr) :] >= split.cutoff)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_temporal_split_rejects_bad_fraction(fraction: float) -> None:
    with pytest.raises(ValueError):
        temporal_split(_seqs([1]), [np.array([1.0])], test_fraction=fraction)


def test_beauty_split_is_the_published_one(beauty: SequenceData, data_settings: Settings) -> None:
    """Internal ids and the leave-one-out split equal ``raw/s3rec_Beauty.txt``, user for user."""
    raw = Path(data_settings.data_dir) / "amazon_beauty" / "raw" / "s3rec_Beauty.txt"
    lines = [line.split() for line in raw.read_text().splitlines() if line.strip()]
    assert (beauty.n_users, beauty.n_items, beauty.n_interactions) == (22363, 12101, 198502)
    assert len(lines) == beauty.n_users
    split = leave_one_out(beauty.sequences)
    assert len(split.users) == beauty.n_users  # every 5-core user has >= 5 items
    for row, parts in enumerate(lines):
        uid, items = int(parts[0]), [int(p) for p in parts[1:]]
        assert split.users[row] == uid, f"line {row + 1}: user id"
        assert beauty.sequences[uid - 1].tolist() == items, f"user {uid}: item ids"
        assert split.train[row].tolist() == items[:-2], f"user {uid}: train"
        assert (split.valid[row], split.test[row]) == (items[-2], items[-1]), f"user {uid}"


def test_beauty_ids_match_the_csv_indices(beauty: SequenceData, data_settings: Settings) -> None:
    import pandas as pd

    folder = Path(data_settings.data_dir) / "amazon_beauty"
    items = pd.read_csv(folder / "items.csv", usecols=["item_id", "item_idx"], dtype=str)
    expected = items["item_idx"].astype(int).tolist()
    assert [beauty.items.index(i) for i in items["item_id"]] == expected
    inter = pd.read_csv(folder / "interactions.csv", usecols=["user_id", "user_idx"], dtype=str)
    first = inter.drop_duplicates("user_id")
    expected = first["user_idx"].astype(int).tolist()
    assert [beauty.users.index(u) for u in first["user_id"]] == expected
