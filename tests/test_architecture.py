"""The architecture holds: the import contracts of ``.importlinter`` (layers, pure models, stores
over data only, no cycles, imports inside functions included), every source file small enough to
read, every package saying what it is for, and ``docs/architecture.md`` drawing the same layers
as the contract."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "shoprec"
MAX_LINES = 400


def _contract_layers() -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    layers = cfg["importlinter:contract:layers"]["layers"]
    return [line.strip() for line in layers.splitlines() if line.strip()]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run(
        [str(lint), "--no-cache", "--config", str(ROOT / ".importlinter")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "BROKEN" not in run.stdout


def test_no_source_file_over_the_limit() -> None:
    long = {
        str(f.relative_to(SRC)): n
        for f in SRC.rglob("*.py")
        if (n := len(f.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these files (at most {MAX_LINES} lines each): {long}"


@pytest.mark.parametrize(
    "package", sorted(p.parent.relative_to(SRC).as_posix() for p in SRC.rglob("__init__.py"))
)
def test_each_package_says_what_it_is_for(package: str) -> None:
    text = (SRC / package / "__init__.py").read_text()
    doc = re.match(r'\s*(?:"""|\'\'\')(.+?)(?:"""|\'\'\')', text, re.S)
    assert doc and len(doc.group(1).split()) >= 8, f"{package}/__init__.py needs a docstring"


def test_docs_draw_the_contract_layers() -> None:
    """The layers block of ``docs/architecture.md`` is the contract's, line for line."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```text\n# layers, top to bottom.*?\n(.*?)```", doc, re.S)
    assert block, "docs/architecture.md lost its layers block"
    drawn = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert [d for d in drawn if d] == _contract_layers()
