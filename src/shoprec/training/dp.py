"""Differentially private training of SASRec (DP-SGD with Opacus), at the level of a user.

One sample is one user's whole sequence: each step draws every user independently with
probability ``q = batch_size / n_users`` (Poisson sampling, what the accountant assumes),
Opacus computes each user's gradient, clips it to ``max_grad_norm`` and adds Gaussian noise of
``noise_multiplier * max_grad_norm``; its RDP accountant turns the steps taken into the
epsilon spent for the given delta. The model trains through
:meth:`~shoprec.models.sasrec.SASRec.loss_per_user` (sampled softmax with per-user negatives),
in which no user's loss reads another's data. Needs the ``dp`` extra (``opacus``).

``SASRecRecommender(config, dp=DPConfig(...))`` trains this way: the recommender calls
:meth:`DPConfig.train` (models do not import training; a config that trains is handed in).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch

from shoprec.models.batching import pad_left
from shoprec.models.sasrec import SASRec, SASRecConfig
from shoprec.models.sasrec_recommender import TrainRun
from shoprec.models.train_loop import TrainHistory, train

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DPConfig:
    """Differential privacy of one training run.

    Attributes
    ----------
    noise_multiplier : Gaussian noise std over the clipping norm (larger: more private).
    max_grad_norm : each user's gradient is clipped to this L2 norm.
    delta : the delta of the (epsilon, delta) guarantee; well under 1 / number of users.
    n_negatives : sampled negatives per user and step (the loss is a sampled softmax).
    """

    noise_multiplier: float = 1.0
    max_grad_norm: float = 1.0
    delta: float = 1e-5
    n_negatives: int = 256

    def __post_init__(self) -> None:
        if self.noise_multiplier <= 0 or self.max_grad_norm <= 0:
            raise ValueError("noise_multiplier and max_grad_norm must be positive")
        if not 0 < self.delta < 1:
            raise ValueError("delta must be in (0, 1)")
        if self.n_negatives < 1:
            raise ValueError("n_negatives must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)

    def train(self, run: TrainRun) -> tuple[TrainHistory, PrivacyReport]:
        """:func:`dp_train` with this config (what ``SASRecRecommender.fit`` calls).
        ``run.validate`` is not used: see :func:`dp_train` on the epoch count."""
        return dp_train(
            run.model,
            run.histories,
            run.gaps,
            run.cfg,
            self,
            run.rng,
            run.max_seconds,
            run.progress,
        )


@dataclass
class PrivacyReport:
    """What a DP run spent: ``epsilon`` at ``delta`` after ``steps`` at ``sample_rate``."""

    epsilon: float
    delta: float
    steps: int
    sample_rate: float
    noise_multiplier: float
    max_grad_norm: float
    users: int
    accountant: str = "rdp"

    def to_dict(self) -> dict:
        return asdict(self)


def dp_train(
    model: SASRec,
    histories: list[np.ndarray],
    gaps: list[np.ndarray] | None,
    cfg: SASRecConfig,
    dp: DPConfig,
    rng: np.random.Generator,
    max_seconds: float | None = None,
    progress: bool = True,
) -> tuple[TrainHistory, PrivacyReport]:
    """Train ``model`` in place with DP-SGD (Adam on the noised, clipped gradients).

    Parameters
    ----------
    model : a fresh :class:`SASRec`.
    histories : per-user training sequences (users with fewer than 2 items are not sampled).
    gaps : per-user :func:`~shoprec.models.sasrec.gap_buckets` (when ``cfg.time_gaps``).
    cfg : the model's config (``lr``, ``batch_size`` = expected users per step, ``epochs``);
        its early stopping is not used.
    dp : noise, clipping and delta.
    rng : draws the users and the negatives.
    max_seconds, progress : as in :func:`shoprec.models.train_loop.train`.

    Returns
    -------
    tuple[TrainHistory, PrivacyReport]
        The weights after the last step; the epsilon covers every step taken.

    Notes
    -----
    The number of epochs is fixed in advance (``cfg.epochs``, a public choice; ``max_seconds``
    may end it sooner, a wall-clock cut that reads no data): no validation score on the
    users' data picks the epoch returned or stops early. Choosing the best epoch on private
    validation data would be a release of that data outside the reported epsilon.
    """
    from opacus import GradSampleModule
    from opacus.accountants import RDPAccountant
    from opacus.optimizers import DPOptimizer

    if cfg.id_min_count > 0:  # the gate would publish which items were seen how often
        raise ValueError("id_min_count switches items by raw counts: not private, use 0")
    usable = [i for i, h in enumerate(histories) if len(h) >= 2]
    users = [histories[i] for i in usable]
    user_gaps = None if gaps is None else [gaps[i] for i in usable]
    if not users:
        raise ValueError("no user has two items: nothing to train on")
    q = min(1.0, cfg.batch_size / len(users))
    wrapped = GradSampleModule(model)  # per-user gradients by hooks on model's layers
    optimizer = DPOptimizer(
        torch.optim.Adam(model.parameters(), lr=cfg.lr),
        noise_multiplier=dp.noise_multiplier,
        max_grad_norm=dp.max_grad_norm,
        expected_batch_size=max(1, round(q * len(users))),
        loss_reduction="mean",
    )
    accountant = RDPAccountant()
    optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=q))

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
        return poisson_batches(
            users, user_gaps, cfg.max_len, model.n_items, dp, q, rng, on_empty=empty_step
        )

    def empty_step() -> None:
        accountant.step(noise_multiplier=dp.noise_multiplier, sample_rate=q)

    def loss(
        inp: torch.Tensor, tgt: torch.Tensor, neg: torch.Tensor, gaps: torch.Tensor
    ) -> torch.Tensor:
        return model.loss_per_user(inp, tgt, neg, gaps if cfg.time_gaps else None).mean()

    with warnings.catch_warnings():
        # Opacus' hooks on layers whose inputs are item ids (no gradient) make torch warn
        warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
        try:
            history = train(
                model,
                optimizer,
                batches,
                max(1, round(1.0 / q)),
                loss,
                cfg.epochs,
                validate=None,  # a fixed epoch count: no choice made on private validation
                max_seconds=max_seconds,
                progress=progress,
                desc="sasrec-dp",
            )
        finally:
            wrapped._close()  # remove the hooks: the model is an ordinary module again
    steps = sum(n for _, _, n in accountant.history)
    report = PrivacyReport(
        epsilon=float(accountant.get_epsilon(dp.delta)) if steps else 0.0,
        delta=dp.delta,
        steps=int(steps),
        sample_rate=q,
        noise_multiplier=dp.noise_multiplier,
        max_grad_norm=dp.max_grad_norm,
        users=len(users),
    )
    log.info(
        "DP training: epsilon %.2f at delta %g after %d steps", report.epsilon, dp.delta, steps
    )
    return history, report


def composed_epsilon(reports: list[PrivacyReport], delta: float) -> float:
    """Epsilon at ``delta`` of several runs on the same users, released together (RDP adds)."""
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [(r.noise_multiplier, r.sample_rate, r.steps) for r in reports if r.steps]
    return float(accountant.get_epsilon(delta)) if accountant.history else 0.0


def poisson_batches(
    users: list[np.ndarray],
    gaps: list[np.ndarray] | None,
    max_len: int,
    n_items: int,
    dp: DPConfig,
    q: float,
    rng: np.random.Generator,
    on_empty: Callable[[], None] | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """One epoch, ``round(1 / q)`` steps, each of the users drawn independently with
    probability ``q``: yields ``(inputs, targets, negatives, gaps)`` shaped ``(B, T)``,
    ``(B, T)``, ``(B, K)``, ``(B, T)`` (gaps all 1 when ``gaps`` is None); ``on_empty`` is
    called for a draw of nobody."""
    seqs = [h[-(max_len + 1) :] for h in users]
    seq_gaps = None if gaps is None else [g[-(max_len + 1) :] for g in gaps]
    for _ in range(max(1, round(1.0 / q))):
        chosen = np.flatnonzero(rng.random(len(seqs)) < q)
        if not len(chosen):  # nothing to train on, but the draw is accounted all the same
            if on_empty is not None:
                on_empty()
            continue
        T = max(len(seqs[u]) for u in chosen) - 1
        inp = pad_left([seqs[u][:-1] for u in chosen], T)
        tgt = pad_left([seqs[u][1:] for u in chosen], T)
        neg = rng.integers(1, n_items + 1, size=(len(chosen), dp.n_negatives))
        g = (
            pad_left([seq_gaps[u][:-1] for u in chosen], T)
            if seq_gaps is not None
            else (inp > 0).astype(np.int64)
        )
        yield tuple(torch.from_numpy(x) for x in (inp, tgt, neg, g))
