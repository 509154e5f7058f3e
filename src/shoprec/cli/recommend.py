"""``shoprec recommend``: the feeds of a list of shoppers written to a JSON-lines file (an
e-mail campaign's batch), the same lines ``POST /v1/recommendations/batch`` streams."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoprec.cli.common import console, load, setup


def recommend(
    users: Annotated[
        Path, typer.Option(help="CSV of shopper ids: a user_id column, else the first column")
    ],
    out: Annotated[Path, typer.Option(help="JSON-lines file to write, one line per shopper")],
    store: Annotated[
        str | None,
        typer.Option(
            help="folder of the embedded store the server uses (default under artifacts), or"
            " redis://host:port/db"
        ),
    ] = None,
    dataset: Annotated[
        str, typer.Option(help="built-in name (amazon-beauty, synthetic) or a shop folder")
    ] = "amazon-beauty",
    quick: Annotated[
        bool, typer.Option(help="train the quick preset (about 2 minutes) if no checkpoint")
    ] = False,
    n: Annotated[int, typer.Option(min=1, max=100, help="items per shopper")] = 20,
    verbose: bool = False,
) -> None:
    """Write every listed shopper's feed (the body of GET /v1/users/{id}/recommendations) to
    OUT as JSON lines, with a progress bar; the models and the store are those serve uses."""
    from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn

    from shoprec.serving.batch import feed_chunks, read_user_ids
    from shoprec.serving.build import build_engine

    with users.open(newline="") as f:
        ids = read_user_ids(f)
    if not ids:
        raise typer.BadParameter(f"no shopper ids in {users}", param_hint="--users")
    settings = setup(verbose)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # per-feed numpy work is tiny, as in serve
    built = build_engine(load(dataset, settings), settings, store=store, quick=quick)
    chunk = 50
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeRemainingColumn())
    with out.open("wb") as f, Progress(*columns, console=console) as bar:
        task = bar.add_task("feeds", total=len(ids))
        for k, lines in enumerate(feed_chunks(built.engine, ids, n, chunk)):
            f.write(lines)
            bar.update(task, completed=min(len(ids), (k + 1) * chunk))
    console.print(f"wrote {len(ids)} feeds to {out}")
