"""Text to vectors: the pretrained sentence encoder, the content-hash cache of item vectors,
and the serving vectorizer that puts the two together (queries kept apart from the cache).

Layer: text may import data, compute and settings; models and the layers above may use it.
"""
