"""Training data exported from the event log, so that training reads what the store holds now.

A snapshot through the :class:`~shoprec.store.protocols.EventLog` protocol (SQLite or the
Redis Stream alike): a shopper erased with ``DELETE /v1/users/{id}`` is no longer in the log,
so the next export, and every artifact trained on it, leaves them out (docs/architecture.md,
invariants: erasure).
A snapshot rather than an incremental copy on purpose: a copy kept between runs would have to
replay every erasure, a snapshot cannot hold what was erased before it was taken.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from shoprec.data.event_types import is_item_signal
from shoprec.data.idmap import IdMap
from shoprec.data.interactions import SequenceData
from shoprec.data.keys import session_key, state_key
from shoprec.store.protocols import EventLog, ItemStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportConfig:
    """What the export keeps.

    Attributes
    ----------
    types : event types that become interactions; None: every type whose role is positive or
        purchase (the built-in item events and the shop's declared types of those roles,
        :mod:`shoprec.data.event_types`).
    min_length : shoppers with fewer interactions (after collapsing) are left out; 3 is what
        leave-one-out needs for one training, one validation and one test item.
    collapse_repeats : consecutive events on the same item count once (view, click, add to
        cart of one product is one step of the sequence, not three).
    sessions : include anonymous sessions (``session:<id>``) as sequences of their own.
    """

    types: frozenset[str] | None = None
    min_length: int = 3
    collapse_repeats: bool = True
    sessions: bool = True

    def __post_init__(self) -> None:
        if self.min_length < 1:
            raise ValueError("min_length must be >= 1")
        if self.types is not None and not self.types:
            raise ValueError("types must not be empty")


def export_sequences(
    events: EventLog,
    items: ItemStore,
    name: str = "store",
    config: ExportConfig | None = None,
) -> SequenceData:
    """Every shopper's interactions now in ``events``, as training sequences.

    Parameters
    ----------
    events : the event log (any implementation); read with ``replay()``, in append order.
    items : the catalog; it fixes the item id map (internal ids in first-insertion order),
        so exports taken at different times share item ids. Events on items missing from it
        are skipped.
    name : the dataset name given to the result (artifacts are saved under it).
    config : what to keep.

    Returns
    -------
    SequenceData
        Per shopper (id map ``users``: user ids, ``session:<id>`` for anonymous sessions)
        item ids ``(L,)`` int64 and timestamps ``(L,)`` float64, oldest first (ties keep log
        order). ``extra`` holds ``event_log_seq`` (the log position of the snapshot) and counts.
    """
    cfg = config or ExportConfig()
    catalog = [it for it, _ in items.all()]
    item_map = IdMap(it.item_id for it in catalog)
    last_seq = events.last_seq()  # read first: events appended during the export are left out
    per_user: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    read = skipped = 0
    for seq, e in events.replay():
        if seq > last_seq:
            break
        read += 1
        # signed in (the login merge): the session's sequence so far is the shopper's
        if e.user_id and e.session_id and (moved := per_user.pop(session_key(e.session_id), [])):
            per_user[e.user_id] += moved
        wanted = is_item_signal(e.type) if cfg.types is None else e.type in cfg.types
        if not wanted or not e.item_id or (not e.user_id and not cfg.sessions):
            continue
        idx = item_map.get(e.item_id)
        if not idx:
            skipped += 1
            continue
        per_user[state_key(e.user_id, e.session_id)].append((e.timestamp, seq, idx))
    users, sequences, times = IdMap(), [], []
    for user, rows in per_user.items():
        rows.sort()  # by time, then log order
        seq_items = np.fromiter((i for _, _, i in rows), np.int64, len(rows))
        seq_times = np.fromiter((t for t, _, _ in rows), np.float64, len(rows))
        if cfg.collapse_repeats and len(seq_items) > 1:
            keep = np.r_[True, seq_items[1:] != seq_items[:-1]]
            seq_items, seq_times = seq_items[keep], seq_times[keep]
        if len(seq_items) < cfg.min_length:
            continue
        users.add(user)
        sequences.append(seq_items)
        times.append(seq_times)
    log.info(
        "exported %d shoppers, %d interactions from %d events (log seq %d; %d on unknown items)",
        len(sequences),
        sum(len(s) for s in sequences),
        read,
        last_seq,
        skipped,
    )
    return SequenceData(
        name=name,
        sequences=sequences,
        users=users,
        items=item_map,
        catalog=catalog,
        timestamps=times,
        extra={"event_log_seq": last_seq, "events_read": read, "unknown_items": skipped},
    )
