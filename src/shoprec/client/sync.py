"""The blocking client: :class:`Client`, one method per API operation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from shoprec.client.base import API, Call, body, csv, headers, params, parse, seg
from shoprec.client.types import (
    AssistantAnswer,
    Audience,
    CatalogItem,
    Deleted,
    Event,
    EventsAccepted,
    ExperimentSummary,
    FeedbackStored,
    Health,
    Item,
    ItemsUpserted,
    JsonObject,
    Message,
    Profile,
    RankedList,
    Ready,
    Recommendations,
    SearchResults,
    SentimentScored,
    SessionDeleted,
    ShopperToken,
    SimilarItems,
    UserExport,
)


class Client:
    """A shoprec server at ``base_url``; ``api_key`` is sent as ``X-API-Key``, a shopper
    ``token`` (from :meth:`create_token`) as ``Authorization: Bearer``. Every method
    raises :class:`~shoprec.client.ShoprecError` on a non-2xx answer. ``transport`` is
    httpx's (tests pass an ASGI or mock transport)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        extra_headers: dict[str, str] | None = None,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            headers=headers(api_key, extra_headers, token),
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call) -> Any:
        r = self.http.request(call.method, call.path, params=call.params, json=call.json)
        return parse(r)

    # -- ops ----------------------------------------------------------------------------------
    def get_healthz(self) -> Health:
        """Liveness: the process answers."""
        return self._send(Call("GET", "/healthz"))

    def get_readyz(self) -> Ready:
        """Readiness: the store answers and the models are loaded (else ShoprecError 503)."""
        return self._send(Call("GET", "/readyz"))

    def get_metrics(self) -> str:
        """Prometheus text, summed over the server's workers."""
        return self._send(Call("GET", "/metrics"))

    def get_stats(self) -> JsonObject:
        """The dashboard's live figures."""
        return self._send(Call("GET", f"{API}/stats"))

    # -- events and items ---------------------------------------------------------------------
    def post_events(self, events: Sequence[Event]) -> EventsAccepted:
        """Store 1 to 1,000 events (acknowledged once durable)."""
        return self._send(Call("POST", f"{API}/events", json={"events": list(events)}))

    def put_items(self, items: Sequence[Item]) -> ItemsUpserted:
        """Insert or update 1 to 1,000 catalog items."""
        return self._send(Call("PUT", f"{API}/items", json={"items": list(items)}))

    def get_item(self, item_id: str) -> CatalogItem:
        return self._send(Call("GET", f"{API}/items/{seg(item_id)}"))

    def get_similar_items(
        self,
        item_id: str,
        n: int | None = None,
        user_id: str | None = None,
        offset: int | None = None,
        cursor: str | None = None,
    ) -> SimilarItems:
        q = params(n=n, user_id=user_id, offset=offset, cursor=cursor)
        return self._send(Call("GET", f"{API}/items/{seg(item_id)}/similar", q))

    # -- recommendations ----------------------------------------------------------------------
    def get_recommendations(
        self,
        user_id: str,
        n: int | None = None,
        category: str | None = None,
        min_price: float | None = None,
        max_price: float | None = None,
        exclude: Sequence[str] | str | None = None,
        session_id: str | None = None,
        offset: int | None = None,
        cursor: str | None = None,
    ) -> Recommendations:
        """The shopper's home feed; ``cursor`` (an earlier answer's recommendation_id) or
        ``offset`` ask for a next page."""
        q = params(
            n=n,
            category=category,
            min_price=min_price,
            max_price=max_price,
            exclude=csv(exclude),
            session_id=session_id,
            offset=offset,
            cursor=cursor,
        )
        return self._send(Call("GET", f"{API}/users/{seg(user_id)}/recommendations", q))

    def get_session_recommendations(
        self,
        session_id: str,
        n: int | None = None,
        category: str | None = None,
        min_price: float | None = None,
        max_price: float | None = None,
        exclude: Sequence[str] | str | None = None,
    ) -> Recommendations:
        """An anonymous session's feed."""
        q = params(
            n=n, category=category, min_price=min_price, max_price=max_price, exclude=csv(exclude)
        )
        return self._send(Call("GET", f"{API}/sessions/{seg(session_id)}/recommendations", q))

    def batch_recommendations(
        self, user_ids: Sequence[str], n: int | None = None
    ) -> list[Recommendations]:
        """Feeds of up to 10,000 shoppers in one call, in the order given."""
        payload = body(user_ids=list(user_ids), n=n)
        return self._send(Call("POST", f"{API}/recommendations/batch", json=payload))

    def rank_items(
        self,
        items: Sequence[str],
        user_id: str | None = None,
        session_id: str | None = None,
        context: JsonObject | None = None,
        n: int | None = None,
    ) -> RankedList:
        """The caller's list re-ranked for the shopper (``user_id`` or ``session_id``); ids not
        in the catalog are kept at the end and named in ``unknown``."""
        payload = body(
            items=list(items), user_id=user_id, session_id=session_id, context=context, n=n
        )
        return self._send(Call("POST", f"{API}/rank", json=payload))

    # -- shoppers -----------------------------------------------------------------------------
    def get_profile(self, user_id: str, top: int | None = None) -> Profile:
        return self._send(Call("GET", f"{API}/users/{seg(user_id)}/profile", params(top=top)))

    def delete_user(self, user_id: str) -> Deleted:
        """Erase the shopper's events and state."""
        return self._send(Call("DELETE", f"{API}/users/{seg(user_id)}"))

    def delete_session(self, session_id: str) -> SessionDeleted:
        """Erase an anonymous session's events and state."""
        return self._send(Call("DELETE", f"{API}/sessions/{seg(session_id)}"))

    def export_user(self, user_id: str) -> UserExport:
        """Everything held about the shopper (admin key)."""
        return self._send(Call("GET", f"{API}/users/{seg(user_id)}/export"))

    def post_feedback(
        self,
        user_id: str,
        impressions: Sequence[str] | None = None,
        clicks: Sequence[str] | None = None,
        request_id: str | None = None,
        recommendation_id: str | None = None,
        session_id: str | None = None,
        timestamp: float | None = None,
    ) -> FeedbackStored:
        """What a list showed and what was clicked (stored as events)."""
        payload = body(
            user_id=user_id,
            impressions=list(impressions) if impressions else None,
            clicks=list(clicks) if clicks else None,
            request_id=request_id,
            recommendation_id=recommendation_id,
            session_id=session_id,
            timestamp=timestamp,
        )
        return self._send(Call("POST", f"{API}/feedback", json=payload))

    # -- search, assistant, sentiment ---------------------------------------------------------
    def search(
        self,
        q: str,
        user_id: str | None = None,
        n: int | None = None,
        offset: int | None = None,
        cursor: str | None = None,
    ) -> SearchResults:
        query = params(q=q, user_id=user_id, n=n, offset=offset, cursor=cursor)
        return self._send(Call("GET", f"{API}/search", query))

    def ask_assistant(self, question: str, user_id: str | None = None) -> AssistantAnswer:
        payload = body(question=question, user_id=user_id)
        return self._send(Call("POST", f"{API}/assistant", json=payload))

    def score_sentiment(self, texts: Sequence[str]) -> SentimentScored:
        return self._send(Call("POST", f"{API}/sentiment", json={"texts": list(texts)}))

    def get_item_sentiment(self, item_id: str) -> JsonObject:
        return self._send(Call("GET", f"{API}/items/{seg(item_id)}/sentiment"))

    # -- marketing (admin) --------------------------------------------------------------------
    def post_audiences(
        self,
        category: str | None = None,
        item_ids: Sequence[str] | None = None,
        n: int | None = None,
    ) -> Audience:
        payload = body(category=category, item_ids=list(item_ids) if item_ids else None, n=n)
        return self._send(Call("POST", f"{API}/audiences", json=payload))

    def post_messages(self, user_id: str, item_id: str, name: str | None = None) -> Message:
        payload = body(user_id=user_id, item_id=item_id, name=name)
        return self._send(Call("POST", f"{API}/messages", json=payload))

    # -- experiments --------------------------------------------------------------------------
    def list_experiments(self) -> list[ExperimentSummary]:
        return self._send(Call("GET", f"{API}/experiments"))

    def create_experiment(
        self,
        name: str,
        variants: Sequence[JsonObject],
        traffic: Sequence[float] | None = None,
        mode: str | None = None,
        floor: float | None = None,
        control: str | None = None,
    ) -> JsonObject:
        payload = body(
            name=name,
            variants=list(variants),
            traffic=list(traffic) if traffic is not None else None,
            mode=mode,
            floor=floor,
            control=control,
        )
        return self._send(Call("POST", f"{API}/experiments", json=payload))

    def get_experiment_report(self, name: str) -> JsonObject:
        return self._send(Call("GET", f"{API}/experiments/{seg(name)}"))

    def stop_experiment(
        self, name: str, action: str | None = None, variant: str | None = None
    ) -> JsonObject:
        payload = body(action=action, variant=variant)
        return self._send(Call("POST", f"{API}/experiments/{seg(name)}/stop", json=payload))

    # -- business rules (admin) ---------------------------------------------------------------
    def list_rules(self) -> JsonObject:
        return self._send(Call("GET", f"{API}/rules"))

    def create_rule(
        self,
        action: str,
        target: JsonObject,
        position: int | None = None,
        strength: float | None = None,
        start: str | float | None = None,
        end: str | float | None = None,
        note: str | None = None,
    ) -> JsonObject:
        """Pin, boost, bury or block items by item, category, brand or attribute."""
        payload = body(
            action=action,
            target=target,
            position=position,
            strength=strength,
            start=start,
            end=end,
            note=note,
        )
        return self._send(Call("POST", f"{API}/rules", json=payload))

    def delete_rule(self, rule_id: str) -> JsonObject:
        return self._send(Call("DELETE", f"{API}/rules/{seg(rule_id)}"))

    # -- tokens -------------------------------------------------------------------------------
    def create_token(
        self, user_id: str | None = None, session_id: str | None = None, ttl_s: int | None = None
    ) -> ShopperToken:
        """A shopper token (write key): hand it to the shopper's browser or app."""
        payload = body(user_id=user_id, session_id=session_id, ttl_s=ttl_s)
        return self._send(Call("POST", f"{API}/tokens", json=payload))
