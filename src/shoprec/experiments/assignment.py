"""Deterministic, sticky assignment of shoppers to variants by hashing."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def bucket(experiment: str, user_id: str) -> float:
    """A uniform number in [0, 1) fixed by (experiment, user): the same user always lands in
    the same place, and different experiments split users independently.

    Examples
    --------
    >>> bucket("e1", "u1") == bucket("e1", "u1")
    True
    >>> 0.0 <= bucket("e1", "u1") < 1.0
    True
    """
    digest = hashlib.blake2b(f"{experiment}\x00{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def pick(u: float, shares: Sequence[float]) -> int:
    """The variant whose slice of [0, 1) holds ``u``, slices sized by ``shares`` (sum 1).

    Examples
    --------
    >>> pick(0.1, [0.5, 0.5]), pick(0.7, [0.5, 0.5]), pick(0.999, [0.2, 0.8])
    (0, 1, 1)
    """
    total = 0.0
    for k, s in enumerate(shares):
        total += s
        if u < total:
            return k
    # rounding can leave the last slice a hair short of 1
    return max(k for k, s in enumerate(shares) if s > 0)
