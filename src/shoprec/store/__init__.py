"""Durable storage: the event log, the item catalog and per-user state.

Code elsewhere depends on the protocols (:class:`EventLog`, :class:`ItemStore`,
:class:`StateStore`) and on :class:`~shoprec.store.errors.StoreUnavailable`, which every backend
raises when it cannot be reached. Two backends:

- embedded (``sqlite.py``, ``sqlite_state.py``): one SQLite file per shop, one process;
  :func:`open_embedded` opens it.
- Redis (``redis_*.py``): shared by API replicas: the event log (``redis_log``), the catalog
  (``redis_items``), per-shopper state (``redis_state``), the connection and its breaker
  (``redis_health``), consumer groups (``redis_groups``) and the training export
  (``redis_export``). Importing this package does not import ``redis``.

:func:`locate` and :func:`open_stores` choose the backend from a ``--store`` value (a folder or
a Redis URL). The stores import only :mod:`shoprec.data` (the records they hold).
"""

from __future__ import annotations

from shoprec.store.backend import (
    DB_FILENAME,
    REDIS_SCHEMES,
    StoreLocation,
    locate,
    open_embedded,
    open_stores,
)
from shoprec.store.errors import StoreUnavailable
from shoprec.store.memory import MemoryStateStore
from shoprec.store.protocols import EventLog, ItemStore, StateStore
from shoprec.store.sqlite import Durability, SQLiteEventLog
from shoprec.store.sqlite_items import SQLiteItemStore

__all__ = [
    "DB_FILENAME",
    "REDIS_SCHEMES",
    "Durability",
    "EventLog",
    "ItemStore",
    "MemoryStateStore",
    "SQLiteEventLog",
    "SQLiteItemStore",
    "StateStore",
    "StoreLocation",
    "StoreUnavailable",
    "locate",
    "open_embedded",
    "open_stores",
]
