"""The serving commands: demo, serve, and export-events (the Redis stream to a training file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoprec.cli.common import console, load, setup


def demo(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    verbose: bool = False,
) -> None:
    """Build a store (Amazon Beauty when the data folder exists, else a synthetic shop), train
    the quick preset, and serve the API on embedded defaults (no server to install)."""
    serve(dataset="amazon-beauty", host=host, port=port, quick=True, store=None, verbose=verbose)


def serve(
    dataset: Annotated[
        str | None,
        typer.Option(
            help="built-in name (amazon-beauty, synthetic) or a shop folder, imported into an"
            " empty store and trained on while no bundle is published (default without --store:"
            " amazon-beauty)"
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    quick: Annotated[
        bool, typer.Option(help="train the quick preset (about 2 minutes) if no checkpoint")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            help="folder of the embedded store (default under artifacts), or redis://host:port/db"
            " to put events, catalog and user state in Redis, shared by --workers"
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="worker processes on the port (more than 1 needs Redis)")
    ] = 1,
    retrain_every: Annotated[
        str | None,
        typer.Option(
            help="retrain from the store every DURATION (30m, 6h) in a separate low-priority"
            " process; the server switches to each bundle it publishes"
        ),
    ] = None,
    verbose: bool = True,
) -> None:
    """Serve the store's published model bundle (OpenAPI at /docs); a dataset is imported into
    an empty store and trained on while none is published. Published bundles are swapped in
    without a restart."""
    from shoprec.serving.retrain import parse_duration
    from shoprec.store import locate

    try:
        every = parse_duration(retrain_every) if retrain_every else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--retrain-every") from None
    if dataset is None and not store:
        dataset = "amazon-beauty"

    if store and locate(store).redis_url:  # forked workers: /metrics sums them all
        from shoprec.serving.workers import share_metrics

        share_metrics()  # before anything imports prometheus_client
    import uvicorn

    from shoprec.serving import heap
    from shoprec.serving.app import create_app
    from shoprec.serving.build import build_engine, watch_store
    from shoprec.serving.follow import follow_store
    from shoprec.serving.housekeeping import start_housekeeping

    settings = setup(verbose)
    from shoprec.serving.observe import configure_access_log

    configure_access_log(settings.access_log)  # JSON lines on stdout
    # per-request numpy work is tiny: BLAS thread pools only add spin-waiting and contention
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if dataset == "amazon-beauty" and not settings.has_data():
        console.print(
            f"[yellow]no data folder at {settings.data_dir}: serving the synthetic shop[/]"
        )
        dataset = "synthetic"
    from shoprec.serving import degrade

    redis_url = locate(store).redis_url if store else None
    if workers > 1 and redis_url is None:
        raise typer.BadParameter(
            "more than one worker needs --store redis://... (the embedded store is one process's)",
            param_hint="--workers",
        )
    data = load(dataset, settings) if dataset else None
    built = build_engine(data, settings, store=store or None, quick=quick)
    threadpool_limits(1)  # again: BLAS and OpenMP runtimes loaded while building (scipy's)
    from shoprec.serving.security import from_settings

    def make_app():  # noqa: ANN202
        # over Redis the rate limit's windows live there: one limit for all the workers
        security = from_settings(settings, redis_url)
        app_ = create_app(built.engine, reports_dir=Path("bench/results/beauty"), security=security)
        return degrade.install(app_)

    url = f"http://{host}:{port}"
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in built.seconds.items())
    # one line, never wrapped: operators and tests read the stages from it
    console.print(f"ready in {sum(built.seconds.values()):.0f} s ({stages})", soft_wrap=True)
    if built.sentiment is not None:  # what scores reviews, or plainly why nothing does
        served = built.engine.sentiment_served()
        console.print(built.sentiment.describe(served), style=None if served else "yellow")
    # a full collection over the built engine would stall a request for a few hundred ms
    heap.settle()
    console.print(
        f"[bold green]storefront[/] {url}/   dashboard: {url}/dashboard   API docs: {url}/docs"
    )
    console.print(f"model bundle {built.engine.bundle.version} (store {built.store})")
    if every is not None:  # its own process per run; the watchers pick the bundle up
        from shoprec.serving.retrain import Retrainer

        assert built.store is not None
        Retrainer(built.store, every, ["--quick"] if quick else []).start()
    if redis_url is None:
        watch_store(built, settings)
        # what another process (shoprec import) appends to the store, folded in as it lands
        follow_store(built.engine, built.engine.events, built.engine.items)
        # anonymous sessions expire, and the log keeps SHOPREC_RETAIN_DAYS (serving/housekeeping)
        start_housekeeping(built.engine, settings)
        uvicorn.run(
            make_app(),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            limit_concurrency=settings.max_concurrency,  # beyond it: 503, not an endless queue
        )
        return
    from shoprec.serving.workers import serve_workers, start_replica

    def make_replica():  # noqa: ANN202
        start_replica(built, settings)
        start_housekeeping(built.engine, settings)  # one worker or replica compacts per round
        return make_app()

    console.print(f"{workers} worker(s) over {redis_url}")
    serve_workers(make_replica, host, port, workers, settings.max_concurrency)


def export_events(
    store: Annotated[str, typer.Option(help="redis://host:port/db of the served shop")],
    out: Annotated[Path, typer.Option(help="events file to append to (CSV)")],
    verbose: bool = True,
) -> None:
    """Copy the events new to the stream's training-export consumer group into OUT (the events
    format a training run reads), fsynced before they are acknowledged."""
    from shoprec.serving.shared import SharedState
    from shoprec.store import locate
    from shoprec.store.redis_export import export_events as run

    if locate(store).redis_url is None:
        raise typer.BadParameter("needs redis://host:port/db", param_hint="--store")
    settings = setup(verbose)
    shared = SharedState.from_settings(store, settings)
    try:
        n = run(shared.log, out)
    finally:
        shared.close()
    console.print(f"exported {n} events to {out}")
