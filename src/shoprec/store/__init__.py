"""Durable storage: the event log, the item catalog and per-user state.

Code elsewhere depends on the protocols (:class:`EventLog`, :class:`ItemStore`,
:class:`StateStore`); :func:`open_embedded` opens the single-file SQLite implementations.
"""

from __future__ import annotations

from pathlib import Path

from shoprec.store.memory import MemoryStateStore
from shoprec.store.protocols import EventLog, ItemStore, StateStore
from shoprec.store.sqlite import SQLiteEventLog, SQLiteItemStore

__all__ = [
    "DB_FILENAME",
    "EventLog",
    "ItemStore",
    "MemoryStateStore",
    "SQLiteEventLog",
    "SQLiteItemStore",
    "StateStore",
    "open_embedded",
]

#: The database file :func:`open_embedded` creates in its folder.
DB_FILENAME = "shoprec.db"


def open_embedded(dir: Path, fsync: bool = False) -> tuple[SQLiteEventLog, SQLiteItemStore]:
    """Open the event log and the item store in ``dir / "shoprec.db"`` (folders created).

    Parameters
    ----------
    dir : the folder holding the database; created with its parents if missing.
    fsync : passed to :class:`SQLiteEventLog`: ``True`` survives power loss, ``False``
        (default) survives a crash of the process.

    Returns
    -------
    tuple[SQLiteEventLog, SQLiteItemStore]
        Two connections to the same file; close both.
    """
    folder = Path(dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DB_FILENAME
    events = SQLiteEventLog(path, fsync=fsync)
    try:
        items = SQLiteItemStore(path)
    except BaseException:
        events.close()
        raise
    return events, items
