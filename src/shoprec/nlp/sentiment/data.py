"""The review sets and their splits: the Multi-Domain Sentiment Dataset (binary) and the Amazon
Alexa reviews (1-2 negative, 3 neutral, 4-5 positive); see ``data/README.md`` section
``reviews/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from shoprec.nlp.sentiment.model import NEG, NEU, POS
from shoprec.settings import Settings


def load_reviews(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two review sets, with a ``text`` and a class ``y`` (0/1/2) column added.

    Multi-domain: ``text`` is the title and the review joined, ``y`` from ``label``. Alexa: empty
    reviews are dropped and identical texts (case and spacing ignored) are merged into one row
    (class of the median rating, ``copies`` counted), so no text is on both sides of a split.
    """
    root = Path(settings.data_dir) / "reviews"
    md = pd.read_csv(root / "multidomain_reviews.csv")
    title = md["title"].fillna("").str.strip()
    sep = np.where(title.str.contains(r"[.!?]$") | (title == ""), " ", ". ")
    md["text"] = (title + sep + md["review_text"].fillna("").str.strip()).str.strip()
    md["y"] = np.where(md["label"] == "positive", POS, NEG)
    alexa = pd.read_csv(root / "amazon_alexa.tsv", sep="\t")
    alexa["text"] = alexa["verified_reviews"].fillna("").astype(str).str.strip()
    alexa = alexa[alexa["text"] != ""]
    key = alexa["text"].map(lambda t: " ".join(t.lower().split()))
    merged = alexa.groupby(key, sort=False).agg(
        text=("text", "first"), rating=("rating", "median"), copies=("rating", "size")
    )
    merged = merged.reset_index(drop=True)
    r = merged["rating"].to_numpy()
    merged["y"] = np.where(r < 2.5, NEG, np.where(r < 3.5, NEU, POS))
    return md, merged


def split_multidomain(
    md: pd.DataFrame, test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train / held-out split stratified by domain and label."""
    strata = md["domain"].astype(str) + "/" + md["y"].astype(str)
    train, test = train_test_split(md, test_size=test_size, random_state=seed, stratify=strata)
    return train, test


def split_alexa(
    alexa: pd.DataFrame, test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train / held-out split of the deduplicated Alexa texts, stratified by class."""
    train, test = train_test_split(
        alexa, test_size=test_size, random_state=seed, stratify=alexa["y"]
    )
    return train, test
