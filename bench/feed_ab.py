"""The home feed at 200 req/s from two checkouts of shoprec at once (e.g. a change and the
commit before it, each a git worktree): both serve the same Beauty quick model from one
artifacts folder, and the load alternates between them in 20 s rounds, so that both see the
same minutes of a shared host's noise.

    .venv/bin/python bench/feed_ab.py TREE_A TREE_B --artifacts DIR [--rounds 3]

Prints one JSON line per round and writes them to ``--out``."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import httpx  # noqa: E402
import serving as S  # bench/serving.py (fixed_rate, free_port)

from shoprec.data.datasets import load_dataset


def start(tree: Path, artifacts: Path) -> tuple[subprocess.Popen, int]:
    """``shoprec serve --quick`` on Beauty from ``tree``'s sources, on a fresh store."""
    port = S.free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(tree / "src"),
        SHOPREC_ARTIFACTS_DIR=str(artifacts),
        SHOPREC_TEXT_CACHE=str(artifacts / "text_cache.npz"),
    )
    cmd = [sys.executable, "-m", "shoprec.cli", "serve", "--port", str(port), "--no-verbose"]
    cmd += ["--dataset", "amazon-beauty", "--store", tempfile.mkdtemp(), "--quick"]
    out = subprocess.DEVNULL
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=out, cwd=tree), port


def wait(port: int, limit_s: float = 900) -> float:
    t0 = time.time()
    while time.time() - t0 < limit_s:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return time.time() - t0
        except httpx.HTTPError:
            pass
        time.sleep(2)
    raise SystemExit(f"the server on port {port} did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs=2, type=Path, help="two checkouts (e.g. git worktrees)")
    ap.add_argument("--artifacts", type=Path, required=True, help="shared artifacts folder")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("feed_ab.json"))
    args = ap.parse_args()
    users = load_dataset("amazon-beauty").users.to_list()
    names = [str(t) for t in args.trees]
    started = {n: start(t, args.artifacts) for n, t in zip(names, args.trees, strict=True)}
    rows = []
    try:
        for n, (_, port) in started.items():
            print(n, "up after", round(wait(port)), "s", flush=True)
        for r in range(args.rounds):
            for n in names if r % 2 == 0 else names[::-1]:
                port = started[n][1]
                S.fixed_rate(port, users, 200, 5)  # warm
                out = S.fixed_rate(port, users, 200, 20)
                out.update(code=n, round=r, at=time.strftime("%H:%M:%S"))
                rows.append(out)
                print(json.dumps(out), flush=True)
    finally:
        for proc, _ in started.values():
            proc.terminate()
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
