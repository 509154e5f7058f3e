"""Language features over the catalog and the reviews: product search (:mod:`.search`), the
shopping assistant (:mod:`.assistant`) and review sentiment (:mod:`.sentiment`).

Layer: nlp may import ranking, online, models, store, text, data, compute and settings;
experiments, marketing, training, evaluation, serving and the CLI build on it.
"""
