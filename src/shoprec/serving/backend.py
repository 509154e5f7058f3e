"""Where the shoppers' states are folded: in this process (the embedded store, one process) or
in Redis, shared by replicas (:mod:`shoprec.serving.shared`). The engine picks one when it is
built; its writers call either the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from shoprec.data.keys import state_key
from shoprec.data.records import Event
from shoprec.online.state import UserState, absorbed, login_session
from shoprec.store.protocols import StateStore

if TYPE_CHECKING:  # the Redis client loads only where a shared store is used
    from shoprec.serving.shared import Fold, SharedState


class StateBackend(Protocol):
    """The shoppers' states and how events reach them."""

    states: StateStore[UserState]

    def reset(self) -> None:
        """Before the log is replayed at start-up."""

    def replayed(self, events: Sequence[Event], fold: Fold) -> None:
        """Events read back from the log at start-up, in order."""

    def ingested(
        self, events: Sequence[Event], fold: Fold, observe: Callable[[Sequence[Event]], None]
    ) -> None:
        """Events this process just stored, folded before they are acknowledged; ``observe``
        feeds them to the process-local figures (trending, clock, reviews) where no stream
        does."""

    def erase(self, user_id: str) -> None:
        """Erase the shopper's copies beyond the log and the states (after those are gone)."""

    def announce(self, keys: Sequence[str], review_ids: set[str]) -> None:
        """Tell the other processes serving the shop what they must drop from memory."""


class EmbeddedBackend:
    """States in this process: folded here, rebuilt from the log at every start; what this
    process stores is all there is, so it observes its own events at once."""

    def __init__(self, states: StateStore[UserState]) -> None:
        self.states = states

    def reset(self) -> None:
        self.states.clear()

    def replayed(self, events: Sequence[Event], fold: Fold) -> None:
        self._fold(events, fold)

    def ingested(
        self, events: Sequence[Event], fold: Fold, observe: Callable[[Sequence[Event]], None]
    ) -> None:
        self._fold(events, fold)
        observe(events)

    def erase(self, user_id: str) -> None:
        """Nothing: the log and the states were the only copies."""

    def announce(self, keys: Sequence[str], review_ids: set[str]) -> None:
        """Nothing: one process serves an embedded store."""

    def _fold(self, events: Sequence[Event], fold: Fold) -> None:
        states = self.states
        for event in events:
            key = state_key(event.user_id, event.session_id)
            state = states.get(key)
            anonymous = login_session(event)
            if anonymous is not None:  # signed in: the session's history moves to the shopper
                state = merge_session(states, anonymous, state)
            states.put(key, fold(state, [event]))


def merge_session(
    states: StateStore[UserState], anonymous: str, state: UserState | None
) -> UserState | None:
    """``state`` with the anonymous session's state folded in, that state removed (so it is
    folded once: a second login event finds nothing left to fold, only what the session did
    anonymously since). The log keeps every event, so a replay at start-up redoes the merge at
    the same event."""
    session = states.get(anonymous)
    if session is None:
        return state
    states.delete(anonymous)
    return absorbed(state, session)


class SharedBackend:
    """States in Redis, shared by replicas: built once by the parent before any replica serves
    (:meth:`SharedState.rebuild`), folded at ingest through the pending lists; every replica
    observes every event from the stream (:class:`~shoprec.serving.shared.StreamFollower`)."""

    def __init__(self, shared: SharedState) -> None:
        self.shared = shared
        self.states: StateStore[UserState] = shared.states

    def reset(self) -> None:
        """Nothing: the shared states outlive this process."""

    def replayed(self, events: Sequence[Event], fold: Fold) -> None:
        """Nothing: the shared states are built once, by the parent."""

    def ingested(
        self, events: Sequence[Event], fold: Fold, observe: Callable[[Sequence[Event]], None]
    ) -> None:
        self.shared.fold(events, fold)  # observed when the stream brings them back

    def erase(self, user_id: str) -> None:
        from shoprec.store.redis_export import erase_user

        erase_user(self.shared.log, user_id)  # the training-export files copied from the stream

    def announce(self, keys: Sequence[str], review_ids: set[str]) -> None:
        with self.shared.breaker.guard():  # digests only (serving/erasures.py)
            self.shared.erasures.announce(keys, review_ids)
