"""The storefront (``/``) and the merchant dashboard (``/dashboard``): server-rendered pages
with a little JavaScript that talks to the public API. Everything is served locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from shoprec.serving.routes.deps import EngineDep

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def sample_shoppers(engine, n: int = 12) -> list[str]:  # noqa: ANN001
    """Known shoppers with a few events, for the shopper picker (cached: a walk of the store)."""
    return engine.census.sample(n)  # type: ignore[no-any-return]


@router.get("/", response_class=HTMLResponse)
async def storefront(
    request: Request,
    engine: EngineDep,
    shopper: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> HTMLResponse:
    """The demo storefront. With no credential configured: a picker of known shoppers. Once
    any is, no shopper ids are listed: the page shows one shopper, a fresh guest (or, for a
    caller presenting a server key, ``?shopper=``), and carries that shopper's own token (when
    the shop has a token secret) for its calls. ``SHOPREC_STOREFRONT=false``: 404."""
    from shoprec.serving.web.storefront import page_shopper

    gate = request.app.state.gate
    if not gate.cfg.storefront:
        raise HTTPException(404, "the storefront is switched off (SHOPREC_STOREFRONT=false)")
    context: dict = {"items": len(engine.catalog), "token": None, "fixed": gate.cfg.secured}
    if gate.cfg.secured:
        user, context["token"] = await page_shopper(request, gate, shopper)
        context["shoppers"] = [user]
    else:
        context["shoppers"] = [shopper] if shopper else sample_shoppers(engine)
    return templates.TemplateResponse(request, "store.html", context)


def shop_rules(request: Request, engine) -> list[dict] | None:  # noqa: ANN001
    """The business rules for the dashboard's list, or None when the admin API is closed to
    this request (keys configured, no admin key presented): the page itself is public."""
    if not request.app.state.gate.allows(request, "admin"):
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
