"""The OpenAPI document as client generators need it: readable operation ids
(``get_recommendations``, not ``recommendations_v1_users__user_id__recommendations_get``), a
tag per resource, the API-key security schemes on every route that checks a key, and an
example on every operation's parameters, request body and answer
(:mod:`shoprec.serving.openapi_examples`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from shoprec.serving.openapi_examples import EXAMPLES, PARAMETERS

#: A route function whose name starts with one of these is already a readable operation id.
VERBS = frozenset(
    "get list create put post delete update upsert search rank ask score stop export batch "
    "merge set add remove send".split()
)
_METHOD_VERB = {"GET": "get", "POST": "post", "PUT": "put", "DELETE": "delete", "PATCH": "update"}

#: One tag per resource, in the order the document lists them.
TAGS: list[dict[str, str]] = [
    {"name": "events", "description": "The shop's event stream: views, carts, purchases..."},
    {"name": "items", "description": "The catalog: upserts, an item, similar items"},
    {"name": "users", "description": "Shoppers: feeds, profiles, feedback, export, erasure"},
    {"name": "sessions", "description": "Anonymous sessions' feeds, before sign-in"},
    {"name": "recommendations", "description": "Lists for many shoppers or a caller's list"},
    {"name": "search", "description": "Product search, personalised"},
    {"name": "assistant", "description": "The shopping assistant's cited answers"},
    {"name": "marketing", "description": "Audiences and personalised messages (admin)"},
    {"name": "sentiment", "description": "Review sentiment: texts and products"},
    {"name": "experiments", "description": "A/B tests and bandits over ranking strategies"},
    {"name": "rules", "description": "Business rules: pin, boost, bury, block (admin)"},
    {"name": "ops", "description": "Probes, Prometheus metrics and the dashboard's figures"},
    {"name": "tokens", "description": "Shopper tokens for a shopper's browser or app"},
]

#: How a key is presented (serving/security.py reads either); a route needs one of them.
SECURITY_SCHEMES = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A key from SHOPREC_READ_KEYS, SHOPREC_WRITE_KEYS or SHOPREC_ADMIN_KEYS "
        "(admin keys pass every level, write keys writes and reads). With no key configured "
        "the API is open; once any is, admin is never open (docs/security.md).",
    },
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same key as `Authorization: Bearer <key>`, or a shopper token "
        "(POST /v1/tokens) on the routes whose description says they take one, for that "
        "shopper's data only.",
    },
}


def operation_id(route: APIRoute) -> str:
    """The route function's name when it starts with a verb, else the HTTP method's verb
    before it (``recommendations`` answering GET: ``get_recommendations``)."""
    name = route.name
    if name.split("_", 1)[0] in VERBS:
        return name
    method = sorted(route.methods or {"GET"})[0]
    return f"{_METHOD_VERB.get(method, method.lower())}_{name}"


def route_levels(routes: Iterable[APIRoute], levels: Mapping[Any, str]) -> dict:
    """``{(path, method): access level}`` of the routes with a key check among ``levels``."""
    out: dict[tuple[str, str], str] = {}
    for route in routes:
        for dep in route.dependencies:
            level = levels.get(dep.dependency) if dep.dependency else None
            if level:
                for method in route.methods or ():  # the document's path: no {id:path}
                    out[(route.path_format, method.lower())] = level
    return out


def _decorate(schema: dict, levels: dict[tuple[str, str], str]) -> None:
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            label = levels.get((path, method))
            if label:  # "read", or "read+token" where a shopper token is taken too
                level, _, token = label.partition("+")
                op["security"] = [{"ApiKey": []}, {"Bearer": []}]
                op["x-shoprec-access"] = level
                op["x-shoprec-shopper-token"] = bool(token)
                who = " or that shopper's own token" if token else ""
                op["description"] = (
                    op.get("description", "") + f"\n\nAccess: a {level}-level key{who}."
                ).strip()
            _add_examples(op)


def _add_examples(op: dict) -> None:
    for param in op.get("parameters", []):
        example = PARAMETERS.get(param["name"])
        if example is not None:
            param.setdefault("example", example)
    given = EXAMPLES.get(op.get("operationId", ""), {})
    body = op.get("requestBody", {}).get("content", {})
    for media in body.values():
        if "request" in given:
            media.setdefault("example", given["request"])
    for status, answer in op.get("responses", {}).items():
        if status.startswith("2") and "response" in given:
            for media in answer.get("content", {}).values():
                media.setdefault("example", given["response"])


def document(app: FastAPI, routes: Iterable[APIRoute], levels: Mapping[Any, str]):
    """Make ``app.openapi()`` add the security schemes and examples to FastAPI's document
    (once per document: FastAPI caches it until the routes change)."""
    by_route = route_levels(list(routes), levels)
    default = app.openapi

    def openapi() -> dict[str, Any]:
        schema = default()
        if "securitySchemes" not in schema.get("components", {}):
            _decorate(schema, by_route)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
