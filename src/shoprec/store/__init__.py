"""Durable storage: the event log, the item catalog and per-user state.

Code elsewhere depends on the protocols (:class:`EventLog`, :class:`ItemStore`,
:class:`StateStore`); :func:`open_embedded` opens the single-file SQLite implementations.
"""

from __future__ import annotations

from pathlib import Path

from shoprec.store.memory import MemoryStateStore
from shoprec.store.protocols import EventLog, ItemStore, StateStore
from shoprec.store.sqlite import Durability, SQLiteEventLog, SQLiteItemStore

__all__ = [
    "DB_FILENAME",
    "Durability",
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


def open_embedded(
    dir: Path, durability: Durability = "fsync"
) -> tuple[SQLiteEventLog, SQLiteItemStore]:
    """Open the event log and the item store in ``dir / "shoprec.db"`` (folders created).

    Parameters
    ----------
    dir : the folder holding the database; created with its parents if missing.
    durability : passed to :class:`SQLiteEventLog`: ``"fsync"`` (default, as the
        ``durability`` setting's) survives power loss, ``"os"`` a crash of the process only.
        The server and the CLI pass ``Settings().durability`` (``SHOPREC_DURABILITY``).

    Returns
    -------
    tuple[SQLiteEventLog, SQLiteItemStore]
        Two connections to the same file; close both.
    """
    folder = Path(dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DB_FILENAME
    events = SQLiteEventLog(path, durability=durability)
    try:
        items = SQLiteItemStore(path)
    except BaseException:
        events.close()
        raise
    return events, items
