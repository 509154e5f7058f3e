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


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, engine: EngineDep) -> HTMLResponse:
    reports = request.app.state.reports_dir
    charts = sorted(p.name for p in reports.glob("*.png")) if reports else []
    return templates.TemplateResponse(request, "dashboard.html", {"charts": charts})
