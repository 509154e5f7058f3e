"""shoprec: self-hosted recommendations for a shop.

Serving: demo (quick training, then the API), serve.
Offline: train, train-sentiment, evaluate, bench.
Operations: export-events (Redis stream to a training file), experiments tune (off-policy).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from shoprec.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


def _print_version(value: bool) -> None:
    if value:
        from shoprec import __version__  # the installed distribution's metadata

        typer.echo(f"shoprec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    # the options every command shares; the commands' help comes from the module docstring
    pass


def _setup(verbose: bool) -> Settings:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    from shoprec.compute import configure_threads

    settings = Settings()
    # SHOPREC_THREADS, else the cores other processes leave free (a server beside a training run)
    n = configure_threads(settings.threads)
    logging.getLogger(__name__).info("torch threads: %d", n)
    return settings


def _load(dataset: str, settings: Settings):
    from shoprec.data.datasets import load_dataset

    data = load_dataset(dataset, settings)
    console.print(
        f"[bold]{data.name}[/]: {data.n_users} users, {data.n_items} items, "
        f"{data.n_interactions} interactions"
    )
    return data


def model_names() -> list[str]:
    """Every name ``evaluate --models`` accepts, as ``evaluation.suite.build_runs`` resolves
    them: the registry's models, the pop-all protocol check, the sequence models and the
    served-pipeline replays."""
    from shoprec.evaluation.pipeline_runs import PIPELINES
    from shoprec.evaluation.suite import SEQUENCE_MODELS
    from shoprec.models.registry import MODELS

    names = ["pop-all", *MODELS, *sorted(SEQUENCE_MODELS), *PIPELINES]
    return list(dict.fromkeys(names))  # sasrec is both a registry and a sequence model


def _check_models(value: str) -> str:
    """Reject an unknown name before any data is loaded or model trained."""
    names = [m.strip() for m in value.split(",") if m.strip()]
    if not names:
        raise typer.BadParameter("no model names given")
    valid = model_names()
    unknown = [n for n in names if n not in valid]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        noun = "model" if len(unknown) == 1 else "models"
        raise typer.BadParameter(f"unknown {noun} {listed}; valid: {', '.join(valid)}")
    return value


@app.command()
def evaluate(
    dataset: Annotated[
        str, typer.Option(help="built-in name (amazon-beauty, diginetica, synthetic) or a folder")
    ] = "amazon-beauty",
    models: Annotated[
        str,
        typer.Option(
            help=f"comma-separated model names: {', '.join(model_names())}",
            callback=_check_models,
        ),
    ] = "pop,pop-all,itemknn,als,bpr",
    out: Annotated[Path, typer.Option(help="output folder")] = Path("runs/eval"),
    tune: Annotated[bool, typer.Option(help="tune hyper-parameters on validation")] = True,
    fresh: Annotated[
        bool, typer.Option(help="retrain sequence models even if a checkpoint exists")
    ] = False,
    max_seconds: Annotated[
        float | None, typer.Option(help="training budget per sequence model")
    ] = None,
    verbose: bool = True,
) -> None:
    """Full-ranking offline evaluation; writes results.json, report.md and PNG plots."""
    from shoprec.evaluation.suite import evaluate as run

    settings = _setup(verbose)
    data = _load(dataset, settings)
    names = [m.strip() for m in models.split(",") if m.strip()]
    doc = run(data, names, out, settings, tune=tune, max_seconds=max_seconds, fresh=fresh)
    for name, m in doc["models"].items():
        t = m["test"]
        console.print(
            f"{name:14s} HR@10 {t['HR@10']:.4f}  NDCG@10 {t['NDCG@10']:.4f}  "
            f"cold NDCG@10 {t['cold_NDCG@10']:.4f}  click F1 {t['click_f1']:.4f}"
        )
    console.print(f"wrote {out / 'results.json'} and {out / 'report.md'}")


@app.command()
def train(
    dataset: Annotated[str, typer.Option(help="built-in name or a folder")] = "amazon-beauty",
    text: Annotated[bool, typer.Option(help="fuse item text vectors")] = True,
    max_seconds: Annotated[float | None, typer.Option(help="wall-clock budget")] = None,
    from_store: Annotated[
        str | None,
        typer.Option(help="train on a store's event log (folder or redis://): erased users out"),
    ] = None,
    dp_noise: Annotated[
        float, typer.Option(help="differential privacy: noise multiplier (0 = off)")
    ] = 0.0,
    dp_clip: Annotated[float, typer.Option(help="DP: per-user gradient norm bound")] = 1.0,
    dp_delta: Annotated[float, typer.Option(help="DP: delta of (epsilon, delta)")] = 1e-5,
    verbose: bool = True,
) -> None:
    """Train the SASRec sequence model with early stopping and save a checkpoint."""
    import json

    from shoprec.training.sasrec_job import BEST_CONFIG, ids_only, train_sasrec

    settings = _setup(verbose)
    name = "sasrec" if text else "sasrec-notext"
    if from_store:
        from shoprec.training.export import export_sequences

        events, items = _open_store(from_store, settings)
        data = export_sequences(events, items, name=dataset)
        name += "-store"
    else:
        data = _load(dataset, settings)
    config = BEST_CONFIG if text else ids_only(BEST_CONFIG)
    dp = None
    if dp_noise > 0:
        from shoprec.training.dp import DPConfig

        dp = DPConfig(dp_noise, dp_clip, dp_delta)
        name += "-dp"
    trained = train_sasrec(data, settings, config, name=name, max_seconds=max_seconds, dp=dp)
    if trained.final.privacy_ is not None:
        eps = json.loads((trained.path / "manifest.json").read_text())["privacy"]
        console.print(f"differentially private: epsilon {eps['epsilon']:.2f} at delta {dp_delta}")
    h = trained.valid.history_
    console.print(
        f"best valid NDCG@10 {h.best_score:.4f} at epoch {h.best_epoch}, "
        f"{h.to_dict()['seconds_per_epoch']:.1f} s/epoch; refitted on train+valid; "
        f"{trained.seconds:.0f} s in all; saved to {trained.path}"
    )


def _open_store(where: str, settings: Settings):  # -> (EventLog, ItemStore)
    """The event log and item store at ``where``: a store folder or a ``redis://`` URL."""
    if where.startswith("redis://"):
        from shoprec.serving.shared import SharedState

        shared = SharedState.from_settings(where, settings)
        return shared.log, shared.items
    from shoprec.store import open_embedded

    return open_embedded(Path(where), settings.durability)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    verbose: bool = False,
) -> None:
    """Build a store (Amazon Beauty when the data folder exists, else a synthetic shop), train
    the quick preset, and serve the API on embedded defaults (no server to install)."""
    serve(dataset="amazon-beauty", host=host, port=port, quick=True, store=None, verbose=verbose)


@app.command("train-sentiment")
def train_sentiment(verbose: bool = True) -> None:
    """Train the review sentiment model on the public reviews (MiniLM fine-tuned: about an hour
    on one CPU thread in fp32, less with more free cores, native bf16 or a GPU; saved under
    artifacts/sentiment) and print its held-out figures. A running server switches to it from
    the quick model it trained at start-up, without a restart."""
    import json

    from shoprec.nlp.sentiment import ARTIFACT, save_model, train_default
    from shoprec.text.encoder import TextEncoder

    settings = _setup(verbose)
    model, report = train_default(settings, TextEncoder())
    path = Path(settings.artifacts_dir) / ARTIFACT
    save_model(model, report, path)
    console.print(
        json.dumps({k: v for k, v in report.items() if not isinstance(v, dict | list)}, indent=2)
    )
    console.print(f"saved to {path}")


@app.command()
def serve(
    dataset: Annotated[
        str, typer.Option(help="built-in name (amazon-beauty, synthetic) or a shop folder")
    ] = "amazon-beauty",
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
    verbose: bool = True,
) -> None:
    """Train or reuse the models on a dataset and serve the API (OpenAPI at /docs)."""
    import uvicorn

    from shoprec.serving import heap
    from shoprec.serving.app import create_app
    from shoprec.serving.build import build_engine, watch_artifacts

    settings = _setup(verbose)
    # per-request numpy work is tiny: BLAS thread pools only add spin-waiting and contention
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if dataset == "amazon-beauty" and not settings.has_data():
        console.print(
            f"[yellow]no data folder at {settings.data_dir}: serving the synthetic shop[/]"
        )
        dataset = "synthetic"
    from shoprec.serving import degrade
    from shoprec.serving.shared import is_redis_url

    redis_url = store if is_redis_url(store) else None
    if workers > 1 and redis_url is None:
        raise typer.BadParameter(
            "more than one worker needs --store redis://... (the embedded store is one process's)",
            param_hint="--workers",
        )
    data = _load(dataset, settings)
    store_dir = Path(store) if store and not redis_url else None
    built = build_engine(data, settings, store_dir=store_dir, quick=quick, store_url=redis_url)
    threadpool_limits(1)  # again: BLAS and OpenMP runtimes loaded while building (scipy's)
    from shoprec.serving.security import from_settings

    def make_app():  # noqa: ANN202
        app_ = create_app(
            built.engine, reports_dir=Path("bench/results/beauty"), security=from_settings(settings)
        )
        return degrade.install(app_)

    url = f"http://{host}:{port}"
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in built.seconds.items())
    console.print(f"ready in {sum(built.seconds.values()):.0f} s ({stages})")
    if built.sentiment is not None:  # what scores reviews, or plainly why nothing does
        served = built.engine.sentiment_served()
        console.print(built.sentiment.describe(served), style=None if served else "yellow")
    # a full collection over the built engine would stall a request for a few hundred ms
    heap.settle()
    console.print(
        f"[bold green]storefront[/] {url}/   dashboard: {url}/dashboard   API docs: {url}/docs"
    )
    if redis_url is None:
        watch_artifacts(built, settings, quick)
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
        start_replica(built, settings, quick)
        return make_app()

    console.print(f"{workers} worker(s) over {redis_url}")
    serve_workers(make_replica, host, port, workers, settings.max_concurrency)


@app.command("export-events")
def export_events(
    store: Annotated[str, typer.Option(help="redis://host:port/db of the served shop")],
    out: Annotated[Path, typer.Option(help="events file to append to (CSV)")],
    verbose: bool = True,
) -> None:
    """Copy the events new to the stream's training-export consumer group into OUT (the events
    format a training run reads), fsynced before they are acknowledged."""
    from shoprec.serving.shared import SharedState, is_redis_url
    from shoprec.store.redis_export import export_events as run

    if not is_redis_url(store):
        raise typer.BadParameter("needs redis://host:port/db", param_hint="--store")
    settings = _setup(verbose)
    shared = SharedState.from_settings(store, settings)
    try:
        n = run(shared.log, out)
    finally:
        shared.close()
    console.print(f"exported {n} events to {out}")


@app.command()
def bench(
    out: Annotated[Path, typer.Option(help="results folder")] = Path("bench/results"),
    dataset: Annotated[
        str, typer.Option(help="dataset for the text encoder titles")
    ] = "amazon-beauty",
    verbose: bool = True,
) -> None:
    """Speed benchmarks: per-request user encoder latency, and text encoder throughput in fp32
    and bf16 with the hardware's bf16 capability and the precision chosen for it."""
    from shoprec.evaluation import speed
    from shoprec.training.sasrec_job import checkpoint_dir

    settings = _setup(verbose)
    ckpt = checkpoint_dir(settings, dataset, "sasrec")
    lat = speed.user_encoder_latency(ckpt if ckpt.is_dir() else None)
    speed.write(lat, out, "user_encoder_latency")
    console.print(lat)
    data = _load(dataset if settings.has_data() else "synthetic", settings)
    titles = [t for t in data.item_texts() if t][:2000]
    thr = speed.text_encoder_throughput(titles)
    speed.write(thr, out, "text_encoder")
    console.print(thr)


experiments_app = typer.Typer(no_args_is_help=True, help="A/B experiments and tuning.")
app.add_typer(experiments_app, name="experiments")


@experiments_app.command("tune")
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
    from shoprec.experiments.registry import ExperimentError, ExperimentRegistry
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
