"""An experiment's report: per variant, exposures, CTR, conversion and revenue per shopper with
their intervals, the lift against control (Welch interval of the difference) and P(best) on
conversion."""

from __future__ import annotations

from shoprec.experiments.records import Experiment, Totals
from shoprec.experiments.stats import Moments, mean_ci, prob_best, welch_diff, wilson


def experiment_report(exp: Experiment, totals: list[Totals], level: float = 0.95) -> dict:
    """The report of ``exp`` from its per-variant ``totals`` (summed over every process)."""
    best = prob_best([t.converted for t in totals], [t.users for t in totals])
    metrics = [_metrics(t) for t in totals]
    ctl = metrics[exp.control]
    rows = []
    for k, ((vname, strategy), t, m) in enumerate(zip(exp.variants, totals, metrics, strict=True)):
        ctr_ci = wilson(t.clicks, t.impressions, level)
        conv_ci = wilson(t.converted, t.users, level)
        rows.append(
            {
                "name": vname,
                "strategy": strategy.to_dict(),
                "share": exp.shares[k],
                "users": t.users,
                "lists": t.lists,
                "impressions": t.impressions,
                "clicks": t.clicks,
                "click_events": t.click_events,
                "add_to_carts": t.add_to_carts,
                "purchases": t.purchases,
                "converted": t.converted,
                "revenue": t.revenue.s,
                "ctr": _ci(m["ctr"].mean if t.impressions else None, *ctr_ci),
                "conversion": _ci(m["conversion"].mean if t.users else None, *conv_ci),
                "revenue_per_user": _ci(
                    t.revenue.mean if t.users else None, *mean_ci(t.revenue, level)
                ),
                "prob_best": best[k],
                "lift": None
                if k == exp.control
                else {key: _lift(m[key], ctl[key], level) for key in m},
            }
        )
    return {
        "name": exp.name,
        "status": exp.status,
        "mode": exp.mode,
        "control": exp.variants[exp.control][0],
        "floor": exp.floor,
        "traffic": exp.traffic,
        "created_at": exp.created_at,
        "stopped_at": exp.stopped_at,
        "outcome": exp.outcome,
        "level": level,
        "variants": rows,
    }


def _metrics(t: Totals) -> dict[str, Moments]:
    """Per-unit moments: CTR over impressions, conversion and revenue over shoppers."""
    clicks = min(t.clicks, t.impressions)  # a click without its impression is not a rate
    return {
        "ctr": Moments(t.impressions, clicks, clicks),
        "conversion": Moments(t.users, t.converted, t.converted),
        "revenue_per_user": t.revenue,
    }


def _ci(value: float | None, low: float, high: float) -> dict:
    nan = low != low or high != high
    return {"value": value, "low": None if nan else low, "high": None if nan else high}


def _lift(treat: Moments, control: Moments, level: float) -> dict:
    diff, low, high = welch_diff(treat, control, level)
    rel = diff / control.mean if control.mean else None
    out = _ci(diff, low, high)
    return {"diff": out["value"], "low": out["low"], "high": out["high"], "relative": rel}
