"""Shopper keys: a signed-in shopper is keyed by the user id, an anonymous one by
``session:<session id>``. Online state, experiments, the stores, training exports and serving
all key shoppers this way, so the convention lives here, below all of them."""

from __future__ import annotations

#: Prefix of an anonymous session's key.
SESSION_PREFIX = "session:"


def session_key(session_id: str | None) -> str:
    """The key of the anonymous session ``session_id`` (``session:`` when it is unknown)."""
    return f"{SESSION_PREFIX}{session_id or ''}"


def state_key(user_id: str, session_id: str | None) -> str:
    """The key of an event's shopper: the user id, or ``session:<id>`` when anonymous."""
    return user_id if user_id else session_key(session_id)


def known_shopper_key(user_id: str, session_id: str | None) -> str:
    """Like :func:`state_key`, but ``""`` when the event names neither a user nor a session
    (attribution skips such events rather than pooling them under ``session:``)."""
    return user_id or (session_key(session_id) if session_id else "")


def is_session_key(key: str) -> bool:
    """Whether ``key`` names an anonymous session rather than a user."""
    return key.startswith(SESSION_PREFIX)
