"""What changes with every event while the shop serves: per-shopper state (recent items, the
session, interest tags), item tags and their taxonomy, trending items and scored reviews.

Layer: online may import models, store, text, data, compute and settings (today it uses data
only); ranking and the layers above build on it.
"""
