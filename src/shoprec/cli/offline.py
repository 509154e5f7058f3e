"""The offline commands: evaluate, train, train-sentiment and bench."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shoprec.cli.common import console, load, setup
from shoprec.settings import Settings

if TYPE_CHECKING:  # loaded inside the commands: --help stays fast
    from shoprec.models.sasrec import SASRecConfig


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

    settings = setup(verbose)
    data = load(dataset, settings)
    names = [m.strip() for m in models.split(",") if m.strip()]
    doc = run(data, names, out, settings, tune=tune, max_seconds=max_seconds, fresh=fresh)
    for name, m in doc["models"].items():
        t = m["test"]
        console.print(
            f"{name:14s} HR@10 {t['HR@10']:.4f}  NDCG@10 {t['NDCG@10']:.4f}  "
            f"cold NDCG@10 {t['cold_NDCG@10']:.4f}  click F1 {t['click_f1']:.4f}"
        )
    console.print(f"wrote {out / 'results.json'} and {out / 'report.md'}")


def train(
    dataset: Annotated[str, typer.Option(help="built-in name or a folder")] = "amazon-beauty",
    text: Annotated[bool, typer.Option(help="fuse item text vectors")] = True,
    max_seconds: Annotated[float | None, typer.Option(help="wall-clock budget")] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            "--from-store",
            help="train a versioned bundle from a store's event log (folder or redis://; "
            "erased shoppers are out) and publish it if the promotion gate passes",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="--store: the demo's quick preset (one fit, no refit)")
    ] = False,
    holdout_days: Annotated[
        float | None,
        typer.Option(help="--store: hold out shoppers active in the last N days (see docs)"),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            help="--store: gate tolerance on held-out NDCG@10 (SHOPREC_PROMOTE_TOLERANCE)"
        ),
    ] = None,
    publish: Annotated[
        bool, typer.Option(help="--store: publish the bundle if the gate passes")
    ] = True,
    dp_noise: Annotated[
        float, typer.Option(help="differential privacy: noise multiplier (0 = off)")
    ] = 0.0,
    dp_clip: Annotated[float, typer.Option(help="DP: per-user gradient norm bound")] = 1.0,
    dp_delta: Annotated[float, typer.Option(help="DP: delta of (epsilon, delta)")] = 1e-5,
    tune_budget: Annotated[
        str | None,
        typer.Option(help="choose SASRec's settings on validation first, for e.g. 30m, 2h, 90s"),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="SASRec's random seed (default 42)")] = None,
    verbose: bool = True,
) -> None:
    """Train the SASRec sequence model with early stopping and save a checkpoint; with
    --store, train every served model from the store into a versioned bundle, score it against
    the published one on the newest slice of the log, and publish it if it is not worse."""
    import json

    from shoprec.training.sasrec_job import BEST_CONFIG, ids_only, train_sasrec

    budget = _tune_budget(tune_budget, dp_noise)
    settings = setup(verbose)
    config = BEST_CONFIG if text else ids_only(BEST_CONFIG)
    if seed is not None:
        config = replace(config, seed=seed)
    if store:
        if dp_noise > 0:
            raise typer.BadParameter("not available with --store", param_hint="--dp-noise")
        _train_bundle(
            store, settings, config, max_seconds, quick, holdout_days, tolerance, publish, budget
        )
        return
    name = "sasrec" if text else "sasrec-notext"
    data = load(dataset, settings)
    tuning = None
    if budget is not None:
        from shoprec.training.tuning import tune_sasrec

        tuning = tune_sasrec(data, settings, budget, base=config, progress=verbose)
        config, name = tuning.config, f"{name}-tuned"
    dp = None
    if dp_noise > 0:
        from shoprec.training.dp import DPConfig

        dp = DPConfig(dp_noise, dp_clip, dp_delta)
        name += "-dp"
    fit = None if tuning is None else tuning.fit  # the chosen trial's fit, not trained again
    trained = train_sasrec(
        data, settings, config, name=name, max_seconds=max_seconds, dp=dp, fitted=fit
    )
    if trained.final.privacy_ is not None:
        eps = json.loads((trained.path / "manifest.json").read_text())["privacy"]
        console.print(f"differentially private: epsilon {eps['epsilon']:.2f} at delta {dp_delta}")
    if tuning is not None:
        (trained.path / "tuning.json").write_text(json.dumps(tuning.to_dict(), indent=1))
        console.print(_tuned(tuning.to_dict()))
    h = trained.valid.history_
    console.print(
        f"best valid NDCG@10 {h.best_score:.4f} at epoch {h.best_epoch}, "
        f"{h.to_dict()['seconds_per_epoch']:.1f} s/epoch; refitted on train+valid; "
        f"{trained.seconds:.0f} s in all; saved to {trained.path}"
    )


def _tune_budget(value: str | None, dp_noise: float) -> float | None:
    """``--tune-budget`` in seconds (None: no tuning), or a clear error naming the option."""
    if value is None:
        return None
    from shoprec.training.tuning import parse_duration

    if dp_noise > 0:
        raise typer.BadParameter("not available with --dp-noise", param_hint="--tune-budget")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).split(": ", 1)[1], param_hint="--tune-budget") from exc


def _tuned(t: dict) -> str:
    states = [r["state"] for r in t["trials"]]
    return (
        f"tuning: {len(states)} trials ({states.count('complete')} complete, "
        f"{states.count('pruned')} pruned) in {t['seconds']:.0f} s; valid NDCG@10 "
        f"{t['best_valid_NDCG@10']:.4f} (trial {t['best_trial']}), default "
        f"{t['default_valid_NDCG@10']:.4f}"
    )


def _train_bundle(
    store: str,
    settings: Settings,
    config: SASRecConfig,
    max_seconds: float | None,
    quick: bool,
    holdout_days: float | None,
    tolerance: float | None,
    publish: bool,
    tune_budget: float | None = None,
) -> None:
    from shoprec.training.bundle_job import train_bundle

    if holdout_days is not None and holdout_days <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--holdout-days")
    if tolerance is not None and not 0 <= tolerance <= 1:
        raise typer.BadParameter("must be within [0, 1]", param_hint="--tolerance")
    try:
        report = train_bundle(
            store,
            settings,
            max_seconds=max_seconds,
            quick=quick,
            holdout_days=holdout_days,
            tolerance=tolerance,
            publish=publish,
            config=config,
            tune_budget=tune_budget,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    h = report.heldout
    figures = (
        f"held-out ({h['shoppers']} shoppers, {h['rule']}): new NDCG@10 {h['new']['NDCG@10']:.4f}"
    )
    if h["served"] is not None:
        figures += f", served {h['served']['version']} {h['served']['NDCG@10']:.4f}"
    console.print(figures)
    if "tuning" in report.manifest:
        console.print(_tuned(report.manifest["tuning"]))
    state = "published" if report.published else "not published"
    console.print(
        f"bundle {report.version}: {report.decision} ({report.reason}); {state}; "
        f"{report.seconds:.0f} s; saved to {report.path}"
    )


def train_sentiment(verbose: bool = True) -> None:
    """Train the review sentiment model on the public reviews (MiniLM fine-tuned: about an hour
    on one CPU thread in fp32, less with more free cores, native bf16 or a GPU; saved under
    artifacts/sentiment) and print its held-out figures. A running server switches to it from
    the quick model it trained at start-up, without a restart."""
    import json

    from shoprec.nlp.sentiment import ARTIFACT, save_model, train_default
    from shoprec.text.encoder import TextEncoder

    settings = setup(verbose)
    model, report = train_default(settings, TextEncoder())
    path = Path(settings.artifacts_dir) / ARTIFACT
    save_model(model, report, path)
    console.print(
        json.dumps({k: v for k, v in report.items() if not isinstance(v, dict | list)}, indent=2)
    )
    console.print(f"saved to {path}")


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

    settings = setup(verbose)
    ckpt = checkpoint_dir(settings, dataset, "sasrec")
    lat = speed.user_encoder_latency(ckpt if ckpt.is_dir() else None)
    speed.write(lat, out, "user_encoder_latency")
    console.print(lat)
    data = load(dataset if settings.has_data() else "synthetic", settings)
    titles = [t for t in data.item_texts() if t][:2000]
    thr = speed.text_encoder_throughput(titles)
    speed.write(thr, out, "text_encoder")
    console.print(thr)
