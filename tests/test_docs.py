"""The docs in ``docs/`` stay true to the code: the settings page is what the generator writes
now, every ``SHOPREC_*`` variable the code reads is documented, every route of the app is in the
API page, and no tracked file points outside the repository to the team's guidance files."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shoprec import settings_doc

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: References the repository must not hold (built by concatenation so this file is checked too).
FORBIDDEN = re.compile(
    "|".join(
        [
            re.escape(".." + "/shared"),
            re.escape("shared" + "/") + "(?:DESIGN|BENCHMARKS|STYLE)",
            r"\b(?:DESIGN|BENCHMARKS|STYLE)" + r"(?:\.md|\s+(?:invariant|section)\b)",
        ]
    )
)
#: The one place allowed to name the default data folder without naming its variable (the
#: field's default): (path, text in the line). Any line naming ``SHOPREC_DATA_DIR`` is allowed
#: too: the folder's documentation and the CI script that exports it.
ALLOWED = {("src/shoprec/settings.py", 'default=Path("' + ".." + '/shared/data")')}
ALLOWED_MARK = "SHOPREC_" + "DATA_DIR"


def tracked() -> list[str]:
    """The repository's tracked files (paths relative to the root)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"not a git checkout: {e}")
    return [p for p in out.decode().split("\0") if p]


def text_lines(path: str) -> Iterator[tuple[int, str]]:
    """Numbered lines of a text file; binary files (NUL bytes, not UTF-8) yield nothing."""
    full = ROOT / path
    if not full.is_file():  # deleted in the work tree, not yet in the index
        return
    raw = full.read_bytes()
    if b"\0" in raw:
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    yield from enumerate(text.splitlines(), 1)


def test_settings_page_is_what_the_generator_writes() -> None:
    page = DOCS / "settings.md"
    current = page.read_text(encoding="utf-8") if page.is_file() else ""
    assert current == settings_doc.render(), (
        f"docs/settings.md is stale: regenerate it with `{settings_doc.COMMAND}` "
        "(from the repository root)"
    )


def test_every_shoprec_variable_is_documented() -> None:
    documented = (DOCS / "settings.md").read_text(encoding="utf-8")
    sources = [
        p
        for p in tracked()
        if p.startswith(("src/", "tests/", ".ci/"))
        or p == "Makefile"
        or (p.startswith("bench/") and p.endswith(".py"))
    ]
    assert any(p.startswith("src/") for p in sources) and "Makefile" in sources
    used: dict[str, str] = {}
    for path in sources:
        for n, line in text_lines(path):
            for name in re.findall(r"SHOPREC_[A-Z0-9_]*[A-Z0-9]", line):
                used.setdefault(name, f"{path}:{n}")
    assert "SHOPREC_DATA_DIR" in used  # the scan reads the files at all
    missing = {name: where for name, where in used.items() if f"`{name}`" not in documented}
    assert not missing, (
        f"SHOPREC_* variables used but not in docs/settings.md: {missing}; a Settings field "
        f"appears after `{settings_doc.COMMAND}`, a variable read through os.environ needs a "
        "row in shoprec.settings_doc.DIRECT"
    )


def test_no_file_refers_to_the_workspace_guidance() -> None:
    found = []
    for path in tracked():
        for n, line in text_lines(path):
            if not FORBIDDEN.search(line):
                continue
            if ALLOWED_MARK in line or any(path == p and s in line for p, s in ALLOWED):
                continue
            found.append(f"{path}:{n}: {line.strip()[:120]}")
    assert not found, (
        "the repository must not point at the workspace's guidance files or other paths "
        "outside it; cite the docs/ page that carries the content:\n" + "\n".join(found)
    )


def test_the_forbidden_pattern_catches_what_it_should() -> None:
    bad = [
        "see .." + "/shared/" + "DESIGN" + ".md",
        "(BENCHMARKS" + ".md section 1)",
        "STYLE" + ".md: implicit",
        "(DESIGN" + " invariant 6)",
        "BENCHMARKS" + " section 2",
    ]
    good = ["docs/benchmarks.md, offline protocol", "a DESIGN of our own", "style.css"]
    assert all(FORBIDDEN.search(s) for s in bad)
    assert not any(FORBIDDEN.search(s) for s in good)


def _app_routes(routes: list) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, descending into included routers; mounts get method ''."""
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)  # {user_id:path} as OpenAPI names it
            methods = getattr(route, "methods", None)
            for m in sorted(methods - {"HEAD"}) if methods else [""]:
                yield m, path
        candidates = getattr(route, "effective_candidates", None)  # FastAPI's included routers
        if callable(candidates):
            yield from _app_routes(candidates())


def test_every_route_is_in_the_api_page(tmp_path: Path) -> None:
    """Built like ``shoprec serve`` builds it (the reports mount included), over an empty
    engine: the routes do not depend on the models."""
    from shoprec.serving import degrade
    from shoprec.serving.app import create_app
    from shoprec.serving.engine import Engine
    from shoprec.store import MemoryStateStore, open_embedded

    events, items = open_embedded(tmp_path / "store")
    try:
        engine = Engine(
            events, items, MemoryStateStore(), lambda texts: np.zeros((len(texts), 384))
        )
        reports = tmp_path / "reports"
        reports.mkdir()
        app = degrade.install(create_app(engine, reports_dir=reports))
        routes = set(_app_routes(app.routes))
        spec_paths = set(app.openapi()["paths"])
    finally:
        events.close()
        items.close()
    assert spec_paths <= {p for _, p in routes}, "the walk missed routes the OpenAPI lists"
    assert ("GET", "/v1/users/{user_id}/recommendations") in routes and ("", "/static") in routes
    page = (DOCS / "api.md").read_text(encoding="utf-8")
    headings = {ln[4:].strip() for ln in page.splitlines() if ln.startswith("### ")}
    missing = sorted(
        f"{m} {p}".strip()
        for m, p in routes
        if (m and f"{m} {p}" not in headings) or (not m and f"`{p}`" not in page)
    )
    assert not missing, (
        f"routes of the app missing from docs/api.md (as '### METHOD path'): {missing}"
    )
