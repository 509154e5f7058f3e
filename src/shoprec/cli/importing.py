"""``shoprec import``: a shop's items, events and reviews files into its store, with a
progress bar; safe to run again (nothing is stored twice) and beside a running server (which
follows the store: ``serving/follow.py``, or the stream over Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoprec.cli.common import console, open_store, setup
from shoprec.settings import Settings

#: Exit status of an import refused for bad input (a file, row and field named).
BAD_INPUT = 2

FileOption = Annotated[
    Path | None,
    typer.Option(help="CSV, JSONL or Parquet file (by its suffix); columns: docs/import.md"),
]


def import_window(settings: Settings) -> tuple[float, float]:
    """The event times an import accepts: those the engine's clock would (wall clock: from
    ``now - SHOPREC_RETAIN_DAYS`` to ``now + SHOPREC_MAX_FUTURE_SKEW_S``); under the data
    clock only the upper bound, from the wall clock (history has no lower one)."""
    from shoprec.serving.clock import EngineClock

    clock = EngineClock.from_settings(settings, historic=False)
    if clock.mode == "data":
        clock.retain_s = None
    return clock.window()


def import_(
    store: Annotated[
        str, typer.Option(help="the shop's store: a folder (embedded) or redis://host:port/db")
    ],
    items: FileOption = None,
    events: FileOption = None,
    reviews: FileOption = None,
    chunk: Annotated[
        int, typer.Option(min=1, help="events per append (one transaction each)")
    ] = 5_000,
    verbose: bool = False,
) -> None:
    """Import items (upserted), events and reviews into STORE. Every file is validated whole
    first: a bad row stops the import (exit status 2) naming the file, the row and the field,
    with nothing written. Events without an event_id get one derived from their content, so
    running the same import again, or again after a crash, stores each event once."""
    from rich.progress import MofNCompleteColumn, Progress, TaskID, TimeRemainingColumn

    from shoprec.data.readers import DataFormatError
    from shoprec.store import locate
    from shoprec.store.bulk_import import import_rows, read_files

    if not (items or events or reviews):
        raise typer.BadParameter("give at least one of --items, --events, --reviews")
    settings = setup(verbose)  # the shop's declared event types, before any file is read
    try:
        with console.status("reading and validating the files"):
            files = read_files(items, events, reviews, window=import_window(settings))
    except DataFormatError as exc:
        console.print(f"[red]import refused, nothing written:[/] {exc}")
        raise typer.Exit(BAD_INPUT) from None
    redis_url = locate(store).redis_url
    shared = None
    if redis_url is not None:  # events also onto the shoppers' pending lists: replicas fold them
        from shoprec.serving.shared import SharedState

        # a chunk is one script call: more time than a request's timeout allows
        shared = SharedState(redis_url, settings.redis_prefix, max(settings.redis_timeout_s, 10.0))
        log, catalog = shared.log, shared.items
    else:
        log, catalog = open_store(store, settings)
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=not verbose) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(what: str, done: int, total: int) -> None:
                if what not in tasks:
                    tasks[what] = bar.add_task(what, total=total)
                bar.update(tasks[what], completed=done)

            report = import_rows(log, catalog, files, chunk=chunk, progress=progress)
    finally:
        if shared is not None:
            shared.close()
        else:
            log.close()
            catalog.close()
    console.print(
        f"items: {report.items} upserted ({report.new_items} new); "
        f"events: {report.events} read; reviews: {report.reviews} read; "
        f"stored {report.stored} new, {report.known} already stored "
        f"({report.seconds:.1f} s)"
    )
    if report.unknown_items:
        some = ", ".join(report.unknown_items[:5])
        console.print(
            f"[yellow]{len(report.unknown_items)} item ids named by events are not in the "
            f"catalog[/] (e.g. {some}): they join the shoppers' histories; import those items"
            " to make them recommendable"
        )
