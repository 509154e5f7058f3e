"""The live benchmark (issue 21, prequential replay): does retraining from the live store pay?

Data: Amazon Beauty (``SHOPREC_DATA_DIR``), read with shoprec's readers. Its reviews pile up at
the end of its span (the first 70% of the time span holds about 5% of the events), so the cut
is the time by which 70% of the *events* had happened: events before it are imported, the rest
(about 30%, ties at the cut-off all on the stream side) are the stream, posted in time order.
Events of one day keep each shopper's own order and are interleaved across shoppers.

Built once under ``--work``: a folder store with the items and the imported events
(``shoprec import``), a first bundle (``shoprec train --store --quick --max-seconds``), then
copied, so that both arms start from the same store and bundle.

Each arm runs a real ``shoprec serve --store COPY`` subprocess (embedded store). The stream goes
in chunks of distinct shoppers (a shopper at most once per chunk, so the feed before each event
reflects all their earlier events): one ``POST /v1/recommendations/batch`` (n=10) for the
chunk's shoppers, each list scored against that shopper's event item (HR@10, NDCG@10; shoppers
never seen before get the cold feed and are also counted apart), then ``POST /v1/events`` of
the chunk (at most 1,000 per call, with ``event_id``). Any non-2xx answer is an error. A probe
thread GETs one known shopper's feed every 100 ms throughout.

Arm ``retrain``: at every ``--every`` of the *whole* stream (so a ``--stream-fraction`` prefix
runs the same schedule), ``shoprec train --store COPY`` starts as a low-priority subprocess
(``--nice``, default +10, one thread, as ``serve --retrain-every`` runs it) while the stream
continues; if the previous one still runs at the next mark, the stream waits for it (the wait is
recorded); one still running when the stream ends is stopped. The server's watcher picks up
what the gate publishes. Arm ``never``: the same stream, no training (``--parallel``: both arms
at once). Report: bench/results/replay.{json,md,png}; the per-event scores go to
``WORK/per_event.npz`` and the last half's paired difference gets a bootstrap interval.

    .venv/bin/python bench/replay.py [--stream-fraction 0.05] [--train-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

sys.path.insert(0, str(Path(__file__).parent))
from serving import pct, write_report  # noqa: E402

from shoprec.data.readers import read_interactions_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHOPREC = str(ROOT / ".venv" / "bin" / "shoprec")
K = 10


def ordered(df: pd.DataFrame) -> pd.DataFrame:
    """Time order; within one timestamp each shopper's own order, interleaved across shoppers
    (round k holds every shopper's k-th event of that time), so chunks of distinct shoppers
    stay long."""
    df = df.reset_index(drop=True)
    df["round"] = df.groupby(["user_id", "timestamp"]).cumcount()
    df["row"] = np.arange(len(df))
    return df.sort_values(["timestamp", "round", "row"], kind="stable").reset_index(drop=True)


def split_at_event_quantile(ts: np.ndarray, q: float) -> float:
    """The time by which a share ``q`` of the events had happened: events strictly before it
    are the head, all ties at it go to the stream."""
    return float(np.sort(ts)[int(q * len(ts))])


def chunks(users: list[str], limit: int) -> list[tuple[int, int]]:
    """[start, end) runs of consecutive events with distinct shoppers, at most ``limit`` each."""
    out, start, seen = [], 0, set()
    for i, u in enumerate(users):
        if u in seen or i - start >= limit:
            out.append((start, i))
            start, seen = i, set()
        seen.add(u)
    if start < len(users):
        out.append((start, len(users)))
    return out


def rank_metrics(items: list[str], target: str) -> tuple[float, float]:
    """(HR@K, NDCG@K) of one list against the one held item."""
    try:
        r = items[:K].index(target)
    except ValueError:
        return 0.0, 0.0
    return 1.0, 1.0 / math.log2(r + 2)


#: How far one posted event may be ahead of the served clock (30 days: the stream's gaps).
REPLAY_SKEW_S = 30 * 86_400


def env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "SHOPREC_DATA_DIR": args.data_dir,
        "SHOPREC_ARTIFACTS_DIR": args.artifacts,
        "SHOPREC_TEXT_CACHE": args.text_cache,
        # the stream is 2014-2015 history posted into `serve --store` (a live shop's wall clock
        # by default, which would decay it all): the data clock follows the stream's own time,
        # and may move ahead by the longest gap between two of its days
        "SHOPREC_CLOCK": "data",
        "SHOPREC_MAX_FUTURE_SKEW_S": str(REPLAY_SKEW_S),
    }


def run(cmd: list[str], args: argparse.Namespace, log: Path) -> float:
    t = time.time()
    with log.open("a") as f:
        subprocess.run(cmd, env=env(args), stdout=f, stderr=subprocess.STDOUT, check=True)
    return time.time() - t


def prepare(args: argparse.Namespace, work: Path) -> dict:
    """The head/stream split, the base store (import + first bundle), cached in ``work``."""
    data = Path(args.data_dir) / "amazon_beauty"
    df = read_interactions_table(data / "interactions.csv")
    df["event_id"] = [f"beauty:{i}" for i in range(len(df))]
    ts = df["timestamp"].to_numpy()
    cut = split_at_event_quantile(ts, args.head)
    span_cut = ts.min() + args.head * (ts.max() - ts.min())
    head, stream = ordered(df[ts < cut].copy()), ordered(df[ts >= cut].copy())
    split = {
        "events": len(df),
        "cut_time": cut,
        "head_events": len(head),
        "stream_events": len(stream),
        "head_share": len(head) / len(df),
        "share_before_70pct_of_span": float((ts < span_cut).mean()),
    }
    base = work / "base"
    if not (base / "bundles" / "published.json").is_file():
        shutil.rmtree(base, ignore_errors=True)
        ev = work / "head_events.csv"
        head.assign(type="purchase")[
            ["user_id", "item_id", "type", "timestamp", "event_id"]
        ].to_csv(ev, index=False)
        log = work / "build.log"
        split["import_s"] = run(
            [SHOPREC, "import", "--store", str(base), "--items", str(data / "items.csv"),
             "--events", str(ev)], args, log)  # fmt: skip
        split["first_train_s"] = run(
            [SHOPREC, "train", "--store", str(base), "--quick", "--max-seconds",
             str(args.init_seconds)], args, log)  # fmt: skip
        (work / "split.json").write_text(json.dumps(split))
    else:
        split |= {k: v for k, v in json.loads((work / "split.json").read_text()).items()
                  if k.endswith("_s")}  # fmt: skip
    return {"split": split, "head_users": set(head["user_id"]), "stream": stream}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ``shoprec serve --store`` subprocess and a feed probe every 100 ms."""

    def __init__(self, args: argparse.Namespace, store: Path, log: Path, probe_user: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [SHOPREC, "serve", "--store", str(store), "--port", str(self.port)],
            env=env(args), stdout=log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.http = requests.Session()
        deadline = time.time() + 600
        while time.time() < deadline:
            try:
                if self.http.get(self.url + "/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited, see {log}")
            time.sleep(1)
        self.probes: list[tuple[float, float, int]] = []  # (start, seconds, status)
        self._stop = threading.Event()
        self._probe_path = f"/v1/users/{probe_user}/recommendations?n={K}"
        self._thread = threading.Thread(target=self._probe, daemon=True)
        self._thread.start()

    def _probe(self) -> None:
        http = requests.Session()
        while not self._stop.is_set():
            t = time.time()
            try:
                status = http.get(self.url + self._probe_path, timeout=30).status_code
            except requests.RequestException:
                status = 0
            self.probes.append((t, time.time() - t, status))
            self._stop.wait(max(0.0, 0.1 - (time.time() - t)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.proc.terminate()
        self.proc.wait(30)


class Trainer:
    """The retrain arm's training runs: one at a time, nice +10, one thread."""

    def __init__(self, args: argparse.Namespace, store: Path, log: Path):
        self.args, self.store, self.log = args, store, log
        self.proc: subprocess.Popen | None = None
        self.runs: list[dict] = []

    def start(self, at_event: int) -> float:
        """Start a run at stream position ``at_event``; returns seconds waited for the last."""
        waited = self.finish()
        e = env(self.args) | {"SHOPREC_THREADS": "1", "OMP_NUM_THREADS": "1"}
        cmd = ["nice", "-n", str(self.args.nice), SHOPREC, "train", "--store", str(self.store),
               "--quick", "--max-seconds", str(self.args.train_seconds)]  # fmt: skip
        self.before = self._versions()
        self.proc = subprocess.Popen(
            cmd, env=e, stdout=self.log.open("a"), stderr=subprocess.STDOUT
        )
        self.runs.append({"at_event": at_event, "start": time.time(), "waited_s": waited})
        return waited

    def stop(self) -> None:
        """At the stream's end: a run still going can no longer serve any event; stop it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.runs[-1]["stopped_at_stream_end"] = True
        self.finish()

    def finish(self) -> float:
        if self.proc is None:
            return 0.0
        t = time.time()
        rc = self.proc.wait()
        run = self.runs[-1]
        run |= {"end": time.time(), "rc": rc, "wall_s": time.time() - run["start"]}
        for v in sorted(self._versions() - self.before):
            m = json.loads((self.store / "bundles" / v / "manifest.json").read_text())
            gate, held = m.get("gate", {}), m.get("heldout", {})
            run |= {"version": v, "decision": gate.get("decision"), "reason": gate.get("reason"),
                    "heldout_new": held.get("new"), "heldout_served": held.get("served"),
                    "events_in": m.get("events"), "stages": m.get("stage_seconds")}  # fmt: skip
        self.proc = None
        return time.time() - t

    def _versions(self) -> set[str]:
        root = self.store / "bundles"
        return {p.name for p in root.iterdir() if (p / "manifest.json").is_file()}


def replay(args: argparse.Namespace, prep: dict, arm: str, work: Path) -> dict:
    store = work / f"arm-{arm}"
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(work / "base", store)
    stream: pd.DataFrame = prep["stream"]
    n = int(len(stream) * args.stream_fraction)
    users, items = stream["user_id"].tolist()[:n], stream["item_id"].tolist()[:n]
    stamps, ids = stream["timestamp"].tolist()[:n], stream["event_id"].tolist()[:n]
    seen = set(prep["head_users"])
    probe_user = sorted(seen)[0]
    server = Server(args, store, work / f"serve-{arm}.log", probe_user)
    trainer = Trainer(args, store, work / f"train-{arm}.log") if arm == "retrain" else None
    # marks at every --every of the whole stream, so that a prefix runs the same schedule
    full = len(stream)
    marks = [
        m for k in range(1, int(round(1 / args.every))) if (m := round(full * args.every * k)) < n
    ]
    edges = list(marks)
    hr, ndcg, cold = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    versions: list[str] = [""] * n
    calls: list[tuple[float, float, str]] = []  # (start, seconds, "batch"|"events")
    errors: list[str] = []
    t0 = time.time()
    for a, b in chunks(users, 1000):
        while trainer is not None and marks and a >= marks[0]:
            trainer.start(marks.pop(0))
        batch = {"user_ids": users[a:b], "n": K}
        t = time.time()
        r = server.http.post(server.url + "/v1/recommendations/batch", json=batch, timeout=600)
        calls.append((t, time.time() - t, "batch"))
        if not r.ok:
            errors.append(f"batch {r.status_code} {r.text[:200]}")
        else:
            for i, line in enumerate(r.text.splitlines(), start=a):
                body = json.loads(line)
                hr[i], ndcg[i] = rank_metrics([x["item_id"] for x in body["items"]], items[i])
                versions[i] = body["model_version"]
        for i in range(a, b):
            cold[i] = users[i] not in seen
            seen.add(users[i])
        events = [{"user_id": users[i], "item_id": items[i], "type": "purchase",
                   "timestamp": stamps[i], "event_id": ids[i]} for i in range(a, b)]  # fmt: skip
        t = time.time()
        r = server.http.post(server.url + "/v1/events", json={"events": events}, timeout=600)
        calls.append((t, time.time() - t, "events"))
        if not r.ok:
            errors.append(f"events {r.status_code} {r.text[:200]}")
        if (a // 1000) != (b // 1000):
            print(f"{arm}: {b}/{n} events, {time.time() - t0:.0f} s, NDCG@10 so far "
                  f"{ndcg[:b].mean():.4f}, version {versions[a]}", flush=True)  # fmt: skip
    stream_s = time.time() - t0
    if trainer is not None:
        trainer.stop()
    server.stop()
    runs = trainer.runs if trainer else []
    spans = [(r["start"], r["end"]) for r in runs]

    def during(t: float) -> bool:
        return any(s <= t < e for s, e in spans)

    probe_err = [p for p in server.probes if not 200 <= p[2] < 300]
    errors += [f"probe {p[2]}" for p in probe_err]
    half = n // 2
    bins = np.split(np.arange(n), edges)  # the 5% slices of the whole stream
    lat = {}
    for name, rows in (("probe", [(p[0], p[1]) for p in server.probes]),
                       ("batch", [(c[0], c[1]) for c in calls if c[2] == "batch"])):  # fmt: skip
        lat[name] = {"training": pct([s for t, s in rows if during(t)]),
                     "idle": pct([s for t, s in rows if not during(t)])}  # fmt: skip
    return {
        "arm": arm,
        "events": n,
        "stream_s": stream_s,
        "errors": len(errors),
        "error_samples": errors[:5],
        "batch_calls": sum(c[2] == "batch" for c in calls),
        "probe_calls": len(server.probes),
        "all": {"HR@10": hr.mean(), "NDCG@10": ndcg.mean()},
        "last_half": {"HR@10": hr[half:].mean(), "NDCG@10": ndcg[half:].mean()},
        "known": {"n": int((~cold).sum()), "NDCG@10": float(ndcg[~cold].mean())},
        "cold": {"n": int(cold.sum()), "NDCG@10": float(ndcg[cold].mean()) if cold.any() else 0},
        "curve_ndcg": [float(ndcg[i].mean()) for i in bins],
        "curve_hr": [float(hr[i].mean()) for i in bins],
        "versions_seen": sorted(set(versions) - {""}),
        "latency_ms": lat,
        "trainings": [{k: v for k, v in r.items() if k not in ("start", "end")} for r in runs],
        "per_event": {"ndcg": ndcg, "hr": hr, "cold": cold},  # popped: into an .npz
    }


def plot(arms: list[dict], every: float, stream: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r in arms:
        x = (np.arange(len(r["curve_ndcg"])) + 1) * 100 * every
        ax.plot(x, r["curve_ndcg"], marker="o", label=f"{r['arm']} (NDCG@10)")
    for t in next((r["trainings"] for r in arms if r["trainings"]), []):
        ax.axvline(100 * t["at_event"] / stream, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("position in the whole stream (%); each point: the mean over one slice")
    ax.set_ylabel("online NDCG@10 (feed before each event)")
    ax.set_title("Amazon Beauty replay: retrain from the store vs never (dotted: training starts)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(doc: dict) -> str:
    s, arms = doc["split"], {r["arm"]: r for r in doc["arms"]}
    lines = [
        "# Live replay benchmark (issue 21)",
        "",
        f"{doc['date']}, `{doc['command']}`; {doc['cpu']}, {doc['cores']} cores shared "
        f"(torch AMX: {doc['amx']}), load average {doc['loadavg_start']} at the start and "
        f"{doc['loadavg_end']} at the end.",
        "",
        f"Amazon Beauty, {s['events']:,} events. The first 70% of its time span holds only "
        f"{s['share_before_70pct_of_span']:.1%} of the events, so the cut is the time by which "
        f"70% of the events had happened: {s['head_events']:,} events imported "
        f"({s['head_share']:.1%}), {s['stream_events']:,} in the stream; this run replays "
        f"{doc['stream_fraction']:.0%} of it ({doc['arms'][0]['events']:,} events). Import "
        f"{s.get('import_s', 0):.0f} s, first bundle {s.get('first_train_s', 0):.0f} s "
        f"(`--quick --max-seconds {doc['init_seconds']}`); retraining `--quick --max-seconds "
        f"{doc['train_seconds']}` every {doc['every']:.0%} of the stream.",
        "",
        "| arm | NDCG@10 all | HR@10 all | NDCG@10 last half | HR@10 last half | known / cold "
        "shoppers (NDCG@10) | errors | stream wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["arms"]:
        lines.append(
            f"| {r['arm']} | {r['all']['NDCG@10']:.4f} | {r['all']['HR@10']:.4f} | "
            f"{r['last_half']['NDCG@10']:.4f} | {r['last_half']['HR@10']:.4f} | "
            f"{r['known']['n']:,} ({r['known']['NDCG@10']:.4f}) / {r['cold']['n']:,} "
            f"({r['cold']['NDCG@10']:.4f}) | {r['errors']} | {r['stream_s']:.0f} s |"
        )
    if {"retrain", "never"} <= arms.keys():
        a, b = arms["retrain"]["last_half"]["NDCG@10"], arms["never"]["last_half"]["NDCG@10"]
        verdict = "beats" if a > b else "does not beat"
        lines += ["", f"Last half: retraining {verdict} never retraining, NDCG@10 {a:.4f} vs "
                  f"{b:.4f} ({(a - b) / b:+.1%})."]  # fmt: skip
        if pd_ := doc.get("last_half_paired"):
            lines[-1] += (f" Paired over the last half's {pd_['events']:,} events (the arms'"
                          f" scores differ at {pd_['differ']:,}): difference "
                          f"{pd_['mean']:+.4f}, 95% bootstrap interval [{pd_['ci95'][0]:+.4f}, "
                          f"{pd_['ci95'][1]:+.4f}].")  # fmt: skip
    lines += ["", "![curves](replay.png)", "", "Feed latency (ms) while a training ran / while "
              "none ran:", "", "| arm | call | p50 training | p99 training | p50 idle | p99 idle |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for r in doc["arms"]:
        for name, d in r["latency_ms"].items():
            tr, idle = d["training"], d["idle"]
            lines.append(
                f"| {r['arm']} | {name} | {tr.get('p50', float('nan')):.1f} | "
                f"{tr.get('p99', float('nan')):.1f} | {idle.get('p50', float('nan')):.1f} | "
                f"{idle.get('p99', float('nan')):.1f} |"
            )
    lines += ["", "(probe: GET one shopper's feed, n=10, every 100 ms; batch: one "
              "`POST /v1/recommendations/batch` per chunk of up to 1,000 distinct shoppers)", "",
              "Training runs (retrain arm):", "",
              "| at event | waited for previous | wall | decision | held-out NDCG@10 new / served "
              "| version |", "|---|---|---|---|---|---|"]  # fmt: skip
    for t in arms.get("retrain", {}).get("trainings", []):
        new, old = t.get("heldout_new") or {}, t.get("heldout_served") or {}
        lines.append(
            f"| {t['at_event']:,} | {t['waited_s']:.0f} s | {t.get('wall_s', 0):.0f} s | "
            f"{_decision(t)} | {new.get('NDCG@10', float('nan')):.4f} / "
            f"{old.get('NDCG@10', float('nan')):.4f} | {t.get('version')} |"
        )
    return "\n".join(lines) + "\n"


def paired(per_event: dict[str, dict[str, np.ndarray]]) -> dict | None:
    """Retrain minus never on the last half, event by event: the mean NDCG@10 difference with
    a 95% bootstrap interval (2,000 resamples of the events)."""
    if not {"retrain", "never"} <= per_event.keys():
        return None
    d = per_event["retrain"]["ndcg"] - per_event["never"]["ndcg"]
    d = d[len(d) // 2 :]
    rng = np.random.default_rng(0)
    boots = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(2000)]
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"mean": float(d.mean()), "ci95": [float(lo), float(hi)], "differ": int((d != 0).sum()),
            "events": len(d)}  # fmt: skip


def _decision(t: dict) -> str:
    if t.get("decision"):
        return t["decision"]
    return "stopped at the stream's end" if t.get("stopped_at_stream_end") else f"rc {t['rc']}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default=str(ROOT / "artifacts" / "replay"), help="scratch stores")
    p.add_argument("--data-dir", default=os.environ.get("SHOPREC_DATA_DIR", "data"))
    p.add_argument("--artifacts", default=os.environ.get("SHOPREC_ARTIFACTS_DIR", "artifacts"))
    p.add_argument("--text-cache", default=str(ROOT / "artifacts" / "text_cache.npz"))
    p.add_argument("--head", type=float, default=0.7, help="share of events imported")
    p.add_argument("--stream-fraction", type=float, default=1.0, help="replay this prefix")
    p.add_argument("--every", type=float, default=0.05, help="retrain at every this share")
    p.add_argument("--train-seconds", type=float, default=60)
    p.add_argument("--init-seconds", type=float, default=60)
    p.add_argument("--arms", default="retrain,never")
    p.add_argument("--parallel", action="store_true", help="run the arms at the same time")
    p.add_argument("--nice", type=int, default=10, help="niceness of the training runs")
    p.add_argument("--out", default=str(RESULTS / "replay"))
    p.add_argument("--report", help="only rewrite the .md and .png from this run's JSON")
    args = p.parse_args()
    out = Path(args.out)
    if args.report:
        doc = json.loads(Path(args.report).read_text())
        plot(doc["arms"], doc["every"], doc["split"]["stream_events"], out.with_suffix(".png"))
        write_report(out.with_suffix(".md"), markdown(doc))
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    random.seed(0)
    load0 = os.getloadavg()
    prep = prepare(args, work)
    print(json.dumps(prep["split"]), flush=True)
    names = args.arms.split(",")
    if args.parallel:  # both servers at once: on a shared host, the same load for both arms
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(names)) as pool:
            arms = list(pool.map(lambda arm: replay(args, prep, arm, work), names))
    else:
        arms = [replay(args, prep, arm, work) for arm in names]
    per_event = {r["arm"]: r.pop("per_event") for r in arms}
    np.savez(
        work / "per_event.npz",
        **{f"{a}_{k}": v for a, d in per_event.items() for k, v in d.items()},
    )
    import torch

    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["python", *sys.argv]),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "amx": "amx_tile" in Path("/proc/cpuinfo").read_text(),
        "torch_cpu": torch.backends.cpu.get_cpu_capability(),
        "loadavg_start": [round(x, 2) for x in load0],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "stream_fraction": args.stream_fraction,
        "every": args.every,
        "parallel": args.parallel,
        "nice": args.nice,
        "train_seconds": args.train_seconds,
        "init_seconds": args.init_seconds,
        "split": prep["split"],
        "arms": arms,
        "last_half_paired": paired(per_event),
    }
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1, default=float))
    plot(arms, args.every, prep["split"]["stream_events"], out.with_suffix(".png"))
    write_report(out.with_suffix(".md"), markdown(doc))
    print(markdown(doc))


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


if __name__ == "__main__":
    main()
