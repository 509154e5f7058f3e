"""The shopping assistant: recognises what is asked (one product; products for a need; an
order or after-sales question), extracts constraints (price range, category, brand, "not X"),
retrieves from the catalog (lexical + embeddings, re-ranked for the shopper) and answers only
with facts taken from cited records. :func:`unsupported` checks that claim mechanically.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from shoprec.ranking.catalog import Catalog

ORDER_WORDS = re.compile(
    r"\b(order|orders|ordered|return|returns|refund|cancel|package|parcel|deliver|delivery|"
    r"ship|ships|shipping|shipped|track|tracking|arrived|received|exchange|receipt|invoice|"
    r"warranty|missing|wrong item)\b",
    re.I,
)
STOP = frozenset(
    "a an the and or of for to in on with my me i is it its this that do does you your have has "
    "what whats which how who where can could would should will be are was were there any some "
    "about tell more info information details describe need want looking look like get color "
    "colour shade smell size big".split()
)
PRODUCT_PREFIX = re.compile(
    r"^\s*(tell me (more )?about|what is|what's|what about|details (on|of|for)|"
    r"info(rmation)? (on|about)|describe|is the)\s+(the\s+)?",
    re.I,
)
PRICE_UNDER = re.compile(
    r"\b(?:under|below|less than|cheaper than|max(?:imum)?|up to)\s*\$?\s*"
    r"(\d+(?:\.\d+)?)",
    re.I,
)
PRICE_OVER = re.compile(
    r"\b(?:over|above|more than|at least|min(?:imum)?)\s*\$?\s*"
    r"(\d+(?:\.\d+)?)",
    re.I,
)
PRICE_BETWEEN = re.compile(
    r"\bbetween\s*\$?\s*(\d+(?:\.\d+)?)\s*(?:and|-|to)\s*\$?\s*"
    r"(\d+(?:\.\d+)?)",
    re.I,
)
EXCLUDE = re.compile(r"\b(?:not|no|without|except|but not|free of)\s+([a-z][a-z\-]+)", re.I)
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass
class Constraints:
    min_price: float | None = None
    max_price: float | None = None
    category: str | None = None
    brand: str | None = None
    exclude: list[str] = field(default_factory=list)


@dataclass
class Citation:
    item_id: str
    field: str  # "title", "price", "category", "brand", "description", "event", "sentiment"
    text: str


@dataclass
class Answer:
    intent: str  # "need", "product", "order"
    answer: str
    products: list[tuple[str, list[str]]]
    citations: list[Citation]
    constraints: Constraints


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.casefold()) if w not in STOP}


def intent_of(question: str) -> str:
    """``order`` / ``product`` (asked by its name) / ``need``, from the wording alone; the
    assistant also turns a ``need`` into ``product`` when the question names one title."""
    if ORDER_WORDS.search(question):
        return "order"
    if PRODUCT_PREFIX.search(question):
        return "product"
    return "need"


def constraints_of(
    question: str, category_names: dict[str, str], brands: dict[str, str]
) -> tuple[Constraints, str]:
    """Constraints and the question with the constraint phrases removed (the search query).

    ``category_names`` / ``brands``: casefolded name -> display name known to the catalog.
    """
    c = Constraints()
    q = question
    if m := PRICE_BETWEEN.search(q):
        c.min_price, c.max_price = sorted((float(m.group(1)), float(m.group(2))))
        q = q.replace(m.group(0), " ")
    else:
        if m := PRICE_UNDER.search(q):
            c.max_price = float(m.group(1))
            q = q.replace(m.group(0), " ")
        if m := PRICE_OVER.search(q):
            c.min_price = float(m.group(1))
            q = q.replace(m.group(0), " ")
    for m in EXCLUDE.finditer(q):
        word = m.group(1).lower()
        if word not in {"more", "too", "very", "longer", "sure", "matter"}:
            c.exclude.append(word)
    q = EXCLUDE.sub(" ", q)
    low = f" {q.casefold()} "
    # the longest catalog category / brand named in the question
    for names, attr in ((category_names, "category"), (brands, "brand")):
        hits = [n for n in names if len(n) > 2 and f" {n} " in low]
        if hits:
            setattr(c, attr, names[max(hits, key=len)])
    return c, " ".join(q.split())


class Assistant:
    """Parameters
    ----------
    catalog : the live catalog.
    search : ``(query, user_id, n) -> [(index, score, reasons)]`` personalised retrieval.
    recent_purchases : ``user_id -> [(item_id, timestamp)]`` for order questions.
    sentiment : ``index -> (share_positive, count) | None`` from review sentiment, if any.
    """

    def __init__(
        self,
        catalog: Catalog,
        search: Callable[[str, str | None, int], list[tuple[int, float, list[str]]]],
        recent_purchases: Callable[[str], list[tuple[str, float]]],
        sentiment: Callable[[int], tuple[float, int] | None] | None = None,
    ) -> None:
        self.catalog, self.search, self.purchases = catalog, search, recent_purchases
        self.sentiment = sentiment
        self._names_cache: tuple[int, dict[str, str], dict[str, str]] = (-1, {}, {})

    def _names(self) -> tuple[dict[str, str], dict[str, str]]:
        if self._names_cache[0] == len(self.catalog):
            return self._names_cache[1], self._names_cache[2]
        cats: dict[str, str] = {}
        brands: dict[str, str] = {}
        for i in range(1, len(self.catalog) + 1):
            item, tags = self.catalog.items[i], self.catalog.tags[i]
            for n in (*(item.category if item else ()), tags.category if tags else None):
                if n:
                    cats.setdefault(n.casefold(), n)
            if item and item.brand:
                brands.setdefault(item.brand.casefold(), item.brand)
        self._names_cache = (len(self.catalog), cats, brands)
        return cats, brands

    def ask(self, question: str, user_id: str | None = None, n: int = 5) -> Answer:
        intent = intent_of(question)
        if intent == "order":
            return self._order(question, user_id)
        cats, brands = self._names()
        cons, query = constraints_of(question, cats, brands)
        hit = self._one_product(PRODUCT_PREFIX.sub("", question).strip(" ?"), intent)
        if hit:
            return self._describe(hit, cons)
        return self._need(question, query or question, cons, user_id, n)

    # -- intents ----------------------------------------------------------------------------
    def _need(
        self, question: str, query: str, cons: Constraints, user_id: str | None, n: int
    ) -> Answer:
        cat = self.catalog
        hits = self.search(query, user_id, 200)
        picked = []
        for idx, _, reasons in hits:
            item = cat.items[idx]
            if item is None:
                continue
            title = item.title.casefold()
            if cons.exclude and any(w in title for w in cons.exclude):
                continue
            if cons.max_price is not None and not (
                item.price is not None and item.price <= cons.max_price
            ):
                continue
            if cons.min_price is not None and not (
                item.price is not None and item.price >= cons.min_price
            ):
                continue
            if cons.brand and item.brand.casefold() != cons.brand.casefold():
                continue
            if (
                cons.category
                and cat.category_of(idx) != cons.category
                and cons.category not in item.category
            ):
                continue
            picked.append((idx, reasons))
            if len(picked) >= n:
                break
        if not picked:
            return Answer(
                "need", "I found no product in the catalog that matches all of that.", [], [], cons
            )
        lines, cites, products = [], [], []
        for k, (idx, reasons) in enumerate(picked, 1):
            line, c = self._fact_line(idx)
            lines.append(f"{k}. {line}")
            cites += c
            products.append((cat.ids[idx], reasons))
        head = f"Here is what I found for \u201c{query}\u201d"
        if cons.max_price is not None or cons.min_price is not None:
            head += " within your price range"
        return Answer("need", head + ":\n" + "\n".join(lines), products, cites, cons)

    def _one_product(self, name: str, intent: str) -> int | None:
        """The product the question names: most of its content words are in one title, and no
        other close match contains them all (else it is a need, not a name)."""
        asked = words(name)
        if len(asked) < 2:
            return None
        hits = [(idx, words(self.catalog.title(idx))) for idx, _, _ in self.search(name, None, 20)]
        if not hits:
            return None
        best, title = max(hits[:5], key=lambda h: len(asked & h[1]))
        matched = asked & title
        share = len(matched) / len(asked)
        unique = sum(1 for _, t in hits if matched <= t) == 1
        if intent == "product":
            return best if share >= 0.6 else None
        return best if share >= 0.6 and len(matched) >= 3 and unique else None

    def _describe(self, idx: int, cons: Constraints) -> Answer:
        line, cites = self._fact_line(idx, full=True)
        return Answer(
            "product", line, [(self.catalog.ids[idx], ["The product you asked about"])], cites, cons
        )

    def _order(self, question: str, user_id: str | None) -> Answer:
        bought = self.purchases(user_id) if user_id else []
        cites = [Citation(i, "event", f"purchase of {i} at {t:.0f}") for i, t in bought[-3:]]
        cites += [
            Citation(i, "title", self.catalog.title(self.catalog.get(i)) or i)
            for i, _ in bought[-3:]
        ]
        if bought:
            names = ", ".join(self.catalog.title(self.catalog.get(i)) or i for i, _ in bought[-3:])
            text = (
                f"Your latest purchases are: {names}. Order status, returns and refunds are "
                "handled by the shop's customer service, which can look them up for you."
            )
        else:
            text = (
                "I have no purchases on record for you. Order status, returns and refunds "
                "are handled by the shop's customer service."
            )
        return Answer("order", text, [], cites, Constraints())

    # -- grounded facts ---------------------------------------------------------------------
    def _fact_line(self, idx: int, full: bool = False) -> tuple[str, list[Citation]]:
        cat = self.catalog
        item = cat.items[idx]
        assert item is not None
        iid = item.item_id
        cites = [Citation(iid, "title", item.title or iid)]
        parts = [item.title or iid]
        if item.price is not None:
            price = f"${item.price:.2f}"
            parts.append(price)
            cites.append(Citation(iid, "price", price))
        if item.brand:
            parts.append(f"by {item.brand}")
            cites.append(Citation(iid, "brand", item.brand))
        category = cat.category_of(idx)
        if category:
            parts.append(f"in {category}")
            cites.append(Citation(iid, "category", category))
        if self.sentiment and (s := self.sentiment(idx)):
            share, count = s
            fact = f"{round(100 * share)}% of {count} reviewers are positive"
            parts.append(fact)
            cites.append(Citation(iid, "sentiment", fact))
        if full and item.description:
            parts.append(item.description[:300])
            cites.append(Citation(iid, "description", item.description[:300]))
        return ", ".join(parts[:1]) + (
            " (" + "; ".join(parts[1:]) + ")" if parts[1:] else ""
        ), cites


def unsupported(answer: Answer) -> list[str]:
    """Numbers and products in ``answer`` that no citation supports (empty = grounded)."""
    cited_text = " ".join(c.text for c in answer.citations)
    cited_nums = set(NUMBER.findall(cited_text))
    body = re.sub(r"^\d+\. ", "", answer.answer, flags=re.M)  # list numbering is not a claim
    body = re.sub("\u201c[^\u201d]*\u201d", "", body)  # the shopper's own words, quoted
    bad = [f"number {x}" for x in NUMBER.findall(body) if x not in cited_nums]
    cited_ids = {c.item_id for c in answer.citations}
    bad += [f"product {pid}" for pid, _ in answer.products if pid not in cited_ids]
    return bad
