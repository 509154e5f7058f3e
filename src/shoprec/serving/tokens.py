"""Shopper tokens: short-lived JWTs (HS256, PyJWT) signed with the shop's secret, naming the one
shopper (``sub``) and/or anonymous session (``sid``) a browser or app may act for.

The shop's backend mints them (``POST /v1/tokens`` with a write key, ``shoprec token``, or
:func:`mint` with the secret) and hands them to the shopper's page; the server checks the
signature, the audience, the expiry and that the token lives no longer than the configured
maximum. Nothing is stored: a token is valid until it expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

#: The ``aud`` claim: a JWT the shop signs with the same secret for something else is refused.
AUDIENCE = "shoprec-shopper"
ALGORITHM = "HS256"
#: The shortest secret accepted: HS256 needs at least as many bytes as its hash (RFC 7518).
MIN_SECRET = 32


class TokenError(ValueError):
    """Why a token is refused (said to the caller as is: nothing secret in it)."""


@dataclass(frozen=True)
class Shopper:
    """The shopper a verified token names: ``user_id`` and/or ``session_id`` (one at least),
    and when the token expires (epoch seconds)."""

    user_id: str | None
    session_id: str | None
    expires_at: float

    @property
    def label(self) -> str:
        """How messages and the rate limiter name the holder."""
        return f"user {self.user_id!r}" if self.user_id else f"session {self.session_id!r}"


def looks_like_token(value: str) -> bool:
    """A compact JWT: three dot-separated parts (server keys are not meant to have two dots)."""
    return value.count(".") == 2


def mint(
    secret: str,
    user_id: str | None,
    session_id: str | None,
    ttl_s: float,
    now: float | None = None,
) -> tuple[str, float]:
    """A token for ``user_id`` (and/or the anonymous ``session_id``) valid ``ttl_s`` seconds;
    returns it with its expiry (epoch seconds)."""
    if not user_id and not session_id:
        raise TokenError("user_id or session_id is required")
    if len(secret) < MIN_SECRET:
        raise TokenError(f"the token secret must have at least {MIN_SECRET} characters")
    issued = int(now if now is not None else time.time())
    expires = issued + max(1, int(ttl_s))
    claims: dict[str, object] = {"aud": AUDIENCE, "iat": issued, "exp": expires}
    if user_id:
        claims["sub"] = user_id
    if session_id:
        claims["sid"] = session_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM), float(expires)


def verify(secret: str, token: str, max_ttl_s: float) -> Shopper:
    """The shopper ``token`` names; :class:`TokenError` saying why when it is expired, signed
    with another secret, malformed, or minted for longer than ``max_ttl_s``."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never "none", never an algorithm the token picks
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("shopper token expired: ask the shop for a new one") from None
    except jwt.InvalidSignatureError:
        raise TokenError("shopper token: bad signature (not signed by this shop)") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"shopper token invalid: {exc}") from None
    user, session = claims.get("sub"), claims.get("sid")
    if not (isinstance(user, str) and user) and not (isinstance(session, str) and session):
        raise TokenError("shopper token names no shopper (sub) or session (sid)")
    if float(claims["exp"]) - float(claims["iat"]) > max_ttl_s:
        raise TokenError(f"shopper token lives longer than the shop's maximum ({max_ttl_s:.0f} s)")
    return Shopper(
        user_id=user if isinstance(user, str) and user else None,
        session_id=session if isinstance(session, str) and session else None,
        expires_at=float(claims["exp"]),
    )
