"""``shoprec experiments tune``: off-policy estimates of the re-rank weight settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoprec.cli.common import console


def experiments_tune(
    log: Annotated[
        Path | None, typer.Option(help="exploration log (JSON lines, see offpolicy.py)")
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="embedded store folder holding an explore experiment")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option(help="the explore experiment to read from --store")
    ] = None,
    clicks: Annotated[float, typer.Option(help="objective weight of a click")] = 1.0,
    purchases: Annotated[float, typer.Option(help="objective weight of a purchase")] = 5.0,
    diversity: Annotated[float, typer.Option(help="weight of intra-list diversity")] = 0.5,
    current: Annotated[
        str | None, typer.Option(help="the setting served now (default: the grid's first)")
    ] = None,
    level: Annotated[float, typer.Option(min=0.5, max=0.999, help="interval level")] = 0.95,
) -> None:
    """Estimate, off-policy (IPS on the logged exploration traffic), what each re-rank weight
    setting would earn and its gain over the current one, with intervals. Applies nothing."""
    import json

    from rich.table import Table

    from shoprec.experiments.offpolicy import Objective, estimate, read_log

    if (log is None) == (store is None or experiment is None):
        raise typer.BadParameter("give --log, or --store with --experiment", param_hint="--log")
    if log is not None:
        if not log.is_file():
            raise typer.BadParameter(f"no such file: {log}", param_hint="--log")
        try:
            grid, records = read_log(log)
        except (ValueError, KeyError, TypeError) as e:
            raise typer.BadParameter(f"not an exploration log: {e}", param_hint="--log") from e
    else:
        grid, records = _exploration_records(store, experiment)  # type: ignore[arg-type]
    names = [g.name for g in grid]
    if current is not None and current not in names:
        raise typer.BadParameter(f"{current!r} is not in the grid {names}", param_hint="--current")
    if not records:
        raise typer.BadParameter("the log holds no records", param_hint="--log")
    cur = names.index(current) if current else 0
    rows = estimate(grid, records, Objective(clicks, purchases, diversity), cur, level)
    table = Table(title=f"{len(records)} logged requests, objective per request")
    for col in ("setting", "estimate", f"{level:.0%} interval", "gain", "gain interval", "n"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["setting"],
            f"{r['value']:.4f}",
            f"[{r['low']:.4f}, {r['high']:.4f}]",
            f"{r['gain']:+.4f}",
            f"[{r['gain_low']:+.4f}, {r['gain_high']:+.4f}]",
            str(r["matched"]),
        )
    console.print(table)
    best = max(range(len(rows)), key=lambda k: rows[k]["value"])
    if best != cur and rows[best]["gain_low"] > 0:
        console.print(
            f"[green]{names[best]}[/] beats {names[cur]} by {rows[best]['gain']:+.4f} "
            f"[{rows[best]['gain_low']:+.4f}, {rows[best]['gain_high']:+.4f}]; to apply, run it "
            f"as a variant of an experiment:\n{json.dumps(grid[best].to_dict())}"
        )
    else:
        console.print(f"no setting is surely better than {names[cur]}: keep it")


def _exploration_records(store: Path, name: str):  # -> (list[Strategy], list[Logged])
    """The grid and logged records of the explore experiment ``name`` in an embedded store."""
    from shoprec.experiments.records import ExperimentError
    from shoprec.experiments.registry import ExperimentRegistry
    from shoprec.store import DB_FILENAME
    from shoprec.store.sqlite_state import SQLiteStateStore

    path = store / DB_FILENAME
    if not path.is_file():
        raise typer.BadParameter(f"no store at {path}", param_hint="--store")
    registry = ExperimentRegistry(SQLiteStateStore[dict](path, dict, dict, table="experiments"))
    registry.load()
    try:
        exp = registry.get(name)
    except ExperimentError as e:
        raise typer.BadParameter(str(e), param_hint="--experiment") from e
    if exp.mode != "explore":
        raise typer.BadParameter(f"{name!r} is a {exp.mode} experiment", param_hint="--experiment")
    return registry.exploration_log(name)
