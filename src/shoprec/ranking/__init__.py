"""The recommendation pipeline over the live catalog: the catalog itself, candidate generation
and features, scoring, filters and re-ranking, explanations, the served model bundle aligned to
the catalog, and the fitting of the candidate ranker.

Layer: ranking may import online, models, store, text, data, compute and settings; nlp and
everything above it build on it.
"""
