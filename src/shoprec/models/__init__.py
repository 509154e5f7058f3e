"""The recommenders: each a numpy scorer behind the :class:`~shoprec.models.base.Recommender`
contract (``fit(TrainData) -> self``, ``score``, ``save``/``load``), the torch networks of the
neural ones (SASRec, LightGCN) with the generic training loop and batching that fit them, the
ranking metrics and validation callback they early-stop on, the candidate ranker, and the
registry of every model by name.

Layer: below online; it may import text, data, compute and settings, never training,
evaluation, store, serving or online. What a model cannot do on its own (DP-SGD, a run's
checkpoints) is handed in or driven from :mod:`shoprec.training`.
"""
