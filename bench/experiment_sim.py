"""Strategy optimisation in the Beauty shopper simulator (issue 8's acceptance run).

    .venv/bin/python bench/experiment_sim.py [--ab 3000 --bandit 3000 --explore 2000]

On a served engine (quick SASRec checkpoint, own temporary store) holding every Beauty user's
history but the last item, simulated shoppers (``shoprec.experiments.simulator``) react to
the lists the engine serves:

1. A/B test through the HTTP API: the default strategy against a deliberately worse one
   (no sequence model, no ranker), 50/50; the report's conversion lift and P(best).
2. Bandit mode on fresh shoppers: Thompson sampling's share of traffic over time.
3. Off-policy tuning: an ``explore`` experiment through the API serves re-rank weight
   settings drawn uniformly from a grid and logs every setting's list per request; IPS
   estimates per setting with intervals, against each setting's on-policy result (the same
   shoppers served that setting's list, with fresh random reactions).

Writes ``bench/results/experiments.{md,json,png}`` and the exploration log that
``shoprec experiments tune`` reads (``runs/experiments/exploration.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: The deliberately worse strategy: trending items only (no sequence model, co-visitation,
#: text neighbours or ranker).
WORSE = {"n_seq": 0, "n_covis": 0, "n_text": 0, "n_session": 0, "use_ranker": False}
#: Strategies whose true expected value the report lists beside the two compared.
TRUTH = {
    "text neighbours + trending": {"n_seq": 0, "n_covis": 0, "use_ranker": False},
    "no ranker": {"use_ranker": False},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ab", type=int, default=3000, help="shoppers in the A/B test")
    ap.add_argument("--bandit", type=int, default=3000, help="shoppers in the bandit run")
    ap.add_argument("--explore", type=int, default=2000, help="exploration shoppers")
    ap.add_argument("--truth", type=int, default=1500, help="shoppers for the truth table")
    ap.add_argument("--n", type=int, default=10, help="list length")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results")
    ap.add_argument("--log", type=Path, default=ROOT / "runs/experiments/exploration.jsonl")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    t0 = time.time()
    engine, data = _engine()
    from shoprec.experiments.simulator import BeautyShoppers

    shoppers = BeautyShoppers.from_data(data, engine.catalog.index, engine.catalog.view().vectors)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(np.flatnonzero(shoppers.target > 0))
    ab_users = order[: args.ab]
    bandit_users = order[args.ab : args.ab + args.bandit]
    explore_users = order[args.ab + args.bandit : args.ab + args.bandit + args.explore]
    doc: dict = {"setup": {"args": {k: str(v) for k, v in vars(args).items()}}}
    doc["setup"]["engine_s"] = round(time.time() - t0, 1)
    from fastapi.testclient import TestClient

    from shoprec.serving.app import create_app

    client = TestClient(create_app(engine))
    t1 = time.time()
    doc["truth"] = _truth(engine, shoppers, ab_users[: args.truth], args.n)
    doc["truth_seconds"] = round(time.time() - t1, 1)
    t1 = time.time()
    doc["ab"] = _experiment(client, shoppers, ab_users, "ab", "fixed", args.n, rng)
    doc["ab"]["seconds"] = round(time.time() - t1, 1)
    t1 = time.time()
    doc["bandit"] = _experiment(client, shoppers, bandit_users, "bandit", "bandit", args.n, rng)
    doc["bandit"]["seconds"] = round(time.time() - t1, 1)
    t1 = time.time()
    doc["offpolicy"] = _offpolicy(client, shoppers, explore_users, args.n, rng, args.log)
    doc["offpolicy"]["seconds"] = round(time.time() - t1, 1)
    doc["seconds"] = round(time.time() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "experiments.json").write_text(json.dumps(doc, indent=2))
    _plot(doc, args.out / "experiments.png")
    (args.out / "experiments.md").write_text(_markdown(doc))
    print(_markdown(doc))


def _engine():  # -> (Engine, SequenceData)
    """A served Beauty engine in a temporary store with every history but the last item."""
    from shoprec.data.datasets import load_dataset
    from shoprec.experiments.simulator import history_events
    from shoprec.serving.build import build_engine
    from shoprec.settings import Settings

    settings = Settings()
    if not settings.data_dir.is_absolute():
        settings = Settings(data_dir=(ROOT / settings.data_dir).resolve())
    data = load_dataset("amazon-beauty", settings)
    store = Path(tempfile.mkdtemp(prefix="shoprec-exp-sim-"))
    built = build_engine(
        data, settings, store=store, quick=True, progress=False, import_history=False
    )
    events = history_events(data)
    for s in range(0, len(events), 5000):
        built.engine.ingest(events[s : s + 5000])
    return built.engine, data


def _truth(engine, shoppers, users, n) -> dict:  # noqa: ANN001
    """Exact expected conversion and clicks per shopper of each strategy (the simulator's
    ground truth), on shoppers before anything is served to them."""
    from dataclasses import replace

    base = engine.pipeline.strategy
    named = {"default": base, "worse": replace(base, name="worse", **WORSE)}
    named |= {k: replace(base, name=k, **v) for k, v in TRUTH.items()}
    out = {}
    for name, st in named.items():
        conv, clicks = [], []
        for u in users.tolist():
            items = engine.recommend(shoppers.user_ids[u], n, strategy=st).items
            e = shoppers.expected(u, np.array([r.index for r in items], np.int64))
            conv.append(e["conversion"])
            clicks.append(e["clicks"])
        out[name] = {"conversion": float(np.mean(conv)), "clicks": float(np.mean(clicks))}
    return {"shoppers": len(users), "strategies": out}


def _experiment(client, shoppers, users, name, mode, n, rng) -> dict:  # noqa: ANN001
    """One experiment through the API; every shopper visits once and reacts."""
    body = {
        "name": name,
        "variants": [{"name": "default"}, {"name": "worse", "strategy": WORSE}],
        "traffic": [0.5, 0.5],
        "mode": mode,
        "floor": 0.05,
    }
    r = client.post("/v1/experiments", json=body)
    r.raise_for_status()
    engine = client.app.state.engine
    ids = engine.catalog.ids
    served, shares, truth = [], [], {"default": [], "worse": []}
    for j, u in enumerate(users.tolist()):
        uid = shoppers.user_ids[u]
        res = client.get(f"/v1/users/{uid}/recommendations", params={"n": n}).json()
        shown = engine.catalog.indices([it["item_id"] for it in res["items"]])
        served.append(res["variant"])
        truth[res["variant"]].append(shoppers.expected(u, shown)["conversion"])
        react = shoppers.respond(u, shown, rng)
        fb = {"user_id": uid, "impressions": [ids[i] for i in shown]}
        fb["clicks"] = [ids[i] for i in react.clicks]
        client.post("/v1/feedback", json=fb).raise_for_status()
        events = [
            {
                "user_id": uid,
                "item_id": ids[i],
                "type": kind,
                "event_id": f"{name}:{uid}:{kind}:{i}",
            }
            for kind, got in (("add_to_cart", react.carts), ("purchase", react.purchases))
            for i in got
        ]
        if events:
            client.post("/v1/events", json={"events": events}).raise_for_status()
        if j % 50 == 49 or j == len(users) - 1:
            shares.append((j + 1, engine.experiments.running.shares[0]))
    report = client.get(f"/v1/experiments/{name}").json()
    stop = client.post(f"/v1/experiments/{name}/stop", json={"action": "auto"}).json()
    tail = served[-len(served) // 5 :]
    return {
        "report": report,
        "stop": stop,
        "true_conversion": {k: float(np.mean(v)) if v else None for k, v in truth.items()},
        "share_default_over_time": shares,
        "served_default_last_fifth": float(np.mean([v == "default" for v in tail])),
        "served_default_all": float(np.mean([v == "default" for v in served])),
    }


def _offpolicy(client, shoppers, users, n, rng, log_path: Path) -> dict:  # noqa: ANN001
    """Exploration over the weight grid through the API (an ``explore`` experiment: uniform
    sticky shares, every request logs each setting's list), IPS estimates from the logged
    records, and each setting on-policy (the same shopper served that setting's list)."""
    from shoprec.experiments.offpolicy import Objective, estimate, weight_grid, write_log

    engine = client.app.state.engine
    grid = weight_grid(engine.pipeline.strategy)
    body = {
        "name": "explore",
        "variants": [{"name": g.name, "strategy": g.to_dict()} for g in grid],
        "mode": "explore",
    }
    client.post("/v1/experiments", json=body).raise_for_status()
    objective = Objective()
    ids = engine.catalog.ids
    onpolicy, exact = np.zeros((len(users), len(grid))), np.zeros(len(grid))
    for j, u in enumerate(users.tolist()):
        uid = shoppers.user_ids[u]
        res = client.get(f"/v1/users/{uid}/recommendations", params={"n": n}).json()
        rid = res["request_id"]
        shown = engine.catalog.indices([it["item_id"] for it in res["items"]])
        react = shoppers.respond(u, shown, rng)
        fb = {"user_id": uid, "impressions": [ids[i] for i in shown], "request_id": rid}
        fb["clicks"] = [ids[i] for i in react.clicks]
        client.post("/v1/feedback", json=fb).raise_for_status()
        events = [
            {"user_id": uid, "item_id": ids[i], "type": "purchase", "event_id": f"x:{uid}:{i}"}
            for i in react.purchases
        ]
        if events:
            client.post("/v1/events", json={"events": events}).raise_for_status()
        rec = engine.experiments.store.get(f"log:explore:{rid}")  # every setting's list
        for k, items in enumerate(rec["lists"]):  # on-policy: this shopper served list k
            lst = engine.catalog.indices(items)
            on = shoppers.respond(u, lst, rng)
            div = objective.diversity * rec["diversity"][k]
            onpolicy[j, k] = (
                objective.clicks * len(on.clicks) + objective.purchases * len(on.purchases) + div
            )
            e = shoppers.expected(u, lst)
            exact[k] += objective.clicks * e["clicks"] + objective.purchases * e["purchases"] + div
    client.post("/v1/experiments/explore/stop", json={"action": "rollback"}).raise_for_status()
    grid_back, records = engine.experiments.exploration_log("explore")
    assert len(records) == len(users) and grid_back == grid
    log_path.parent.mkdir(parents=True, exist_ok=True)
    write_log(log_path, grid, records)
    rows = estimate(grid, records, objective)
    for k, row in enumerate(rows):
        row["on_policy"] = float(onpolicy[:, k].mean())
        row["on_policy_gain"] = float((onpolicy[:, k] - onpolicy[:, 0]).mean())
        row["exact"] = float(exact[k] / len(users))
        row["covered"] = bool(row["low"] <= row["on_policy"] <= row["high"])
    served = np.bincount([r.served for r in records], minlength=len(grid))
    return {
        "objective": objective.__dict__,
        "log": str(log_path),
        "served_per_setting": served.tolist(),
        "settings": rows,
    }


def _plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    for key, style in (("ab", "--"), ("bandit", "-")):
        xs, ys = zip(*doc[key]["share_default_over_time"], strict=True)
        ax[0].plot(xs, ys, style, label=f"{key}: share to default")
    ax[0].axhline(0.8, color="grey", lw=0.8)
    ax[0].set(xlabel="shoppers", ylabel="traffic share of the default strategy", ylim=(0, 1))
    ax[0].legend()
    worse = next(v for v in doc["ab"]["report"]["variants"] if v["name"] == "worse")
    names, vals, errs = [], [], []
    for metric in ("conversion", "ctr"):
        lift = worse["lift"][metric]
        names.append(f"worse - default\n{metric}")
        vals.append(lift["diff"])
        errs.append([[lift["diff"] - lift["low"]], [lift["high"] - lift["diff"]]])
    for k in range(len(names)):
        ax[1].errorbar([k], [vals[k]], yerr=errs[k], fmt="o", capsize=6)
    ax[1].axhline(0, color="grey", lw=0.8)
    ax[1].set_xticks(range(len(names)), names)
    ax[1].set(title="A/B lift, 95% interval", xlim=(-0.5, len(names) - 0.5))
    rows = doc["offpolicy"]["settings"]
    x = np.arange(len(rows))
    est = np.array([r["value"] for r in rows])
    lo = est - np.array([r["low"] for r in rows])
    hi = np.array([r["high"] for r in rows]) - est
    ax[2].errorbar(x, est, yerr=[lo, hi], fmt="o", capsize=5, label="off-policy IPS, 95%")
    ax[2].plot(x, [r["on_policy"] for r in rows], "x", ms=9, label="on-policy")
    ax[2].plot(x, [r["exact"] for r in rows], "_", ms=14, color="k", label="true expected")
    ax[2].set_xticks(x, [r["setting"] for r in rows], rotation=30, ha="right")
    ax[2].set(title="re-rank weights: reward per request")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _stop(out: dict) -> str:
    if out["action"] == "promote":
        return f"promoted {out['variant']}"
    return "rolled back (the control, default, stays served)"


def _fmt(v: float | None, d: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{d}f}"


def _markdown(doc: dict) -> str:
    lines = [
        "# Strategy optimisation in the Beauty shopper simulator",
        "",
        "`.venv/bin/python bench/experiment_sim.py` "
        + " ".join(
            f"--{k} {v}"
            for k, v in doc["setup"]["args"].items()
            if k in ("ab", "bandit", "explore", "n", "seed")
        ),
        f"(engine build {doc['setup']['engine_s']} s, whole run {doc['seconds']} s, 1 torch "
        "thread, 2 shared cores). Default strategy vs a deliberately worse one "
        f"(`{json.dumps(WORSE)}`); one visit per shopper, lists of 10.",
        "",
    ]
    truth = doc["truth"]
    lines += [
        f"True expected values per shopper (exact, from the simulator's model, over "
        f"{truth['shoppers']} of the A/B shoppers before they were served):",
        "",
        "| strategy | conversion | clicks |",
        "|---|---|---|",
    ]
    for name, t in truth["strategies"].items():
        lines.append(f"| {name} | {t['conversion']:.4f} | {t['clicks']:.4f} |")
    lines.append("")
    for key in ("ab", "bandit"):
        part = doc[key]
        lines += [f"## {key} ({part['report']['mode']})", ""]
        lines += [
            "| variant | users | CTR [95%] | conversion [95%] | conversion lift vs default "
            "[95%] | P(best) | true conversion |",
            "|---|---|---|---|---|---|---|",
        ]
        for v in part["report"]["variants"]:
            c, r = v["conversion"], v["ctr"]
            lift = v["lift"]["conversion"] if v["lift"] else None
            lift_s = (
                f"{_fmt(lift['diff'])} [{_fmt(lift['low'])}, {_fmt(lift['high'])}]"
                if lift
                else "control"
            )
            lines.append(
                f"| {v['name']} | {v['users']} | {_fmt(r['value'])} [{_fmt(r['low'])}, "
                f"{_fmt(r['high'])}] | {_fmt(c['value'])} [{_fmt(c['low'])}, {_fmt(c['high'])}]"
                f" | {lift_s} | {v['prob_best']:.3f} | "
                f"{_fmt(part['true_conversion'][v['name']])} |"
            )
        lines += [
            "",
            f"Stop (auto): {_stop(part['stop'])}. Share of "
            f"shoppers served the default: {part['served_default_all']:.3f} overall, "
            f"{part['served_default_last_fifth']:.3f} in the last fifth; final assignment share "
            f"{part['share_default_over_time'][-1][1]:.3f}.",
            "",
        ]
    off = doc["offpolicy"]
    lines += [
        "## Off-policy tuning of the re-rank weights",
        "",
        f"Objective {off['objective']} per request. Exploration traffic through the API: an "
        "`explore` experiment over the grid (uniform sticky shares; served per setting: "
        f"{off.get('served_per_setting')}), each request logging every setting's list, clicks "
        "credited by request id, purchases by last touch. Log copied to "
        f"`{off['log']}` (`shoprec experiments tune --log ...`; `--store DIR --experiment NAME` "
        "reads a live store).",
        "",
        "| setting | IPS estimate [95%] | on-policy | true expected | on-policy inside the "
        "interval | IPS gain vs default [95%] | on-policy gain | true gain | lists matched |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = off["settings"][0]
    for r in off["settings"]:
        lines.append(
            f"| {r['setting']} | {_fmt(r['value'])} [{_fmt(r['low'])}, {_fmt(r['high'])}] | "
            f"{_fmt(r['on_policy'])} | {_fmt(r['exact'])} | {'yes' if r['covered'] else 'NO'} | "
            f"{_fmt(r['gain'])} [{_fmt(r['gain_low'])}, {_fmt(r['gain_high'])}] | "
            f"{_fmt(r['on_policy_gain'])} | {_fmt(r['exact'] - base['exact'])} | {r['matched']} |"
        )
    lines += ["", "![traffic share, lift, off-policy](experiments.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
