"""``shoprec compact``: drop the events older than the retention window from a store's log
(``store/retention.py``, ``store/redis_retention.py``), with progress; safe beside a running
server (short transactions, or one atomic script per batch over Redis)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from shoprec.cli.common import console, open_store, setup

if TYPE_CHECKING:
    from shoprec.store.protocols import EventLog
    from shoprec.store.retention import Compaction


def compact(
    store: Annotated[
        str, typer.Option(help="the shop's store: a folder (embedded) or redis://host:port/db")
    ],
    retain_days: Annotated[
        float | None,
        typer.Option(help="the window in days, > 0 (default: SHOPREC_RETAIN_DAYS)"),
    ] = None,
    vacuum: Annotated[
        bool,
        typer.Option(
            help="embedded: rewrite the file once (VACUUM, blocks writers while it runs) so that"
            " this and every later compaction hands freed space back to the file system"
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            help="read the whole log instead of stopping at the first event inside the window:"
            " also drops old events appended after newer ones (once, when a window is set on a"
            " log filled without one)"
        ),
    ] = False,
    verbose: bool = False,
) -> None:
    """Drop events older than the window from STORE's log: the oldest first, stopping at the
    first event inside the window (--full: reading on to the end); the embedded log keeps each
    signed-in shopper's latest 200 events (what a restart rebuilds their state from); over
    Redis the stream, its dedupe ids and the per-shopper id lists are trimmed alike. Now is the
    wall clock, or with SHOPREC_CLOCK=data the latest event time in the log (auto: the wall
    clock, as for `serve --store`)."""
    from rich.progress import BarColumn, Progress, TextColumn

    from shoprec.online.state import MAX_RECENT
    from shoprec.store import SQLiteEventLog

    settings = setup(verbose)
    days = retain_days if retain_days is not None else settings.retain_days
    if days is None:
        raise typer.BadParameter(
            "no window: give --retain-days or set SHOPREC_RETAIN_DAYS", param_hint="--retain-days"
        )
    if days <= 0:
        raise typer.BadParameter(f"must be > 0, got {days:g}", param_hint="--retain-days")
    events, items = open_store(store, settings)
    try:
        now = time.time() if settings.clock != "data" else _latest(events)
        cutoff = now - days * 86_400.0
        total = events.count()
        with Progress(
            TextColumn("[bold]compact"),
            BarColumn(),
            TextColumn("{task.description}"),
            console=console,
        ) as bar:
            task = bar.add_task("", total=total or 1)

            def progress(done: Compaction) -> None:
                bar.update(
                    task,
                    completed=done.scanned,
                    description=f"{done.dropped} dropped, {done.kept_for_state} kept for state",
                )

            if isinstance(events, SQLiteEventLog):
                from shoprec.store.retention import compact_sqlite

                done = compact_sqlite(
                    events, cutoff, MAX_RECENT, vacuum=vacuum, full=full, progress=progress
                )
            else:
                from shoprec.store.redis_log import RedisEventLog
                from shoprec.store.redis_retention import compact_redis

                assert isinstance(events, RedisEventLog)
                done = compact_redis(events, cutoff, full=full, progress=progress)
        left = events.count()
    finally:
        events.close()
        items.close()
    console.print(
        f"dropped {done.dropped} of {total} events older than {days:g} days (before "
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(cutoff))} UTC); kept "
        f"{done.kept_for_state} older ones for their shoppers' state; {left} events left; "
        f"space: {_space(done)}"
    )


def _latest(events: EventLog) -> float:
    """Now under the data clock: the latest event time in the log."""
    from shoprec.store import SQLiteEventLog

    if isinstance(events, SQLiteEventLog):
        from shoprec.store.retention import latest_time

        return latest_time(events)
    from shoprec.store.redis_log import RedisEventLog
    from shoprec.store.redis_retention import latest_time as redis_latest

    assert isinstance(events, RedisEventLog)
    return redis_latest(events)


def _space(done: Compaction) -> str:
    """What happened to the space the dropped events held, in words."""
    space, pages = done.space, done.freed_pages
    return {
        "reused": "freed pages reused by the next events (--vacuum once to hand space back)",
        "incremental": f"{pages} free pages handed back (incremental vacuum)",
        "vacuum": f"file rewritten (VACUUM), {pages} pages handed back; incremental from now on",
        "freed": "trimmed in Redis's memory",
    }.get(space, space)
