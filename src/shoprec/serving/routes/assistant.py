"""``POST /v1/assistant``: grounded answers from the catalog, personalised to the shopper."""

from __future__ import annotations

from dataclasses import asdict

from shoprec.serving.routes.deps import SHOPPER_READ, EngineDep, api_router
from shoprec.serving.schemas.search import AssistantIn, AssistantOut

router = api_router(tags=["assistant"])


@router.post("/assistant", response_model=AssistantOut, dependencies=[SHOPPER_READ])
def ask_assistant(body: AssistantIn, engine: EngineDep) -> dict:  # sync: encodes text
    """Answer a shopper's question; every fact in ``answer`` comes from a cited record."""
    a = engine.assistant().ask(body.question, body.user_id)
    return {
        "answer": a.answer,
        "intent": a.intent,
        "products": [{"item_id": i, "reasons": r} for i, r in a.products],
        "citations": [asdict(c) for c in a.citations],
        "constraints": asdict(a.constraints),
    }
