"""Who may call what: the one place the API's access rules are enforced (docs/security.md).

Each API route declares a :class:`Policy` among its dependencies (``routes.deps.READ`` and
friends). :class:`GuardedRoute`, the routers' route class, applies it **before FastAPI reads
the body**: an unauthenticated caller never makes the server parse a body. In order:

1. the credential is verified: a server key (``X-API-Key``, or ``Authorization: Bearer``)
   or a shopper token (``Authorization: Bearer <jwt>``); a wrong one is a 401;
2. the rate limit counts the request against the verified key or shopper, else the client
   address (a refused credential counts against the address);
3. the route's level: a key of that level or above; a level without any key configured is
   closed (403 naming the setting) once any credential is configured; a shopper token only on
   routes that accept one, and only for the shopper (or session) it names: every ``user_id``
   and ``session_id`` in the path, the query and the JSON body must be the token's (403 naming
   the field);
4. reading a shopper's data (a request naming a shopper) needs a credential even where catalog
   reads are open.

With no key and no token secret configured, everything is open (development).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from shoprec.serving.security import LEVELS, SETTING, SecurityConfig, presented
from shoprec.serving.tokens import Shopper, TokenError, looks_like_token, verify

#: Where a request names the shopper it is about.
SHOPPER_FIELDS = ("user_id", "session_id")


@dataclass(frozen=True)
class Caller:
    """The verified caller: a server key's ``level``, or a token's ``shopper``, or neither;
    ``who`` is what the rate limit counts."""

    who: str
    level: str | None = None
    shopper: Shopper | None = None


@dataclass(frozen=True, eq=False)
class Policy:
    """A route's access rule, declared as a dependency (``Depends(policy)``).

    Attributes
    ----------
    level : the server key level the route needs: "read", "write" or "admin".
    tokens : a shopper token may call it, for the shopper it names only.
    personal : the route's body may name shoppers, so once any credential is configured it
        needs one even where catalog reads are open (the body is not read to find out).
    """

    level: str
    tokens: bool = False
    personal: bool = False

    async def __call__(self, request: Request) -> Caller:
        """The caller :class:`GuardedRoute` verified (or, on a route of another class, the
        same checks made here, after the body was read)."""
        caller = getattr(request.state, "caller", None)
        if caller is None:
            caller = await gate_of(request).admit(request, self)
        return caller  # type: ignore[no-any-return]


def _refuse(status: int, message: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, message, headers=headers)


class Gate:
    """The access rules of one app, with its one rate limiter (None: no limit)."""

    def __init__(self, cfg: SecurityConfig) -> None:
        from shoprec.serving.ratelimit import RateLimit

        self.cfg = cfg
        self.limit = RateLimit(cfg) if cfg.rate_per_s > 0 else None

    def authenticate(self, request: Request) -> Caller:
        """The verified caller; 401 for a credential that is not one of this shop's."""
        address = f"addr:{request.client.host if request.client else 'unknown'}"
        header, value = presented(request)
        if not value or not self.cfg.secured:  # open shop: credentials are not looked at
            return Caller(who=address)
        level = self.cfg.key_level(value)
        if level is not None:
            return Caller(who="key:" + hashlib.sha256(value.encode()).hexdigest()[:16], level=level)
        if header == "Authorization" and looks_like_token(value):
            if not self.cfg.token_secret:
                raise _refuse(401, "Authorization: this shop accepts no shopper tokens "
                              "(SHOPREC_SHOPPER_TOKEN_SECRET is not set)")  # fmt: skip
            try:
                shopper = verify(self.cfg.token_secret, value, self.cfg.token_max_ttl_s)
            except TokenError as exc:
                raise _refuse(401, f"Authorization: {exc}") from None
            return Caller(who=f"shopper:{shopper.user_id or ''}:{shopper.session_id or ''}",
                          shopper=shopper)  # fmt: skip
        raise _refuse(401, f"{header}: not an API key of this shop")

    async def admit(self, request: Request, policy: Policy) -> Caller:
        """Verify, count and authorise one request before its body is read."""
        try:
            caller = self.authenticate(request)
        except HTTPException:
            if self.limit is not None:  # failed guesses count against the address
                address = f"addr:{request.client.host if request.client else 'unknown'}"
                await self.count(address)
            raise
        if self.limit is not None:
            await self.count(caller.who)
        self.authorize(request, policy, caller)
        if caller.shopper is not None and policy.tokens:
            await self._check_body(request, caller.shopper)
        request.state.caller = caller
        return caller

    async def count(self, who: str) -> None:
        """429 with Retry-After when ``who`` is over the rate limit (none: nothing)."""
        if self.limit is None:
            return
        wait = await self.limit.hit(who)
        if wait > 0:
            raise HTTPException(
                429, "rate limit exceeded", headers={"Retry-After": str(max(1, round(wait)))}
            )

    def allows(self, request: Request, level: str) -> bool:
        """Whether this request's credential passes ``level`` (no rate limit counted): what a
        page shows only to such a caller."""
        try:
            self.authorize(request, Policy(level), self.authenticate(request))
        except HTTPException:
            return False
        return True

    def authorize(self, request: Request, policy: Policy, caller: Caller) -> None:
        """Refuse (401 or 403, naming what is missing) a caller the policy does not admit."""
        cfg, need = self.cfg, policy.level
        if not cfg.secured:
            return
        if caller.level is not None:
            if LEVELS.index(caller.level) >= LEVELS.index(need):
                return
            raise _refuse(403, f"{need} endpoint: a {caller.level} key may not call it")
        named = list(self._named(request))  # every value: a repeated parameter too
        if caller.shopper is not None and policy.tokens:
            self._own(caller.shopper, named)
            return
        # no credential for this route (a token where none is taken counts as none)
        if need == "read" and not cfg.read_keys and not policy.personal and not named:
            return  # catalog reads stay open without read keys
        keys = [lvl for lvl in LEVELS[LEVELS.index(need) :] if cfg.keys_of(lvl)]
        takes_tokens = policy.tokens and bool(cfg.token_secret)
        if caller.shopper is not None:
            raise _refuse(403, f"{need} endpoint: needs a server key, not a shopper token")
        if not keys and not takes_tokens:
            raise _refuse(403, f"{need} endpoint: closed: {SETTING[need]} is not set (once any "
                          "key is configured, a level without keys is open to nobody)")  # fmt: skip
        what = f"{named[0][0]}: a shopper's data" if named else f"{need} endpoint"
        accepted = [f"a {lvl} key" for lvl in keys] + (["that shopper's token"] * takes_tokens)
        raise _refuse(401, f"{what}: needs {' or '.join(accepted)} (X-API-Key, or "
                      "Authorization: Bearer)")  # fmt: skip

    @staticmethod
    def _named(request: Request) -> Iterator[tuple[str, str]]:
        """``(field, value)`` of the shoppers the path and query name (before any body)."""
        for name in SHOPPER_FIELDS:
            if request.path_params.get(name):
                yield f"path.{name}", str(request.path_params[name])
        for name in SHOPPER_FIELDS:
            for value in request.query_params.getlist(name):
                if value:
                    yield f"query.{name}", value

    @staticmethod
    def _own(shopper: Shopper, named: Any) -> None:
        for field, value in named:
            mine = shopper.session_id if field.endswith("session_id") else shopper.user_id
            if value != mine:
                raise _refuse(403, f"{field}: the shopper token is for {shopper.label}, "
                              f"not {value!r}")  # fmt: skip

    async def _check_body(self, request: Request, shopper: Shopper) -> None:
        """Every shopper a JSON body names must be the token's. A body that is not JSON is
        left to FastAPI (its 422); the parsed JSON is cached on the request, parsed once."""
        if request.method in ("GET", "HEAD", "DELETE"):
            return
        try:
            data = await request.json()
        except (ValueError, UnicodeDecodeError):
            return
        self._own(shopper, _body_shoppers(data, ""))


def _body_shoppers(data: Any, at: str) -> Iterator[tuple[str, str]]:
    """``(field path, value)`` of every non-empty ``user_id`` / ``session_id`` (and each of
    ``user_ids``) anywhere in a JSON body: ``events.3.user_id``."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{at}{key}"
            if key in SHOPPER_FIELDS and value not in (None, ""):
                yield where, value if isinstance(value, str) else json.dumps(value)
            elif key == "user_ids" and isinstance(value, list):
                yield from ((f"{where}.{k}.user_id", str(v)) for k, v in enumerate(value))
            else:
                yield from _body_shoppers(value, where + ".")
    elif isinstance(data, list):
        for k, value in enumerate(data):
            yield from _body_shoppers(value, f"{at}{k}.")


def gate_of(request: Request) -> Gate:
    return request.app.state.gate  # type: ignore[no-any-return]


def policy_of(route: APIRoute) -> Policy | None:
    """The access policy a route declares among its dependencies, if any."""
    for dep in route.dependencies:
        if isinstance(dep.dependency, Policy):
            return dep.dependency
    return None


class GuardedRoute(APIRoute):
    """An API route whose :class:`Policy` is enforced before FastAPI reads and validates the
    body (a dependency would run after it)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        policy = policy_of(self)
        if policy is None:
            return handler

        async def guarded(request: Request) -> Response:
            await gate_of(request).admit(request, policy)
            return await handler(request)

        return guarded
