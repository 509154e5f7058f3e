"""Issue 23, done-when 2: with keys configured, schemathesis generates requests for every
operation of the app's OpenAPI document (both valid and invalid ones), and each is sent four
times: with no credential, a wrong key, another shopper's token and an expired token. None
may get a server error (5xx), and none may get a 2xx it should be refused.

The shop is configured as the issue found it: write keys only (no admin or read keys), plus a
token secret. Who should be refused is stated here, independently of ``serving/access.py``: a
wrong key and an expired token everywhere; no credential everywhere but the catalog and
business reads that name no shopper (:data:`OPEN_READS`: no read keys are set); a token for
another shopper as no credential, plus the routes a shopper's browser calls
(:data:`TOKEN_OPERATIONS`) where the request names no shopper but the token's. The app is the
real one (``create_app`` over the session's engine), called in process (ASGI).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from serving_fixtures import on_the_wall_clock
from shoprec.serving.app import create_app
from shoprec.serving.security import SecurityConfig
from shoprec.serving.tokens import mint

SECRET = "schemathesis-secret-" + "s" * 32
OTHER = "another-shopper-zq"
#: cases per operation and generation mode (positive, negative): about 2,070 cases in all
MAX_EXAMPLES = 37

#: The operations a shopper token may call (for its own shopper only).
TOKEN_OPERATIONS = {
    "GET /v1/users/{user_id}/recommendations",
    "GET /v1/users/{user_id}/profile",
    "GET /v1/users/{user_id}/export",
    "GET /v1/sessions/{session_id}/recommendations",
    "POST /v1/events",
    "POST /v1/feedback",
    "POST /v1/assistant",
    "POST /v1/rank",
    "GET /v1/search",
    "GET /v1/items/{item_id}",
    "GET /v1/items/{item_id}/similar",
    "GET /v1/items/{item_id}/sentiment",
    "POST /v1/sentiment",
}
PUBLIC = {"GET /healthz", "GET /readyz", "GET /metrics"}
#: Reads open to anyone while no read keys are set, as long as they name no shopper.
OPEN_READS = {
    "GET /v1/search",
    "GET /v1/items/{item_id}",
    "GET /v1/items/{item_id}/similar",
    "GET /v1/items/{item_id}/sentiment",
    "POST /v1/sentiment",
    "GET /v1/experiments",
    "GET /v1/experiments/{name}",
    "GET /v1/stats",
}


def credentials() -> dict[str, dict[str, str]]:
    other = mint(SECRET, OTHER, None, 600)[0]
    expired = mint(SECRET, OTHER, None, 60, now=time.time() - 3600)[0]
    return {
        "no credential": {},
        "wrong key": {"X-API-Key": "not-a-key-of-this-shop"},
        "another shopper's token": {"Authorization": f"Bearer {other}"},
        "expired token": {"Authorization": f"Bearer {expired}"},
    }


def named(data: Any) -> Iterator[str]:
    """Every non-empty user_id / session_id (and user_ids entry) in parameters or a body."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("user_id", "session_id") and value not in (None, ""):
                yield str(value)
            elif key == "user_ids" and isinstance(value, list):
                yield from (str(v) for v in value)
            else:
                yield from named(value)
    elif isinstance(data, list):
        for value in data:
            yield from named(value)


def may_succeed(label: str, who: str, case: Any) -> bool:
    """Whether ``who`` may get a 2xx on this case."""
    if label in PUBLIC:
        return True
    parts = [p for p in (case.path_parameters, case.query, case.body) if p is not None]
    names = list(named(parts))
    as_nobody = who in ("no credential", "another shopper's token")
    if as_nobody and label in OPEN_READS and not names:
        return True
    own = all(n == OTHER for n in names)
    return who == "another shopper's token" and label in TOKEN_OPERATIONS and own


class Sender:
    """Sends a case to the app in process, on one event loop, through httpx's ASGI transport:
    the request is the one schemathesis would send (its own serialisation, prepared by
    requests), without a thread hop and a fresh client per call."""

    def __init__(self, app: Any) -> None:
        import asyncio

        import httpx

        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://test")

    def __call__(self, case: Any, headers: dict[str, str]) -> int:
        import httpx
        import requests

        kwargs = case.as_transport_kwargs(base_url="http://test", headers=headers)
        kwargs.pop("timeout", None)
        sent = requests.Request(**kwargs).prepare()
        body = sent.body.encode() if isinstance(sent.body, str) else sent.body
        call = self.client.request(
            sent.method or "GET", sent.url or "", headers=dict(sent.headers), content=body
        )
        try:
            return self.loop.run_until_complete(call).status_code
        except httpx.InvalidURL:  # over httpx's URL length: schemathesis' own (slower) path
            return int(case.call(headers=headers).status_code)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def secured_app(built):  # noqa: ANN001, ANN201
    cfg = SecurityConfig(write_keys=("w-key",), token_secret=SECRET)
    # the session's engine: generated event times a right credential gets stored stay off its
    # data clock
    with on_the_wall_clock(built.engine):
        yield create_app(built.engine, security=cfg)


def test_no_credential_but_the_right_one_gets_through(secured_app) -> None:  # noqa: ANN001
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", secured_app)
    send = Sender(secured_app)
    sent: dict[str, dict[str, Any]] = credentials()
    cases, statuses = 0, Counter[str]()
    wrong: list[str] = []
    declared = set()
    for result in schema.get_all_operations():
        op = result.ok()
        label = op.label
        if op.definition.raw.get("x-shoprec-shopper-token"):
            declared.add(label)

        def run(mode: GenerationMode, label: str = label, op: Any = op) -> None:
            @hseed(23)
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def one(case: Any) -> None:
                nonlocal cases
                cases += 1
                for header in list(case.headers or {}):  # only the credential under test
                    if header.lower() in ("x-api-key", "authorization"):
                        del case.headers[header]
                for who, headers in sent.items():
                    status = send(case, headers)
                    statuses[f"{who} {status // 100}xx"] += 1
                    if status >= 500 or (status < 300 and not may_succeed(label, who, case)):
                        wrong.append(f"{who}: {status} {case.as_curl_command(headers)}"[:400])

            one()

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                run(mode)
            except Unsatisfiable:  # nothing to vary (no parameters, no body)
                pass
    send.close()
    print(f"\n{cases} cases, {sum(statuses.values())} requests: {dict(statuses)}")
    assert declared == TOKEN_OPERATIONS  # the document says which routes take a token
    assert cases >= 2000, (cases, statuses)
    assert wrong == [], "\n".join(wrong[:20])
    # the catalog was served, not refused wholesale
    assert statuses["no credential 2xx"] > 100 and statuses["another shopper's token 2xx"] > 100
