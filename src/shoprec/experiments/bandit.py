"""Thompson sampling over variants: traffic shares follow each variant's posterior
probability of converting best, with a floor per variant so that none stops learning."""

from __future__ import annotations

from shoprec.experiments.stats import prob_best


def thompson_shares(
    successes: list[int], trials: list[int], floor: float, draws: int = 4000, seed: int = 0
) -> list[float]:
    """Shares (summing to 1) for the next shoppers.

    Sending a share ``P(k is best)`` of new shoppers to variant ``k`` is Thompson sampling
    in expectation (each shopper would get the variant whose posterior draw is highest);
    deterministic shares let assignment stay a hash. Each variant keeps at least ``floor``.

    Parameters
    ----------
    successes, trials : per variant, converted shoppers and exposed shoppers.
    floor : minimum share per variant, ``0 <= floor * K <= 1``.
    """
    k = len(trials)
    if not 0.0 <= floor * k <= 1.0:
        raise ValueError(f"floor {floor} is impossible with {k} variants")
    p = prob_best(successes, trials, draws, seed)
    return [floor + (1.0 - floor * k) * x for x in p]
