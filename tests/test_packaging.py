"""The package is what a newcomer installs: every imported distribution is declared, the wheel
carries the web pages and runs the CLI on its own, and serving needs no uvloop or httptools."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

from typer.testing import CliRunner

from shoprec import cli

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "shoprec"

# Needed at run time though no module imports them by name: an import of the key (a module, or
# an attribute called anywhere) makes the value a requirement.
IMPLIED_BY_MODULE = {"fastapi.templating": "jinja2", "fastapi.testclient": "httpx"}
IMPLIED_BY_CALL = {"read_parquet": "pyarrow", "to_parquet": "pyarrow"}
# extras that are tooling, not optional features of the package
TOOLING_EXTRAS = {"dev"}


def _normalise(name: str) -> str:
    """PEP 503 name: case, '-', '_' and '.' do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_normalise(re.match(r"[A-Za-z0-9._-]+", r.strip())[0]) for r in requirements}


def _imports(tree: ast.AST) -> tuple[set[str], set[str], set[str]]:
    """Modules imported at import time, modules imported inside functions (lazily), and the
    names of attributes called."""
    eager: set[str] = set()
    lazy: set[str] = set()
    calls: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                names = []  # relative: the package itself
            (lazy if in_function else eager).update(names)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            calls.add(node.func.attr)
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return eager, lazy, calls


def undeclared(pyproject: dict, src: Path) -> list[str]:
    """Third-party distributions imported under ``src`` and not declared: eager imports need a
    core dependency; lazy ones may come from an optional extra (opacus from ``dp``)."""
    project = pyproject["project"]
    core = _requirement_names(project["dependencies"])
    extras = {
        name
        for extra, reqs in project.get("optional-dependencies", {}).items()
        if extra not in TOOLING_EXTRAS
        for name in _requirement_names(reqs)
    }
    dists = packages_distributions()
    needed: dict[str, tuple[str, bool, Path]] = {}  # module -> (distribution?, lazy, a file)
    for path in sorted(src.rglob("*.py")):
        eager, lazy, calls = _imports(ast.parse(path.read_text(), str(path)))
        implied = {IMPLIED_BY_MODULE[m] for m in eager | lazy if m in IMPLIED_BY_MODULE}
        implied |= {IMPLIED_BY_CALL[c] for c in calls if c in IMPLIED_BY_CALL}
        for module, is_lazy in [*((m, False) for m in eager), *((m, True) for m in lazy)]:
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "shoprec":
                continue
            if top not in needed or (needed[top][1] and not is_lazy):  # eager wins
                needed[top] = ("", is_lazy, path)
        for dist in implied:
            needed.setdefault(f"<{dist}>", (dist, False, path))
    problems = []
    for module, (dist, is_lazy, path) in sorted(needed.items()):
        candidates = {_normalise(d) for d in ([dist] if dist else dists.get(module, []))}
        where = path.relative_to(src.parent)
        if not candidates:
            problems.append(f"{module} ({where}) is imported but no installed distribution has it")
        elif not candidates & (core | extras if is_lazy else core):
            kind = "a dependency or an extra" if is_lazy else "a dependency"
            problems.append(f"{'/'.join(sorted(candidates))} ({where}) is not declared as {kind}")
    return sorted(problems)


def test_every_imported_distribution_is_declared() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert undeclared(pyproject, SRC) == []


def test_the_check_finds_an_undeclared_import(tmp_path: Path) -> None:
    """The check above can fail: imports (eager, lazy, implied) missing from a pyproject."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        textwrap.dedent(
            """
            import json
            import numpy as np
            from fastapi.templating import Jinja2Templates

            def train():
                import opacus

            def load(path):
                import pandas as pd
                return pd.read_parquet(path)
            """
        )
    )
    deps = {"dependencies": ["numpy>=1", "fastapi", "pandas"]}
    found = undeclared({"project": deps}, pkg)
    assert [p.split(" ")[0] for p in found] == ["jinja2", "opacus", "pyarrow"], found
    dp = {**deps, "optional-dependencies": {"dp": ["opacus"], "dev": ["jinja2", "pyarrow"]}}
    assert [p.split(" ")[0] for p in undeclared({"project": dp}, pkg)] == ["jinja2", "pyarrow"]


def test_version_and_top_help_name_every_command() -> None:
    runner = CliRunner()
    version = runner.invoke(cli.app, ["--version"])
    assert version.exit_code == 0, version.output
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert version.output.strip() == f"shoprec {pyproject['project']['version']}"
    commands = [
        c.name or c.callback.__name__.replace("_", "-")  # type: ignore[union-attr]
        for c in cli.app.registered_commands
    ]
    for group in cli.app.registered_groups:
        sub = group.typer_instance.registered_commands  # type: ignore[union-attr]
        commands += [f"{group.name} {c.name}" for c in sub]
    assert len(commands) >= 8
    for name in commands:
        assert re.search(rf"(^|[\s,(]){name}\b", cli.HELP), f"top help omits {name}"


def test_wheel_installs_and_runs_on_its_own(tmp_path: Path) -> None:
    """Build the wheel, install it alone in a fresh venv whose dependencies come from this
    project's venv (a path .pth: nothing downloaded), and run the CLI and the app from it."""
    # build from a copy: an in-tree build writes build/ and egg-info into the shared checkout
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    for name in ["pyproject.toml", "README.md", "LICENSE"]:
        shutil.copy2(ROOT / name, tree / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", str(tree), "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*build, "-w", str(wheels)], check=True, timeout=120)
    (wheel,) = wheels.glob("shoprec-*.whl")

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(metadata).decode()
    web = SRC / "serving" / "web"
    files = [p.relative_to(SRC.parent).as_posix() for p in web.rglob("*") if p.is_file()]
    kept = ("shoprec/serving/web/templates/", "shoprec/serving/web/static/")
    pages = [p for p in files if p.startswith(kept)]
    assert pages and not set(pages) - names, set(pages) - names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: Apache-2.0" in meta
    assert 'uvloop>=0.19; sys_platform != "win32"' in meta

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, timeout=120)
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # a path line, not site.addsitedir: the .pth files there (the editable install's, which
    # points at src/) are not run, so only the wheel's shoprec can be imported
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "project-deps.pth").write_text("".join(f"{p}\n" for p in ours))

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args: str | Path) -> str:
        done = subprocess.run(
            [str(a) for a in args], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    shoprec = venv / "bin" / "shoprec"
    assert "evaluate" in run(shoprec, "--help")
    version = re.search(r"^Version: (.+)$", meta, re.M)[1]  # type: ignore[index]
    assert run(shoprec, "--version").strip() == f"shoprec {version}"
    probe = (
        "import shoprec, shoprec.serving.app\n"
        "from shoprec.serving.web.routes import templates\n"
        "templates.get_template('store.html'); templates.get_template('dashboard.html')\n"
        "print(shoprec.__file__)"
    )
    used = Path(run(python, "-c", probe).strip()).resolve()
    assert used.is_relative_to(venv.resolve()), f"imported {used}, not the wheel's copy"


def test_serving_needs_neither_uvloop_nor_httptools() -> None:
    """uvicorn's "auto" loop and HTTP parser fall back to asyncio and h11 (Windows has no
    uvloop): nothing in shoprec imports them or asks uvicorn for them by name."""
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        eager, lazy, _ = _imports(tree)
        assert not {m.split(".")[0] for m in eager | lazy} & {"uvloop", "httptools"}, path
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg in {"loop", "http"} and isinstance(kw.value, ast.Constant):
                        assert kw.value.value == "auto", f"{path}: {kw.arg}={kw.value.value!r}"
    probe = textwrap.dedent(
        """
        import sys, threading, time
        sys.modules["uvloop"] = sys.modules["httptools"] = None  # as if not installed
        import httpx, uvicorn
        import shoprec.cli, shoprec.serving.app, shoprec.serving.workers
        from fastapi import FastAPI

        app = FastAPI()

        @app.get("/loop")
        async def loop() -> str:
            import asyncio
            return type(asyncio.get_running_loop()).__module__

        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(httpx.get(f"http://127.0.0.1:{port}/loop").json())
        print(server.config.http_protocol_class.__name__)
        server.should_exit = True
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loop_module, protocol = done.stdout.split()
    assert loop_module.startswith("asyncio") and protocol == "H11Protocol", done.stdout
