"""Evaluation splits: leave-one-out in sequence order (docs/benchmarks.md, offline protocol)
and temporal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LeaveOneOut:
    """Per user: history ``train[u]``, validation target ``valid[u]``, test target ``test[u]``.

    At validation time a user's history is ``train[u]``; at test time it is ``train[u]`` plus
    ``valid[u]`` (see :meth:`test_histories`). Users with fewer than 3 items are left out; ``users``
    holds the internal user ids (1-based) that were kept.
    """

    users: np.ndarray  # (U,) int64, internal user ids
    train: list[np.ndarray]
    valid: np.ndarray  # (U,) int64 item ids
    test: np.ndarray  # (U,) int64 item ids
    #: full timestamp arrays of the kept users (same order as ``users``), or None
    times: list[np.ndarray] | None = None

    def train_times(self) -> list[np.ndarray] | None:
        """Timestamps of ``train[u]``."""
        return None if self.times is None else [t[:-2] for t in self.times]

    def test_times(self) -> list[np.ndarray] | None:
        """Timestamps of :meth:`test_histories`."""
        return None if self.times is None else [t[:-1] for t in self.times]

    def test_histories(self) -> list[np.ndarray]:
        """``train[u] + [valid[u]]``: what each user has seen when the test target comes."""
        return [np.append(h, v) for h, v in zip(self.train, self.valid, strict=True)]


def leave_one_out(
    sequences: list[np.ndarray], timestamps: list[np.ndarray] | None = None
) -> LeaveOneOut:
    """Last item = test, second-to-last = validation, the rest = training history.

    Parameters
    ----------
    sequences : per-user int64 item arrays, oldest first (order = ``position``).
    timestamps : optional per-user times, same shapes; kept for time-aware models.
    """
    keep = [u for u, s in enumerate(sequences) if len(s) >= 3]
    return LeaveOneOut(
        users=np.asarray(keep, dtype=np.int64) + 1,
        train=[sequences[u][:-2] for u in keep],
        valid=np.asarray([sequences[u][-2] for u in keep], dtype=np.int64),
        test=np.asarray([sequences[u][-1] for u in keep], dtype=np.int64),
        times=None if timestamps is None else [timestamps[u] for u in keep],
    )


@dataclass
class TemporalSplit:
    """Global time cut: interactions before ``cutoff`` train, at or after it test."""

    cutoff: float
    train: list[np.ndarray]
    test: list[np.ndarray]


def temporal_split(
    sequences: list[np.ndarray], timestamps: list[np.ndarray], test_fraction: float = 0.1
) -> TemporalSplit:
    """Split every user at one global timestamp so that ``test_fraction`` of events come after it.

    Needs real timestamps; the test part of a user holds only items after the cut.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    all_ts = np.concatenate(timestamps)
    cutoff = float(np.quantile(all_ts, 1.0 - test_fraction))
    train, test = [], []
    for seq, ts in zip(sequences, timestamps, strict=True):
        before = ts < cutoff
        train.append(seq[before])
        test.append(seq[~before])
    return TemporalSplit(cutoff=cutoff, train=train, test=test)
