"""End to end: ``shoprec evaluate`` on the synthetic store writes results, report and plots."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shoprec.cli import app
from shoprec.cli import offline as cli


def test_evaluate_writes_results_report_and_plots(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPREC_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SHOPREC_TEXT_CACHE", str(tmp_path / "text.npz"))
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--dataset",
            "synthetic",
            "--models",
            "pop,pop-all,itemknn,als",
            "--out",
            str(out),
            "--no-tune",
            "--no-verbose",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["dataset"] == "synthetic"
    assert set(doc["models"]) == {"pop", "pop-all", "itemknn", "als"}
    for entry in doc["models"].values():
        for key in [
            "HR@5",
            "HR@10",
            "HR@20",
            "NDCG@5",
            "NDCG@10",
            "NDCG@20",
            "coverage@10",
            "cold_NDCG@10",
            "click_accuracy",
            "click_precision",
            "click_recall",
            "click_f1",
            "click_auc",
        ]:
            assert 0.0 <= entry["test"][key] <= 1.0, key
        assert "NDCG@10" in entry["valid"] and entry["fit_seconds"] >= 0
    # personalised CF beats popularity on a shop with real tastes
    assert doc["models"]["itemknn"]["test"]["NDCG@10"] > doc["models"]["pop"]["test"]["NDCG@10"]
    report = (out / "report.md").read_text()
    assert "protocol check" in report and "Click-prediction" in report
    assert (out / "accuracy.png").stat().st_size > 10_000


def _plain(output: str) -> str:
    """CLI output with rich's panel borders and line wrapping taken out."""
    no_boxes = "".join(" " if "\u2500" <= c <= "\u257f" else c for c in output)
    return " ".join(no_boxes.split())


def test_unknown_model_is_a_clear_error_before_any_work(tmp_path, monkeypatch) -> None:
    def no_work(*args, **kwargs):
        raise AssertionError("the dataset was loaded before the model names were checked")

    monkeypatch.setattr(cli, "load", no_work)
    monkeypatch.setattr(cli, "setup", no_work)
    result = CliRunner().invoke(
        app,
        ["evaluate", "--dataset", "synthetic", "--models", "pop,nope", "--out", str(tmp_path)],
    )
    assert result.exit_code == 2, result.output  # click's usage error, not a crash
    text = _plain(result.output)
    assert "unknown model 'nope'; valid: " in text, text
    valid = text.split("valid: ")[1].split(", ")
    assert valid == cli.model_names()
    assert {"pop-all", "pop", "itemknn", "als", "bpr", "sasrec", "pipeline"} <= set(valid)
    assert not (tmp_path / "results.json").exists()


def test_models_help_lists_the_valid_names() -> None:
    result = CliRunner().invoke(app, ["evaluate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = _plain(result.output)
    assert "comma-separated model names: " + ", ".join(cli.model_names()) in text, text


def test_cli_names_are_the_ones_the_suite_resolves() -> None:
    """The names the CLI accepts and lists are exactly those ``build_runs`` knows."""
    from shoprec.evaluation.suite import build_runs

    with pytest.raises(KeyError) as err:
        build_runs(["no-such-model"], None, None)  # type: ignore[arg-type]
    known = str(err.value).strip("\"'").split("known: ")[1].split(", ")
    assert set(cli.model_names()) == set(known)
    assert {"pipeline", "pipeline-norerank", "sasrec-notext", "pop-all"} <= set(known)
