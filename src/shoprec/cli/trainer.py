"""``shoprec trainer``: retrain a store's bundle on a schedule, beside the servers."""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec.cli.common import console, setup


def trainer(
    store: Annotated[
        str, typer.Option(help="the served store: redis://host:port/db, or a store folder")
    ],
    every: Annotated[str, typer.Option(help="time between two runs' starts: 30m, 6h, 1d")],
    quick: Annotated[bool, typer.Option(help="train the quick preset")] = False,
    max_seconds: Annotated[
        float | None, typer.Option(help="wall-clock budget of one run's sequence model")
    ] = None,
    now: Annotated[bool, typer.Option(help="run once at start, then on the schedule")] = False,
    verbose: bool = True,
) -> None:
    """Run ``shoprec train --store STORE`` every DURATION, each run its own process at lower
    priority and one thread; every server on the store (each worker, each replica) switches
    to the bundle a run publishes. Stop it with Ctrl-C."""
    from shoprec.serving.retrain import Retrainer, parse_duration

    try:
        seconds = parse_duration(every)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--every") from None
    if max_seconds is not None and max_seconds <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--max-seconds")
    setup(verbose)
    extra = ["--quick"] if quick else []
    if max_seconds is not None:
        extra += ["--max-seconds", str(max_seconds)]
    console.print(f"retraining {store} every {every} (first run {'now' if now else 'then'})")
    try:
        Retrainer(store, seconds, extra).loop(first_now=now)
    except KeyboardInterrupt:
        console.print("trainer stopped")
