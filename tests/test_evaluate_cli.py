"""End to end: ``shoprec evaluate`` on the synthetic store writes results, report and plots."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from shoprec.cli import app


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


def test_unknown_model_is_a_clear_error(tmp_path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--dataset",
            "synthetic",
            "--models",
            "nope",
            "--out",
            str(tmp_path),
            "--no-verbose",
        ],
    )
    assert result.exit_code != 0
    assert "unknown model 'nope'" in str(result.exception) + result.output
