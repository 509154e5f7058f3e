"""Personalised marketing messages built only from product facts, review highlights and the
shopper's own interests; every fact is cited, so :func:`shoprec.nlp.assistant.unsupported`
can check the message the same way as an assistant answer."""

from __future__ import annotations

from shoprec.nlp.assistant import Answer, Citation, Constraints
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.explain import short


def message(
    catalog: Catalog,
    idx: int,
    interests: list[tuple[str, float]],
    highlight: tuple[str, str] | None = None,
    sentiment: tuple[float, int] | None = None,
    name: str | None = None,
) -> Answer:
    """A short message about item ``idx`` for a shopper.

    ``interests``: the shopper's (label, weight), strongest first; ``highlight``: (review id,
    sentence) from a positive review; ``sentiment``: (share positive, review count).
    """
    item = catalog.items[idx]
    assert item is not None
    iid = item.item_id
    cites = [Citation(iid, "title", item.title or iid)]
    greeting = f"Hi {name}!" if name else "Hi!"
    hook = ""
    labels = set(catalog.labels[idx])
    for label, _ in interests:
        if label in labels:
            kind, _, value = label.partition(":")
            hook = (
                f" Since you love {value},"
                if kind == "brand"
                else f" Since you like {value.lower()},"
            )
            cites.append(Citation(iid, "category" if kind != "brand" else "brand", value))
            break
    parts = [f"{greeting}{hook} we think you'll like {short(item.title or iid, 80)}."]
    if item.price is not None:
        price = f"${item.price:.2f}"
        parts.append(f"It's {price}.")
        cites.append(Citation(iid, "price", price))
    if sentiment is not None and sentiment[1] >= 3:
        fact = f"{round(100 * sentiment[0])}% of {sentiment[1]} reviewers are positive"
        parts.append(fact[0].upper() + fact[1:] + ".")
        cites.append(Citation(iid, "sentiment", fact))
    if highlight is not None:
        review_id, sentence = highlight
        parts.append(f"One reviewer says: \u201c{sentence}\u201d")
        cites.append(Citation(iid, f"review:{review_id}", sentence))
    return Answer(
        "message", " ".join(parts), [(iid, ["Chosen for this shopper"])], cites, Constraints()
    )
