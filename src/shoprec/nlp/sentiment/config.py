"""The frozen-encoder sentiment model's hyper-parameters, read by the encoders
(:mod:`.features`) and the model (:mod:`.model`) alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SentimentConfig:
    """Hyper-parameters of :class:`SentimentModel` (defaults: the variant chosen on validation).

    Parameters
    ----------
    layers : hidden layers pooled by :class:`LayerEncoder` (0 = embeddings, 6 = last); ``None``
        uses the encoder passed to the model as is (e.g. the sentence vectors of ``TextEncoder``).
    chunk_words : words per piece when a review is cut for the encoder (pieces are equal-sized).
    head : ``"lr"`` (multinomial logistic regression) or ``"mlp"`` (one ReLU hidden layer).
    c : inverse L2 strength of the logistic regression.
    hidden, alpha : hidden units and L2 strength of the MLP.
    tfidf : put TF-IDF word n-grams (sublinear tf, L2 rows, vocabulary of the training texts)
        beside the standardised embedding.
    ngram_max : longest word n-gram of the TF-IDF block.
    nb : scale each TF-IDF term by its naive-Bayes log-count ratio, positive vs negative texts
        (NB-LR, Wang & Manning 2012).
    tfidf_scale : weight of the TF-IDF block beside the embedding.
    blend : weight of a second head, a logistic regression (``blend_c``) on the standardised
        embedding alone, whose log-probabilities are averaged with the main head's (0: off).
        The embedding-only head errs on other reviews than the TF-IDF one; their geometric
        mean was chosen on validation (``bench/results/sentiment.md``).
    blend_c : inverse L2 strength of that second head.
    class_weight : ``"balanced"`` (inverse class frequency), ``"sqrt"`` (its square root) or
        ``"none"``; the neutral class only comes from the small Alexa set.
    seed : random seed of the head.
    """

    layers: tuple[int, ...] | None = (2, 3, 4, 5)
    chunk_words: int = 50
    head: str = "lr"
    c: float = 0.1
    hidden: int = 256
    alpha: float = 1e-2
    tfidf: bool = True
    ngram_max: int = 2
    nb: bool = True
    tfidf_scale: float = 100.0
    blend: float = 0.3
    blend_c: float = 0.03
    class_weight: str = "balanced"
    seed: int = 42
