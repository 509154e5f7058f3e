"""Review sentiment (negative / neutral / positive, with an intensity) on the MiniLM encoder.

The served model (:mod:`.finetune`) is all-MiniLM-L6-v2 fine-tuned end to end with a three-class
head, blended with a naive-Bayes TF-IDF head. The earlier models on the frozen encoder remain:

A review is cut into pieces of about ``chunk_words`` words (the encoder truncates at 256 word
pieces, about 200 words), each piece is embedded by the frozen encoder and the piece vectors are
averaged and re-normalised. Two embeddings of the same pretrained model are offered: the sentence
vector of :class:`~shoprec.text.encoder.TextEncoder`, or :class:`LayerEncoder`'s mean-pooled
hidden states of intermediate layers (these carry more sentiment than the final, similarity-tuned
layer). A head (multinomial logistic regression or a one-layer MLP, optionally beside TF-IDF
features weighted by naive-Bayes log-count ratios, optionally blended with a second logistic
regression on the embedding alone) gives the class probabilities.

Modules: :mod:`.config` (the frozen-encoder model's hyper-parameters), :mod:`.features`
(pieces, encoders, cache), :mod:`.model` (model, intensity), :mod:`.finetune` (the fine-tuned
model), :mod:`.quick` (the NB-TF-IDF model served until a fine-tuned one exists), :mod:`.data`
(review sets, splits), :mod:`.evaluate` (reports, VADER), :mod:`.train` (variants chosen on
validation, :func:`train_default`, :func:`load_model` for either artifact type,
:func:`load_or_train`).

Part of the nlp layer: it may import models, text, data, compute and settings (today it uses
models.artifacts, text.encoder, compute and settings). Within it, config sits below features,
features below model, and the other modules build on model.
"""

from shoprec.nlp.sentiment.config import SentimentConfig
from shoprec.nlp.sentiment.data import load_reviews, split_alexa, split_multidomain
from shoprec.nlp.sentiment.evaluate import class_report, evaluate, macro_f1, vader_baseline
from shoprec.nlp.sentiment.features import (
    CachedEncoder,
    Encoder,
    LayerEncoder,
    chunk_text,
    encoder_for,
    pooled_pieces,
)
from shoprec.nlp.sentiment.finetune import FINETUNE_ARTIFACT, FineTuneConfig, FineTunedSentiment
from shoprec.nlp.sentiment.model import (
    ARTIFACT,
    LABELS,
    NEG,
    NEU,
    POS,
    SentimentModel,
    SentimentResult,
    intensity,
)
from shoprec.nlp.sentiment.train import (
    DEFAULT_VARIANTS,
    FINETUNE_VARIANTS,
    VARIANTS,
    load_model,
    load_or_train,
    save_model,
    train_default,
)

__all__ = [
    "ARTIFACT", "DEFAULT_VARIANTS", "FINETUNE_ARTIFACT", "FINETUNE_VARIANTS", "LABELS", "NEG",
    "NEU", "POS", "VARIANTS", "CachedEncoder", "Encoder", "FineTuneConfig", "FineTunedSentiment",
    "LayerEncoder", "SentimentConfig", "SentimentModel", "SentimentResult", "chunk_text",
    "class_report", "encoder_for", "evaluate", "intensity", "load_model", "load_or_train",
    "load_reviews", "macro_f1", "pooled_pieces", "save_model", "split_alexa", "split_multidomain",
    "train_default", "vader_baseline",
]  # fmt: skip
