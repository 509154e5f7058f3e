"""The storefront (``/``) and the merchant dashboard (``/dashboard``): server-rendered pages
with a little JavaScript that talks to the public API. Everything is served locally."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from shoprec.data.keys import is_session_key
from shoprec.serving.routes.deps import EngineDep

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def sample_shoppers(engine, n: int = 12) -> list[str]:  # noqa: ANN001
    """Known shoppers with a few events, for the shopper picker."""
    out = []
    for user in engine.states.users():
        if is_session_key(user):
            continue
        st = engine.states.get(user)
        if st is not None and st.n_events >= 5:
            out.append(user)
        if len(out) >= n:
            break
    return out


@router.get("/", response_class=HTMLResponse)
async def storefront(request: Request, engine: EngineDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "store.html", {"shoppers": sample_shoppers(engine), "items": len(engine.catalog)}
    )


def shop_rules(request: Request, engine) -> list[dict] | None:  # noqa: ANN001
    """The business rules for the dashboard's list, or None when the admin API is closed to
    this request (admin keys configured, none presented): the page itself is public."""
    from fastapi import HTTPException

    try:
        request.app.state.guards["admin"](request)
    except HTTPException:
        return None
    now = engine.rules.clock()
    return [
        {
            "rule": r,
            "what": f"{r.attribute}={r.value}" if r.target == "attribute" else r.value,
            "active": r.active(now),
            "start": _day(r.start),
            "end": _day(r.end),
        }
        for r in engine.rules.list()
    ]


def _day(seconds: float | None) -> str:
    from datetime import UTC, datetime

    return (
        "" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")
    )


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, engine: EngineDep) -> HTMLResponse:
    # a plain def: the rules are read from the store (SQLite or Redis) off the event loop
    reports = request.app.state.reports_dir
    charts = sorted(p.name for p in reports.glob("*.png")) if reports else []
    context = {"charts": charts, "rules": shop_rules(request, engine)}
    return templates.TemplateResponse(request, "dashboard.html", context)
