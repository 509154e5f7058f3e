"""The assistant on a written question set over a real catalog: intent accuracy, Recall@5 of
product-need questions (a question counts when a correct product is among the five answered),
precision@5, product-question accuracy, and unsupported claims in every answer (must be 0)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from shoprec.data.interactions import SequenceData
from shoprec.nlp.assistant import Assistant, unsupported
from shoprec.nlp.search import ProductSearch
from shoprec.online.tags import ItemTagger
from shoprec.ranking.catalog import Catalog, add_items
from shoprec.settings import Settings
from shoprec.text.vectorizer import Vectorizer

log = logging.getLogger(__name__)


def catalog_assistant(data: SequenceData, settings: Settings) -> Assistant:
    """The assistant over the dataset's catalog, with no trained models and no shoppers (search
    needs neither): what a served engine's assistant answers a question asked anonymously."""
    vec = Vectorizer(settings)
    catalog = Catalog()
    add_items(catalog, data.catalog, [0.0] * len(data.catalog), vec, ItemTagger(vec.encoder))
    search = ProductSearch(catalog, vec.queries)
    n_rows = len(catalog) + 1  # every item: the catalog is not growing

    def no_purchases(_user_id: str) -> list[tuple[str, float]]:
        return []

    return Assistant(catalog, lambda q, _user, n: search.ranked(q, n, n_rows), no_purchases)


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluate_assistant(assistant: Assistant, questions: list[dict], k: int = 5) -> dict:
    hits, precision, intent_ok, product_ok, bad = [], [], 0, [], []
    per_question = []
    for q in questions:
        a = assistant.ask(q["question"], None, n=k)
        expected = {"need": "need", "product": "product", "order": "order"}[q["kind"]]
        intent_ok += a.intent == expected
        problems = unsupported(a)
        bad += [(q["id"], p) for p in problems]
        got = [pid for pid, _ in a.products][:k]
        if q["kind"] == "need":
            rel = set(q["answer_ids"])
            hits.append(any(g in rel for g in got))
            precision.append(sum(g in rel for g in got) / k)
        elif q["kind"] == "product":
            product_ok.append(bool(got) and got[0] == q["target_id"])
        per_question.append(
            {"id": q["id"], "intent": a.intent, "products": got, "unsupported": problems}
        )
    return {
        "questions": len(questions),
        "need_questions": len(hits),
        f"recall@{k}": float(np.mean(hits)) if hits else 0.0,
        f"precision@{k}": float(np.mean(precision)) if precision else 0.0,
        "intent_accuracy": intent_ok / len(questions),
        "product_question_accuracy": float(np.mean(product_ok)) if product_ok else 0.0,
        "unsupported_claims": len(bad),
        "unsupported_examples": bad[:10],
        "per_question": per_question,
    }
