"""Speed benchmarks (``shoprec bench``): the per-request user encoder and the text encoder.

Timings on a shared machine drift, so each figure is a median over repeats and, where a peer
exists, a ratio measured in the same run (numpy encoder vs torch inference mode; bf16 vs fp32,
with the CPU capability and the precision ``auto`` chose on this machine).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def user_encoder_latency(model_dir: Path | None, n_requests: int = 3000, seed: int = 0) -> dict:
    """Per-request latency of turning a 50-item history into scores over the catalog.

    Uses the trained checkpoint at ``model_dir`` when given, else a freshly initialised model
    of the chosen configuration on a 12,101-item catalog (same shapes, same cost).
    """
    import torch
    from threadpoolctl import threadpool_limits

    from shoprec.models.batching import pad_left
    from shoprec.models.sasrec import SASRec
    from shoprec.models.sasrec_infer import SASRecEncoder
    from shoprec.models.sasrec_recommender import SASRecRecommender
    from shoprec.training.sasrec_job import BEST_CONFIG

    if model_dir is not None and (model_dir / "manifest.json").is_file():
        net = SASRecRecommender.load(model_dir).model_
        source = str(model_dir)
    else:
        torch.manual_seed(seed)
        n = 12101
        net = SASRec(BEST_CONFIG, n, torch.randn(n + 1, 384) if BEST_CONFIG.use_text else None)
        source = "random weights, chosen config, 12,101 items"
    net.eval()
    enc = SASRecEncoder(net)
    rng = np.random.default_rng(seed)
    histories = [rng.integers(1, net.n_items + 1, 50) for _ in range(64)]
    out: dict = {"model": source, "history_len": 50, "requests": n_requests}
    # one request at a time, as the serving path does; BLAS on one thread (tiny matrices)
    with threadpool_limits(1):
        for _ in range(200):
            enc.user_vector(histories[0])
        t_vec, t_full = [], []
        for i in range(n_requests):
            h = histories[i % len(histories)]
            t0 = time.perf_counter()
            enc.user_vector(h)
            t1 = time.perf_counter()
            enc.scores(h)
            t2 = time.perf_counter()
            t_vec.append(t1 - t0)
            t_full.append(t2 - t1)
    torch_t = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.inference_mode():
        items = net.item_matrix()
        for i in range(min(n_requests, 1000)):
            seq = torch.from_numpy(pad_left([histories[i % len(histories)]], 50))
            t0 = time.perf_counter()
            net.encode(seq, items)[:, -1]
            torch_t.append(time.perf_counter() - t0)
    torch.set_num_threads(threads)  # the text benchmark after this uses every core
    ms = lambda xs, q: float(np.percentile(xs, q) * 1e3)  # noqa: E731
    out.update(
        {
            "numpy_user_vector_ms": {
                "p50": ms(t_vec, 50),
                "p99": ms(t_vec, 99),
                "p999": ms(t_vec, 99.9),
            },
            "numpy_scores_over_catalog_ms": {"p50": ms(t_full, 50), "p99": ms(t_full, 99)},
            "torch_inference_user_vector_ms": {"p50": ms(torch_t, 50), "p99": ms(torch_t, 99)},
        }
    )
    out["speedup_numpy_vs_torch_p50"] = out["torch_inference_user_vector_ms"]["p50"] / max(
        out["numpy_user_vector_ms"]["p50"], 1e-9
    )
    return out


def text_encoder_throughput(titles: list[str], repeats: int = 3, budget_s: float = 90.0) -> dict:
    """Titles per second in fp32 and in bf16 autocast, what the hardware reports, what
    ``SHOPREC_PRECISION`` chooses, and the minimum cosine between the two precisions' vectors.

    Emulated bf16 can be many times slower than fp32, so each precision encodes as many of
    ``titles`` as fit ``budget_s`` over its ``repeats`` (estimated from a first pass of 128
    titles); the number encoded is reported beside each rate.
    """
    import torch

    from shoprec.compute import resolve
    from shoprec.text.encoder import TextEncoder

    chosen = resolve()
    res: dict = {
        "device": chosen.device,
        "capability": chosen.capability.description,
        "native_bf16": chosen.capability.native_bf16,
        "auto_choice": resolve("auto", chosen.device).precision,
        "setting_choice": chosen.precision,
        "torch_threads": torch.get_num_threads(),
    }
    vecs = {}
    for name in ("fp32", "bf16"):
        enc = TextEncoder(precision=name, device=chosen.device)
        probe = titles[:128]
        t0 = time.perf_counter()
        enc.encode(probe)  # also the warm-up
        rate = len(probe) / max(time.perf_counter() - t0, 1e-9)
        n = int(min(len(titles), max(len(probe), rate * budget_s / repeats)))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            vecs[name] = enc.encode(titles[:n])
            times.append(time.perf_counter() - t0)
        res[f"{name}_titles_per_s"] = n / float(np.median(times))
        res[f"{name}_titles"] = n
        log.info("%s: %.1f titles/s over %d titles", name, res[f"{name}_titles_per_s"], n)
    res["bf16_speedup"] = res["bf16_titles_per_s"] / res["fp32_titles_per_s"]
    common = min(len(vecs["fp32"]), len(vecs["bf16"]))
    cos = np.sum(vecs["fp32"][:common] * vecs["bf16"][:common], axis=1)
    res["min_cosine_bf16_vs_fp32"] = float(np.min(cos))
    return res


def write(results: dict, out_dir: Path, name: str) -> None:
    """``name.json`` and ``name.md`` (a flat two-column table) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2))
    lines = [f"# {name}", "", "| measure | value |", "|---|---|"]

    def walk(prefix: str, obj: object) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            lines.append(
                f"| {prefix} | {obj:.6g} |" if isinstance(obj, float) else f"| {prefix} | {obj} |"
            )

    walk("", results)
    (out_dir / f"{name}.md").write_text("\n".join(lines) + "\n")
