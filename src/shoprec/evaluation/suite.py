"""Named model runs for ``shoprec evaluate``: registry models, the pop-all protocol check,
and the sequence models (reusing a fresh checkpoint when one exists)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from shoprec.data.interactions import SequenceData
from shoprec.evaluation.plots import accuracy_plot, beyond_plot, training_plot
from shoprec.evaluation.report import public_results, render_report, write_results
from shoprec.evaluation.runner import Context, ModelRun, run_all
from shoprec.models.registry import MODELS
from shoprec.settings import Settings

log = logging.getLogger(__name__)

SEQUENCE_MODELS = {"sasrec", "sasrec-notext"}


def _sasrec_run(
    name: str, data: SequenceData, settings: Settings, max_seconds: float | None, fresh: bool
) -> ModelRun:
    from shoprec.training.sasrec_job import (
        BEST_CONFIG,
        checkpoint_dir,
        find_checkpoint,
        ids_only,
        train_sasrec,
    )

    config = BEST_CONFIG if name == "sasrec" else ids_only(BEST_CONFIG)
    path = checkpoint_dir(settings, data.name, name)
    trained = None if fresh else find_checkpoint(path, data, config)
    if trained is None:
        trained = train_sasrec(data, settings, config, name=name, max_seconds=max_seconds)
    else:
        log.info("reusing checkpoint %s", path)
    label = "SASRec + text vectors" if config.use_text else "SASRec, ids only (ablation)"
    return ModelRun(
        name=name,
        build=lambda p: trained.final,
        prefit=(trained.valid, trained.final),
        prefit_seconds=trained.seconds,
        label=label,
    )


def build_runs(
    names: list[str],
    data: SequenceData,
    settings: Settings,
    tune: bool = True,
    max_seconds: float | None = None,
    fresh: bool = False,
) -> list[ModelRun]:
    """ModelRuns for ``names`` (unknown names raise ``KeyError`` listing the known ones)."""
    from shoprec.evaluation.pipeline_runs import PIPELINES, pipeline_runs

    runs = []
    pipes = [n for n in names if n in PIPELINES]
    for name in names:
        if name in PIPELINES:
            continue
        if name == "pop-all":
            spec = MODELS["pop"]
            runs.append(
                ModelRun(
                    name="pop-all",
                    build=spec.build,
                    leak_all=True,
                    label="protocol check, leaks test",
                )
            )
        elif name in SEQUENCE_MODELS:
            runs.append(_sasrec_run(name, data, settings, max_seconds, fresh))
        elif name in MODELS:
            spec = MODELS[name]
            grid = spec.grid if tune else [{}]
            runs.append(ModelRun(name=name, build=spec.build, grid=grid))
        else:
            known = ["pop-all", *MODELS, *sorted(SEQUENCE_MODELS), *PIPELINES]
            raise KeyError(f"unknown model {name!r}; known: {', '.join(known)}")
    if pipes:
        seq = next((r for r in runs if r.name == "sasrec"), None)
        seq = seq or _sasrec_run("sasrec", data, settings, max_seconds, fresh)
        runs += pipeline_runs(pipes, data, settings, seq)
    return runs


def evaluate(
    data: SequenceData,
    names: list[str],
    out: Path,
    settings: Settings,
    tune: bool = True,
    max_seconds: float | None = None,
    fresh: bool = False,
    progress: bool = True,
) -> dict:
    """Run the evaluation and write ``results.json``, ``report.md`` and PNG plots to ``out``."""
    from shoprec.training.sasrec_job import text_vectors_for

    t0 = time.perf_counter()
    text = text_vectors_for(data, settings, progress) if data.has_text() else None
    runs = build_runs(names, data, settings, tune, max_seconds, fresh)
    ctx = Context.build(data, text, seed=settings.seed)
    results = run_all(ctx, runs, progress=progress)
    doc = public_results(
        data.name,
        results,
        extra={
            "info": {
                "users": data.n_users,
                "items": data.n_items,
                "interactions": data.n_interactions,
                "command": "shoprec " + " ".join(sys.argv[1:]) if sys.argv else "",
                "seconds": time.perf_counter() - t0,
            }
        },
    )
    out.mkdir(parents=True, exist_ok=True)
    _add_sections(doc)
    write_results(out, doc)
    plots = [accuracy_plot(doc, out), beyond_plot(doc, out)]
    tp = training_plot(doc, out)
    if tp:
        plots.append(tp)
    (out / "report.md").write_text(render_report(doc, plots))
    return doc


def _add_sections(doc: dict) -> None:
    """Comparisons the issues ask for, computed from this run's figures."""
    m = doc["models"]
    sections = []
    if "sasrec" in m and "sasrec-notext" in m:
        a, b = m["sasrec"]["test"]["cold_NDCG@10"], m["sasrec-notext"]["test"]["cold_NDCG@10"]
        gain = (a / b - 1.0) * 100 if b > 0 else float("inf")
        sections.append(
            "## Text vectors on the cold-start slice\n\n"
            f"NDCG@10 on users whose test item has at most 5 training interactions: "
            f"with text {a:.4f}, without {b:.4f} ({gain:+.1f}%)."
        )
    if "itemknn" in m:
        base = m["itemknn"]["test"]["click_f1"]
        rows = [
            f"- {n}: F1 {e['test']['click_f1']:.4f} ({(e['test']['click_f1'] - base) * 100:+.1f} "
            "points vs item-kNN CF)"
            for n, e in m.items()
            if n != "itemknn"
        ]
        sections.append("## Click-prediction F1 against item-kNN CF\n\n" + "\n".join(rows))
    doc["sections"] = sections
