"""The engine's calls into :mod:`shoprec.nlp` and :mod:`shoprec.marketing`: product search
re-ranked for the shopper, the shopping assistant over it, and the audience of shoppers most
likely to buy in a category or among some items next."""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

from shoprec.data.event_types import is_purchase
from shoprec.data.keys import is_session_key
from shoprec.marketing.audience import audience
from shoprec.nlp.assistant import Assistant
from shoprec.nlp.search import Hit, ProductSearch
from shoprec.ranking.candidates import Request
from shoprec.serving.live import Live
from shoprec.serving.recommend import bought, shopper_request
from shoprec.serving.reviews import ReviewScoring


class Discovery:
    """Parameters
    ----------
    live : what the engine's jobs share (catalog, trending, states, bundle, clock).
    reviews : review sentiment, which the assistant cites.
    vectorize : texts -> unit vectors; its ``queries`` embeds search queries apart from the
        item cache when it has one.
    """

    def __init__(
        self, live: Live, reviews: ReviewScoring, vectorize: Callable[[list[str]], np.ndarray]
    ) -> None:
        self.live, self.reviews, self.vectorize = live, reviews, vectorize
        self._search: ProductSearch | None = None  # the search index, built on first use
        self._assistant: Assistant | None = None

    def search(
        self, query: str, user_id: str | None = None, n: int = 20, exclude: Collection[str] = ()
    ) -> list[Hit]:
        """Lexical + semantic matches for ``query``, re-ranked for the shopper when known;
        none in ``exclude`` (item ids: a next page leaves out the items shown before)."""
        live = self.live
        if self._search is None:
            # queries are embedded apart from the item cache when the vectorizer can
            self._search = ProductSearch(
                live.catalog, getattr(self.vectorize, "queries", self.vectorize)
            )
            # past SHOPREC_ANN_MIN_ITEMS, the semantic side asks the served bundle's index
            self._search.semantic.index_of = lambda: live.bundle.indexes.get("text")
        bundle = live.bundle

        def shopper() -> Request:
            state = live.states.get(user_id) if user_id else None
            return shopper_request(live.catalog, state, live.clock)

        if not exclude:
            return self._search.ranked(query, n, bundle.n_rows, bundle.encoder, shopper)
        # asked for the excluded ones too, then dropped: search ranks, it does not filter
        skip = set(live.catalog.indices(list(exclude)).tolist())
        hits = self._search.ranked(query, n + len(skip), bundle.n_rows, bundle.encoder, shopper)
        return [h for h in hits if h[0] not in skip][:n]

    def assistant(self) -> Assistant:
        """The shopping assistant over the catalog, search and purchases."""
        if self._assistant is None:
            states = self.live.states

            def purchases(user_id: str) -> list[tuple[str, float]]:
                st = states.get(user_id)
                return [(i, t) for i, t, k in st.recent if is_purchase(k)] if st else []

            self._assistant = Assistant(
                self.live.catalog,
                lambda q, u, n: self.search(q, u, n),
                purchases,
                self.reviews.sentiment_of,
            )
        return self._assistant

    def audience(
        self, category: str | None, item_ids: list[str], n: int
    ) -> tuple[list[tuple[str, float]], int]:
        """The ``n`` shoppers most likely to buy in ``category`` or among ``item_ids`` next,
        with their probabilities; returns (members, size of the target set)."""
        live = self.live
        bundle, catalog = live.bundle, live.catalog
        if category:
            target = np.flatnonzero(catalog.in_category(category, bundle.n_rows))
        else:
            target = catalog.indices(item_ids)
        if bundle.encoder is None or not len(target):
            return [], len(target)

        def shoppers():  # noqa: ANN202
            for user in live.states.users():
                st = live.states.get(user)
                if st is None or is_session_key(user):
                    continue
                req = shopper_request(catalog, st, live.clock)
                yield user, req.history, req.times, bought(catalog, st)

        members = audience(bundle.encoder, shoppers(), target, n)
        return [(m.user_id, m.score) for m in members], len(target)
