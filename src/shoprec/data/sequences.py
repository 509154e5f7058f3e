"""Interaction tables grouped into :class:`SequenceData`, shared by every loader and the
synthetic shop."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoprec.data.idmap import IdMap
from shoprec.data.interactions import SequenceData
from shoprec.data.records import Item


def build_sequence_data(inter: pd.DataFrame, items: list[Item] | None, name: str) -> SequenceData:
    """Group an interaction table into per-user sequences; items keep catalog order first."""
    item_map = IdMap(it.item_id for it in items) if items else IdMap()
    by_id = {it.item_id: it for it in items} if items else {}
    inter = inter.copy()
    inter["_order"] = np.arange(len(inter))
    sort_cols = ["user_id"]
    if "position" in inter.columns:
        sort_cols.append("position")
    elif "timestamp" in inter.columns:
        sort_cols.append("timestamp")
    sort_cols.append("_order")
    # users keep their first-appearance order so internal ids are stable across loads
    first_seen = inter.groupby("user_id", sort=False)["_order"].min()
    inter["_user_rank"] = inter["user_id"].map(first_seen)
    inter = inter.sort_values(["_user_rank", *sort_cols[1:]], kind="stable")
    item_idx = np.fromiter((item_map.add(i) for i in inter["item_id"]), np.int64, len(inter))
    user_map = IdMap()
    users = inter["user_id"].to_numpy()
    bounds = np.flatnonzero(users[1:] != users[:-1]) + 1 if len(users) else np.zeros(0, np.int64)
    starts = np.concatenate([[0], bounds]) if len(users) else np.zeros(0, np.int64)
    ends = np.concatenate([bounds, [len(users)]]) if len(users) else np.zeros(0, np.int64)
    has_ts = "timestamp" in inter.columns and inter["timestamp"].notna().all()
    ts = inter["timestamp"].to_numpy(np.float64) if has_ts else None
    sequences, stamps = [], []
    for s, e in zip(starts, ends, strict=True):
        user_map.add(str(users[s]))
        sequences.append(item_idx[s:e].copy())
        if ts is not None:
            stamps.append(ts[s:e].copy())
    catalog = [by_id.get(ext) or Item(item_id=ext) for ext in item_map.to_list()]
    return SequenceData(
        name=name,
        sequences=sequences,
        users=user_map,
        items=item_map,
        catalog=catalog,
        timestamps=stamps if ts is not None else None,
    )
