"""What the paged list routes (feed, similar items, search) share: the ``offset`` and ``cursor``
query parameters and the call into :class:`~shoprec.serving.pages.Pages` that answers a bad
cursor with a 422 naming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import HTTPException, Query

from shoprec.serving.engine import Engine
from shoprec.serving.pages import ID_PATTERN, MAX_OFFSET, Page, PageError
from shoprec.serving.schemas.common import NOT_FOUND

#: The answers a paged list documents besides the common ones: an unknown or expired cursor.
PAGED = NOT_FOUND

T = TypeVar("T")

Offset = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_OFFSET,
        description="Position of the page's first item in the list (Gorse's offset). Without "
        "a cursor, 0 starts a new list and more continues this shopper's latest list with "
        "the same parameters; no item shown before the offset is shown again.",
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        pattern=ID_PATTERN,
        description="The `recommendation_id` of an earlier page: this request continues that "
        "list (the next page, or the one at `offset`), never repeating an item it showed.",
    ),
]


def page(
    engine: Engine,
    kind: str,
    owner: str,
    n: int,
    offset: int | None,
    cursor: str | None,
    compute: Callable[[int, frozenset[str]], list[T]],
    item_of: Callable[[T], str],
) -> Page[T]:
    """:meth:`Pages.serve <shoprec.serving.pages.Pages.serve>`; a cursor naming no list this
    request may continue is a 404 (unknown or expired) or a 422 (another list), naming
    ``cursor``."""
    try:
        return engine.pages.serve(kind, owner, n, offset, cursor, compute, item_of)
    except PageError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
