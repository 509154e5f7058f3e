"""Short, true reasons: each comes from a signal that actually raised the item's score."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from shoprec.models.ranker import FEATURES
from shoprec.ranking.catalog import Catalog

F = {name: j for j, name in enumerate(FEATURES)}
MAX_REASONS = 2


@lru_cache(maxsize=65536)  # the same titles recur in every feed
def short(title: str, limit: int = 60) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def tag_phrase(label: str) -> str:
    """``category:Nail polish`` -> ``Nail polish, which you like`` style phrases."""
    kind, _, value = label.partition(":")
    if kind == "brand":
        return f"From {value}, a brand you like"
    if kind == "price":
        return f"In your usual price range ({value})"
    return f"In {value}, which you like"


def reasons_for(
    catalog: Catalog,
    idx: int,
    x: Sequence[float],
    contrib: Sequence[float],
    covis_anchor: Callable[[], int],
    text_anchor: int,
    affinity_label: str,
    seq_anchor: Callable[[], int],
    ranked: Sequence[int],
) -> list[str]:
    """Reasons for one candidate from its features ``x`` ``(F,)`` and their contributions
    ``(F,)`` to its score (plain sequences), strongest first; at least one. ``ranked``: the
    feature indices by decreasing contribution (the caller sorts the shown items at once).
    ``seq_anchor`` and ``covis_anchor`` give the history item that explains the sequence
    model's and co-visitation's score (:class:`~shoprec.ranking.attribution.Anchors`; 0 =
    none, -1 = no sequence score), asked only when a reason cites that source."""
    out: list[str] = []
    category = catalog.category_of(idx)
    for j in ranked:
        if contrib[j] <= 0 or len(out) >= MAX_REASONS:
            break
        name = FEATURES[j]
        reason = None
        if name in ("seq", "seq_logrank") and (seq := seq_anchor()) >= 0:
            reason = seq_reason(catalog, seq)
        elif name == "covis" and x[j] > 0 and (anchor := covis_anchor()):
            reason = f"Often bought with {short(catalog.title(anchor))}"
        elif name == "text" and text_anchor and x[j] > 0.5:
            reason = f"Similar to {short(catalog.title(text_anchor))}"
        elif name == "trending" and x[j] > 0:
            reason = f"Trending in {category}" if category else "Trending now"
        elif name == "popularity" and x[j] > 0:
            reason = f"Popular in {category}" if category else "Popular with shoppers"
        elif name == "is_new" and x[j] > 0:
            reason = f"New in {category}" if category else "New arrival"
        elif name == "affinity" and affinity_label:
            reason = tag_phrase(affinity_label)
        if reason and reason not in out:
            out.append(reason)
    if not out:
        out.append(fallback_reason(catalog, idx, "popular"))
    return out


def seq_reason(catalog: Catalog, anchor: int) -> str:
    """The sequence model's reason: the history item whose removal lowers the score most."""
    if not anchor:
        return "Based on your recent activity"
    return f"Based on your interest in {short(catalog.title(anchor), 40)}"


def goes_with(
    catalog: Catalog, reasons: list[str], anchor: int, latest: int, source: str
) -> list[str]:
    """The reasons of one of the latest item's neighbours (the session boost lifted it):
    led by the history item its co-visitation owes most to (``anchor``, 0: none), "your
    latest pick" only when that is the latest item; a text neighbour (``source`` "text") is
    "Similar to" the recent item its text is closest to."""
    named = anchor or latest
    title = short(catalog.title(named), 50)
    lead = "Similar to" if source == "text" else "Goes with"
    just = f"{lead} {title}, your latest pick" if named == latest else f"{lead} {title}"
    said = " ".join(catalog.title(named).split())[:30]  # another reason naming it is dropped
    others = [r for r in reasons if said not in r]
    return [just, *others][:MAX_REASONS]


def fallback_reason(catalog: Catalog, idx: int, kind: str) -> str:
    category = catalog.category_of(idx)
    if kind == "new":
        return f"New in {category}" if category else "New arrival"
    if kind == "trending":
        return f"Trending in {category}" if category else "Trending now"
    return f"Popular in {category}" if category else "Popular with shoppers"
