"""Batching of user sequences for next-item training: left-padded, length-bucketed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


def pad_left(seqs: list[np.ndarray], length: int) -> np.ndarray:
    """``(B, length)`` int64, each row the last ``length`` items right-aligned, 0-padded."""
    out = np.zeros((len(seqs), length), dtype=np.int64)
    for i, s in enumerate(seqs):
        s = s[-length:]
        if len(s):
            out[i, length - len(s) :] = s
    return out


def next_item_batches(
    histories: list[np.ndarray],
    max_len: int,
    batch_size: int,
    rng: np.random.Generator,
    gaps: list[np.ndarray] | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield ``(inputs, targets)`` ``(B, T)`` where ``targets[:, t]`` is the item after
    ``inputs[:, t]``, plus the inputs' gap buckets when ``gaps`` (per history) are given.
    Users are bucketed by length so ``T`` (<= max_len) stays short."""
    keep = [i for i, h in enumerate(histories) if len(h) >= 2]
    usable = [histories[i][-(max_len + 1) :] for i in keep]
    usable_gaps = None if gaps is None else [gaps[i][-(max_len + 1) :] for i in keep]
    lengths = np.array([len(h) for h in usable])
    # sort by length with random tie order, cut into batches, shuffle the batches
    order = np.lexsort((rng.random(len(usable)), lengths))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        T = int(lengths[chunk].max()) - 1
        seqs = [usable[i] for i in chunk]
        inp = pad_left([s[:-1] for s in seqs], T)
        tgt = pad_left([s[1:] for s in seqs], T)
        if usable_gaps is None:
            yield torch.from_numpy(inp), torch.from_numpy(tgt)
        else:
            g = pad_left([usable_gaps[i][:-1] for i in chunk], T)
            yield torch.from_numpy(inp), torch.from_numpy(tgt), torch.from_numpy(g)
