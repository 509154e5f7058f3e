"""Storage contracts: the durable event log, the item catalog and the per-user state store.

Implementations (embedded SQLite, Redis, and an in-memory state store) are checked against these
protocols by the contract tests in ``tests/test_store.py``; code elsewhere should depend on the
protocols only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from shoprec.data.records import Event, Item

S = TypeVar("S")


@runtime_checkable
class EventLog(Protocol):
    """An append-only, durable, idempotent log of :class:`~shoprec.data.records.Event`.

    Every stored event gets a sequence number (``seq``): a strictly increasing integer, never
    reused, not even after :meth:`delete_user` erases events.
    """

    def append(self, events: Sequence[Event]) -> list[bool]:
        """Store ``events`` in one transaction (all or none).

        Parameters
        ----------
        events : the events, in the order they are to be stored.

        Returns
        -------
        list[bool]
            Per event, ``True`` if it was stored, ``False`` if its non-``None`` ``event_id``
            was already stored (earlier, or earlier in the same batch). Events whose
            ``event_id`` is ``None`` are always stored. Once this returns, the stored events
            survive a crash of the process.
        """
        ...

    def replay(self, after: int = 0, batch_size: int = 10_000) -> Iterator[tuple[int, Event]]:
        """Yield ``(seq, event)`` for every stored event with ``seq > after``, in append order.

        Parameters
        ----------
        after : a checkpoint: the last ``seq`` already consumed (0 = from the start).
        batch_size : how many events to fetch from storage at a time, ``>= 1``.
        """
        ...

    def user_events(self, user_id: str) -> list[Event]:
        """All stored events of ``user_id``, in append order."""
        ...

    def delete_user(self, user_id: str) -> int:
        """Erase every event of ``user_id`` and return how many were erased.

        Raises
        ------
        ValueError
            If ``user_id`` is empty (that would erase every anonymous event).
        """
        ...

    def delete_session(self, session_id: str) -> int:
        """Erase the anonymous events (no user id) of session ``session_id`` and return how
        many were erased: the erasure of a user who signed in from that session.

        Raises
        ------
        ValueError
            If ``session_id`` is empty.
        """
        ...

    def last_seq(self) -> int:
        """The highest ``seq`` ever assigned (0 if nothing was ever stored); never decreases."""
        ...

    def count(self) -> int:
        """Number of events currently stored."""
        ...

    def close(self) -> None:
        """Release the storage; further calls are errors. Closing twice is allowed."""
        ...


@runtime_checkable
class ItemStore(Protocol):
    """The persisted item catalog, keyed by ``item_id``."""

    def upsert(self, items: Sequence[Item], added_at: float) -> None:
        """Insert new items or replace existing ones (all fields), in one transaction.

        An item keeps the ``added_at`` of its first insertion and its position in
        :meth:`all`; within one call, a later item with the same ``item_id`` wins.
        """
        ...

    def get(self, item_id: str) -> Item | None:
        """The item with ``item_id``, or ``None``."""
        ...

    def all(self) -> list[tuple[Item, float]]:
        """Every ``(item, added_at)``, in first-insertion order."""
        ...

    def changed_since(self, rev: int) -> tuple[list[tuple[Item, float]], int]:
        """The items another handle (or process) may have changed: every ``(item, added_at)``
        upserted after catalog revision ``rev`` (each :meth:`upsert` is one revision), and the
        revision to pass next time. ``rev=0`` answers every item upserted since revisions exist.
        """
        ...

    def count(self) -> int:
        """Number of items."""
        ...

    def close(self) -> None:
        """Release the storage; closing twice is allowed."""
        ...


@runtime_checkable
class StateStore(Protocol[S]):
    """Per-user state objects, opaque to the store (it neither copies nor inspects them)."""

    def get(self, user_id: str) -> S | None:
        """The state of ``user_id``, or ``None``."""
        ...

    def put(self, user_id: str, state: S) -> None:
        """Set (or replace) the state of ``user_id``."""
        ...

    def delete(self, user_id: str) -> bool:
        """Remove the state of ``user_id``; ``True`` if there was one."""
        ...

    def update(
        self, key: str, fn: Callable[[S | None], tuple[S | None, Mapping[str, S]]]
    ) -> tuple[S | None, S | None]:
        """Atomically, also against other processes on the same store: read ``key``'s state,
        ``new, puts = fn(old)``, then store ``new`` (None: delete the key) and every state
        of ``puts`` (other keys, e.g. a running total) in one transaction. ``fn`` may be
        called again when another writer got there first, so it must be pure. Returns
        ``(old, new)`` of the attempt that committed."""
        ...

    def users(self) -> list[str]:
        """Users that have a state."""
        ...

    def __len__(self) -> int:
        """Number of users with a state."""
        ...

    def clear(self) -> None:
        """Remove every state."""
        ...
