"""Every model by name: how to build it from a parameter dict, and what to tune.

A :class:`ModelSpec` is all the evaluation runner, the tuning script and the contract test
(``tests/test_model_contract.py``) need: add a model by adding one spec to :data:`MODELS`.
Factories import their model lazily, so importing the registry stays cheap (no torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shoprec.models.base import Recommender

Params = dict[str, Any]


@dataclass(frozen=True)
class ModelSpec:
    """How to build and tune one model.

    Attributes
    ----------
    name : registry key, equal to the model's ``name``.
    factory : builds an unfitted model from a complete parameter dict (the config's fields;
        unknown keys are errors).
    grid : points to try on validation; each is a partial dict laid over ``default``.
    default : parameters used when nothing was tuned.
    test_params : laid over ``default`` in the contract test: small and fast, yet enough to
        separate two disjoint item clusters of a 10-item toy catalog.
    personalised : whether scores depend on the user (the cluster test is skipped otherwise).
    """

    name: str
    factory: Callable[[Params], Recommender]
    grid: list[Params]
    default: Params
    test_params: Params = field(default_factory=dict)
    personalised: bool = True

    def build(self, params: Params | None = None) -> Recommender:
        """An unfitted model with ``default`` overridden by ``params``."""
        return self.factory({**self.default, **(params or {})})


def _grid(**axes: list[Any]) -> list[Params]:
    """Cartesian product of ``axes`` as a list of dicts (first axis varies slowest)."""
    points: list[Params] = [{}]
    for key, values in axes.items():
        points = [{**p, key: v} for p in points for v in values]
    return points


def _pop(params: Params) -> Recommender:
    from shoprec.models.popularity import Popularity, PopularityConfig

    return Popularity(PopularityConfig(**params))


def _itemknn(params: Params) -> Recommender:
    from shoprec.models.itemknn import ItemKNN, ItemKNNConfig

    return ItemKNN(ItemKNNConfig(**params))


def _als(params: Params) -> Recommender:
    from shoprec.models.als import ALS, ALSConfig

    return ALS(ALSConfig(**params))


def _bpr(params: Params) -> Recommender:
    from shoprec.models.bpr import BPR, BPRConfig

    return BPR(BPRConfig(**params))


def _lightgcn(params: Params) -> Recommender:
    from shoprec.models.lightgcn import LightGCN, LightGCNConfig

    return LightGCN(LightGCNConfig(**params))


# Grids are sized so that tuning itemknn + als + bpr on Amazon Beauty (bench/tune_classic.py)
# stays within minutes on a 2-core machine; defaults are the points chosen there.
def _sasrec(params: Params) -> Recommender:
    from shoprec.models.sasrec import SASRecConfig
    from shoprec.models.sasrec_recommender import SASRecRecommender

    return SASRecRecommender(SASRecConfig(**params), progress=False)


_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(name="pop", factory=_pop, grid=[{}], default={}, personalised=False),
    ModelSpec(
        name="itemknn",
        factory=_itemknn,
        grid=_grid(shrink=[10.0, 50.0, 100.0], alpha=[0.5, 0.7], recency_decay=[1.0, 0.7, 0.5]),
        default={"k": 200, "shrink": 50.0, "alpha": 0.5, "recency_decay": 0.5},
        test_params={"k": 5, "shrink": 0.0},
    ),
    ModelSpec(
        name="als",
        factory=_als,
        grid=_grid(factors=[64, 128], alpha=[10.0, 40.0]),
        default={"factors": 128, "regularization": 0.01, "alpha": 40.0, "iterations": 15},
        # one factor per toy cluster: with more, ALS also fits the held-out "hole" of each user
        test_params={"factors": 2, "iterations": 10, "regularization": 0.1},
    ),
    ModelSpec(
        name="bpr",
        factory=_bpr,
        grid=_grid(learning_rate=[0.1, 0.2], learned_users=[True, False]),
        default={"factors": 128, "learning_rate": 0.2, "iterations": 100, "learned_users": False},
        test_params={"factors": 4, "learning_rate": 0.05, "iterations": 200, "learned_users": True},
    ),
    ModelSpec(
        name="lightgcn",
        factory=_lightgcn,
        # one point keeps `shoprec evaluate` inside its time budget (minutes per fit on Beauty)
        grid=[{"temperature": 0.1}],
        default={},
        test_params={
            "dim": 8,
            "n_layers": 2,
            "batch_size": 32,
            "epochs": 30,
            "lr": 0.05,
            "num_threads": 1,
        },
    ),
    # The sequence model is trained by `shoprec train` (early stopping, refit); this entry is
    # for the contract test and for tuning by hand. Its chosen config is BEST_CONFIG.
    ModelSpec(
        name="sasrec",
        factory=_sasrec,
        grid=[{}],
        default={"use_text": False},
        test_params={
            "dim": 16,
            "n_layers": 1,
            "n_heads": 1,
            "dropout": 0.1,
            "epochs": 60,
            "batch_size": 40,
            "lr": 1e-2,
            "max_len": 10,
            "eval_every": 100,
        },
    ),
)

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}
