"""The shopping assistant on the written question set over the real Amazon Beauty catalog
(``tests/data/assistant_questions.jsonl``): Recall@5 of product-need questions, and every number
and product claim of every answer checked against its cited record (issue 5, Done-when 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import require_data
from shoprec.data.datasets import load_dataset
from shoprec.evaluation.assistant_eval import catalog_assistant, evaluate_assistant, load_questions

QUESTIONS = Path(__file__).resolve().parent / "data" / "assistant_questions.jsonl"


@pytest.mark.timeout(900)
def test_written_questions_recall_and_no_unsupported_claims() -> None:
    settings = require_data()
    data = load_dataset("amazon-beauty", settings)
    questions = load_questions(QUESTIONS)
    report = evaluate_assistant(catalog_assistant(data, settings), questions)
    print(
        f"{report['questions']} questions, Recall@5 {report['recall@5']:.3f} on "
        f"{report['need_questions']} need questions, intent accuracy "
        f"{report['intent_accuracy']:.3f}, unsupported claims {report['unsupported_claims']}"
    )
    assert report["questions"] >= 100 and report["need_questions"] >= 100
    assert report["unsupported_claims"] == 0, report["unsupported_examples"]
    assert report["recall@5"] >= 0.8
