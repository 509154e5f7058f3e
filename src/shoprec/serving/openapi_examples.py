"""An example of every operation's request body and answer, by operation id, and of every
parameter, by name: shown in ``/docs`` and carried by the OpenAPI document into generated
clients. ``tests/test_openapi.py`` checks that every operation has them and that each example
validates against the route's own schema."""

from __future__ import annotations

from typing import Any

_ITEM = {
    "item_id": "B00GHX0SHU",
    "score": 0.83,
    "reasons": ["Often bought with Vitamin C Serum", "Trending in Skin Care"],
}
_LIST = {
    "recommendation_id": "r7Kq2bX9",
    "offset": 0,
    "model_version": "20261203T161502Z-3fa9c1",
}
_FEED = {
    "user_id": "A3NHUQ33CFH3VM",
    **_LIST,
    "items": [_ITEM],
    "fallback": None,
    "strategy": "default",
    "experiment": None,
    "variant": None,
    "request_id": None,
}
_RULE = {
    "rule_id": "rule-3f9a",
    "action": "pin",
    "target": {"type": "item", "value": "B00GHX0SHU", "name": None},
    "position": 1,
    "strength": None,
    "start": None,
    "end": "2026-12-24T00:00:00Z",
    "note": "Christmas",
    "created_at": "2026-12-03T14:20:00Z",
    "active": True,
}
_EVENT = {
    "user_id": "A3NHUQ33CFH3VM",
    "item_id": "B00GHX0SHU",
    "type": "view",
    "timestamp": 1735689600.0,
    "event_id": "evt-000123",
}
_CITATION = {"item_id": "B00GHX0SHU", "field": "description", "text": "20% vitamin C"}
_INTERVAL = {"value": 0.041, "low": 0.035, "high": 0.047}
_VARIANT = {
    "name": "ranker",
    "strategy": {"name": "ranker", "use_ranker": True},
    "share": 0.5,
    "users": 1200,
    "lists": 5400,
    "impressions": 54000,
    "clicks": 2210,
    "click_events": 2300,
    "add_to_carts": 410,
    "purchases": 120,
    "converted": 96,
    "revenue": 2480.5,
    "ctr": _INTERVAL,
    "conversion": {"value": 0.08, "low": 0.065, "high": 0.096},
    "revenue_per_user": {"value": 2.07, "low": 1.7, "high": 2.45},
    "prob_best": 0.91,
    "lift": None,
}
_WEEK = {"week": "2025-W01", "count": 12, "negative": 0.1, "neutral": 0.2, "positive": 0.7}
_SCORES = {"negative": 0.02, "neutral": 0.08, "positive": 0.9}

_RULE = {
    "rule_id": "rule-3f9a",
    "action": "boost",
    "target": {"type": "brand", "value": "Glow Lab", "name": None},
    "position": None,
    "strength": 0.5,
    "start": "2026-12-01T00:00:00Z",
    "end": "2026-12-24T00:00:00Z",
    "note": "December promotion",
    "created_at": "2026-11-30T09:00:00Z",
    "active": False,
}

#: ``{operation id: {"request": body, "response": the 2xx answer's body}}``.
EXAMPLES: dict[str, dict[str, Any]] = {
    "get_healthz": {
        "response": {
            "status": "ok",
            "items": 12101,
            "model": "20261203T161502Z-3fa9c1",
            "model_version": "20261203T161502Z-3fa9c1",
        }
    },
    "get_readyz": {
        "response": {
            "status": "ready",
            "checks": {"store": "ok", "model": "ok"},
            "items": 12101,
            "model": "a41c9e0",
        }
    },
    "get_metrics": {
        "response": "# TYPE shoprec_http_requests_total counter\n"
        'shoprec_http_requests_total{method="GET",route="/healthz",status="200"} 3.0\n'
    },
    "get_stats": {
        "response": {
            "events_per_s": 12.5,
            "events_last_minute": 740,
            "latency_ms": {"GET /v1/search": {"count": 40, "p50": 2.1, "p90": 3.9, "p99": 7.5}},
            "ctr": 0.041,
            "impressions": 5400,
            "clicks": 221,
            "coverage": 0.38,
            "fallback_rate": 0.02,
            "recommendation_requests": 1800,
            "items": 12101,
            "shoppers": 22363,
            "model_version": "a41c9e0",
            "falling_sentiment": [],
        }
    },
    "post_events": {
        "request": {"events": [_EVENT, {**_EVENT, "type": "purchase", "event_id": "evt-124"}]},
        "response": {"accepted": 2, "duplicates": 0},
    },
    "put_items": {
        "request": {
            "items": [
                {
                    "item_id": "B00GHX0SHU",
                    "title": "Vitamin C Serum 20%",
                    "description": "Brightening serum with hyaluronic acid.",
                    "category": ["Beauty", "Skin Care", "Face"],
                    "brand": "Glow Lab",
                    "price": 19.99,
                    "in_stock": True,
                    "attributes": {"size": "30 ml"},
                }
            ]
        },
        "response": {"upserted": 1, "new": 1},
    },
    "get_item": {
        "response": {
            "item_id": "B00GHX0SHU",
            "title": "Vitamin C Serum 20%",
            "description": "Brightening serum with hyaluronic acid.",
            "category": ["Beauty", "Skin Care", "Face"],
            "brand": "Glow Lab",
            "price": 19.99,
            "in_stock": True,
            "tags": ["Skin Care", "Beauty", "price: mid"],
            "derived_category": None,
        }
    },
    "get_similar_items": {"response": {"item_id": "B00GHX0SHU", **_LIST, "items": [_ITEM]}},
    "get_recommendations": {"response": _FEED},
    "get_session_recommendations": {"response": {**_FEED, "user_id": "session:s-8f2c"}},
    "batch_recommendations": {  # the answer: one such line per shopper (JSON lines)
        "request": {"user_ids": ["A3NHUQ33CFH3VM", "A1B2C3"], "n": 10},
        "response": _FEED,
    },
    "list_rules": {"response": {"rules": [_RULE]}},
    "create_rule": {
        "request": {
            "action": "pin",
            "target": {"type": "item", "value": "B00GHX0SHU"},
            "position": 1,
            "end": "2026-12-24T00:00:00Z",
            "note": "Christmas",
        },
        "response": _RULE,
    },
    "delete_rule": {"response": {"rule_id": "rule-3f9a", "deleted": True}},
    "create_token": {
        "request": {"user_id": "A3NHUQ33CFH3VM", "ttl_s": 900},
        "response": {
            "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJBM05IVVEzM0NGSDNWTSJ9.c2ln",
            "user_id": "A3NHUQ33CFH3VM",
            "session_id": None,
            "expires_at": 1735690500.0,
        },
    },
    "get_profile": {
        "response": {
            "user_id": "A3NHUQ33CFH3VM",
            "interests": [{"tag": "Skin Care", "weight": 2.5}],
            "recent": [{"item_id": "B00GHX0SHU", "timestamp": 1735689600.0, "type": "view"}],
            "bought": ["B000052YAN"],
            "session_id": None,
            "n_events": 14,
        }
    },
    "delete_user": {"response": {"user_id": "A3NHUQ33CFH3VM", "events_deleted": 14}},
    "delete_session": {"response": {"session_id": "s-42", "events_deleted": 3}},
    "post_feedback": {
        "request": {
            "user_id": "A3NHUQ33CFH3VM",
            "impressions": ["B00GHX0SHU", "B000052YAN"],
            "clicks": ["B00GHX0SHU"],
            "recommendation_id": "r7Kq2bX9",
        },
        "response": {"impressions": 2, "clicks": 1, "stored": 3},
    },
    "export_user": {
        "response": {
            "user_id": "A3NHUQ33CFH3VM",
            "events": [
                {
                    **_EVENT,
                    "session_id": None,
                    "query": None,
                    "text": None,
                    "rating": None,
                    "recommendation_id": None,
                }
            ],
            "state": {"recent": ["B00GHX0SHU"]},
            "experiments": [
                {
                    "experiment": "mmr-test",
                    "variant_name": "diverse",
                    "variant": 1,
                    "impressions": 6,
                    "clicks": 1,
                    "purchases": 0,
                    "revenue": 0.0,
                }
            ],
            "exploration": [],
        }
    },
    "search": {
        "response": {"query": "vitamin c serum", "user_id": None, **_LIST, "items": [_ITEM]}
    },
    "ask_assistant": {
        "request": {"question": "A gentle cleanser for dry skin under $20?", "user_id": "A1B2C3"},
        "response": {
            "answer": "Hydrating Cream Cleanser ($12.50) suits dry skin.",
            "intent": "need",
            "products": [{"item_id": "B000052YAN", "reasons": ["for dry skin", "under $20"]}],
            "citations": [{**_CITATION, "item_id": "B000052YAN", "text": "for dry skin"}],
            "constraints": {"max_price": 20.0},
        },
    },
    "post_audiences": {
        "request": {"category": "Skin Care", "n": 100},
        "response": {"target_items": 840, "users": [{"user_id": "A1B2C3", "score": 0.31}]},
    },
    "post_messages": {
        "request": {"user_id": "A1B2C3", "item_id": "B00GHX0SHU", "name": "Ana"},
        "response": {
            "user_id": "A1B2C3",
            "item_id": "B00GHX0SHU",
            "message": "Ana, Vitamin C Serum 20% has 20% vitamin C.",
            "citations": [_CITATION],
        },
    },
    "score_sentiment": {
        "request": {"texts": ["Love it, my skin glows", "Broke me out, returning it"]},
        "response": {
            "results": [
                {"label": "positive", "intensity": 0.9, "scores": _SCORES},
                {
                    "label": "negative",
                    "intensity": 0.8,
                    "scores": {"negative": 0.85, "neutral": 0.1, "positive": 0.05},
                },
            ],
            "model": "quick",
            "model_version": "quick-3f2a",
        },
    },
    "get_item_sentiment": {
        "response": {
            "item_id": "B00GHX0SHU",
            "count": 48,
            "negative": 0.1,
            "neutral": 0.15,
            "positive": 0.75,
            "mean_intensity": 0.7,
            "drift": -0.05,
            "trend": [_WEEK],
            "highlight": "my skin glows",
            "model": "quick",
            "model_version": "quick-3f2a",
        }
    },
    "create_experiment": {
        "request": {
            "name": "ranker-vs-blend",
            "variants": [
                {"name": "blend", "strategy": {"use_ranker": False}},
                {"name": "ranker", "strategy": {"use_ranker": True}},
            ],
            "mode": "fixed",
        },
    },
    "list_experiments": {
        "response": [
            {"name": "ranker-vs-blend", "status": "running", "mode": "fixed", "variants": 2}
        ]
    },
    "get_experiment_report": {
        "response": {
            "name": "ranker-vs-blend",
            "status": "running",
            "mode": "fixed",
            "control": "blend",
            "floor": 0.05,
            "traffic": [0.5, 0.5],
            "created_at": 1735689600.0,
            "stopped_at": None,
            "outcome": None,
            "level": 0.95,
            "variants": [{**_VARIANT, "name": "blend", "prob_best": 0.09}, _VARIANT],
        }
    },
    "stop_experiment": {
        "request": {"action": "promote", "variant": "ranker"},
        "response": {
            "name": "ranker-vs-blend",
            "action": "promote",
            "variant": "ranker",
            "strategy": {"name": "ranker", "use_ranker": True},
        },
    },
    "rank_items": {
        "request": {
            "user_id": "A3NHUQ33CFH3VM",
            "items": ["B000052YAN", "B00GHX0SHU", "NOT-IN-CATALOG"],
            "context": {"keep_bought": False, "keep_out_of_stock": False},
        },
        "response": {
            "user_id": "A3NHUQ33CFH3VM",
            "session_id": None,
            "items": [
                _ITEM,
                {
                    "item_id": "B000052YAN",
                    "score": 0.41,
                    "model_score": -2.7,
                    "reasons": ["You bought this already", "Popular in Skin Care"],
                },
                {
                    "item_id": "NOT-IN-CATALOG",
                    "score": 0.0,
                    "model_score": None,
                    "reasons": ["Not in the catalog"],
                },
            ],
            "unknown": ["NOT-IN-CATALOG"],
            "duplicates": [],
            "demoted": {"bought": ["B000052YAN"], "out_of_stock": []},
            "fallback": None,
            "recommendation_id": "kq3VxT0w1Pm8ZrAa",
            "offset": 0,
            "model_version": "20261203T161502Z-3fa9c1",
        },
    },
}
EXAMPLES["create_experiment"]["response"] = EXAMPLES["get_experiment_report"]["response"]

#: An example of every path and query parameter, by name.
PARAMETERS: dict[str, Any] = {
    "user_id": "A3NHUQ33CFH3VM",
    "item_id": "B00GHX0SHU",
    "session_id": "s-8f2c",
    "name": "ranker-vs-blend",
    "n": 10,
    "top": 10,
    "rule_id": "rule-3f9a",
    "q": "vitamin c serum",
    "category": "Skin Care",
    "min_price": 5.0,
    "max_price": 50.0,
    "exclude": "B000052YAN,B00AB12CD3",
    "offset": 10,
    "cursor": "r7Kq2bX9",
}
