"""Choosing the backend from where the stores are: a Redis URL (``redis://``, ``rediss://``,
``unix://``; shared by API replicas) or a folder (the embedded single-file SQLite store).

Every caller that takes a ``--store`` (the server's build, ``train --from-store``,
``export-events``) decides through :func:`locate`, so the schemes are listed once. The Redis
modules are imported only when a Redis URL is opened: the embedded path never loads ``redis``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shoprec.store.protocols import EventLog, ItemStore
from shoprec.store.sqlite import Durability, SQLiteEventLog
from shoprec.store.sqlite_items import SQLiteItemStore

#: URL schemes that name a Redis server rather than a folder.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: The database file :func:`open_embedded` creates in its folder.
DB_FILENAME = "shoprec.db"


@dataclass(frozen=True)
class StoreLocation:
    """Where a shop's stores are: a Redis server (``redis_url``) or a folder, never both."""

    redis_url: str | None = None
    folder: Path | None = None


def locate(where: str | Path) -> StoreLocation:
    """A ``--store`` value as a Redis URL (one of :data:`REDIS_SCHEMES`) or else a folder."""
    text = str(where)
    if text.startswith(REDIS_SCHEMES):
        return StoreLocation(redis_url=text)
    return StoreLocation(folder=Path(where))


def open_stores(
    where: str | Path,
    durability: Durability = "fsync",
    redis_prefix: str = "shoprec:",
    redis_timeout_s: float = 0.5,
) -> tuple[EventLog, ItemStore]:
    """The event log and item store at ``where`` (see :func:`locate`); close both.

    Parameters
    ----------
    where : a store folder (:func:`open_embedded`) or a Redis URL.
    durability : the embedded log's (:class:`SQLiteEventLog`); Redis has its own (AOF).
    redis_prefix, redis_timeout_s : the Redis stores' key prefix and socket timeouts.
    """
    at = locate(where)
    if at.folder is not None:
        return open_embedded(at.folder, durability)
    from shoprec.store.redis_health import Breaker, connect
    from shoprec.store.redis_items import RedisItemStore
    from shoprec.store.redis_log import RedisEventLog

    assert at.redis_url is not None
    client, breaker = connect(at.redis_url, redis_timeout_s), Breaker()
    return (
        RedisEventLog(client, redis_prefix, breaker=breaker),
        RedisItemStore(client, redis_prefix, breaker=breaker),
    )


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
