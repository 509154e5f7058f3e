"""In-process :class:`~shoprec.store.protocols.StateStore`: a dict behind a lock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

S = TypeVar("S")


class MemoryStateStore(Generic[S]):
    """Per-user state objects in a ``dict``, safe to call from several threads.

    The store keeps references: it neither copies nor inspects the states, so a caller that
    mutates a state it got from :meth:`get` must synchronise that itself. Nothing persists
    beyond the process.

    Examples
    --------
    >>> store: MemoryStateStore[list[str]] = MemoryStateStore()
    >>> store.put("u1", ["a"])
    >>> store.get("u1"), store.get("u2"), len(store)
    (['a'], None, 1)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, S] = {}

    def get(self, user_id: str) -> S | None:
        """The state of ``user_id``, or ``None``."""
        with self._lock:
            return self._states.get(user_id)

    def put(self, user_id: str, state: S) -> None:
        """Set (or replace) the state of ``user_id``."""
        with self._lock:
            self._states[user_id] = state

    def delete(self, user_id: str) -> bool:
        """Remove the state of ``user_id``; ``True`` if there was one."""
        with self._lock:
            return self._states.pop(user_id, None) is not None

    def update(
        self, key: str, fn: Callable[[S | None], tuple[S | None, Mapping[str, S]]]
    ) -> tuple[S | None, S | None]:
        """``fn(old)`` -> ``(new, puts)``, applied under the lock (see the protocol)."""
        with self._lock:
            old = self._states.get(key)
            new, puts = fn(old)
            if new is None:
                self._states.pop(key, None)
            else:
                self._states[key] = new
            self._states.update(puts)
        return old, new

    def users(self) -> list[str]:
        """Users that have a state, in the order their state was first put."""
        with self._lock:
            return list(self._states)

    def __len__(self) -> int:
        """Number of users with a state."""
        with self._lock:
            return len(self._states)

    def clear(self) -> None:
        """Remove every state."""
        with self._lock:
            self._states.clear()
