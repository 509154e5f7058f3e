"""Where a home-feed request's server time goes, in-process (no sockets, no client): the
whole ASGI app for the feed and for ``/healthz``, the feed route with the engine stubbed out
(a fixed answer), the feed route where the engine only runs the sequence model (the shopper's
history through the transformer, the catalog scored, the top 20 taken: no other source, no
ranker, no filters, no re-ranking, no reasons), ``Engine.recommend`` alone, and the sequence
model's two steps alone (the user vector, the catalog product), for random Beauty users. The
ratios of ``/healthz`` to the stubbed route and to the model-only route bound the closed-loop
ratio any pipeline could reach: the route alone, and the route with the one model a
personalised feed cannot skip (``bench/feed_ceiling.py`` measures the same over HTTP).

    .venv/bin/python bench/feed_cost.py [--dataset amazon-beauty] [--requests 3000]

Prints milliseconds per request, three rounds (the machine is shared: compare within a run).
Serves the quick preset (trained on first use), as ``bench/serving.py --quick`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

from shoprec.serving import degrade, heap
from shoprec.serving.app import create_app
from shoprec.serving.engine import Engine

sys.path.insert(0, str(Path(__file__).parent))
from inprocess import bare_feeds, quick_engine  # noqa: E402  (bench/ is not a package)


async def _call(app, path: str, query: bytes) -> None:  # noqa: ANN001
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"{path}: {sent[0]['status']}")


def _per_request(app, paths: list[str], query: bytes) -> float:  # noqa: ANN001
    async def run() -> float:
        t = time.perf_counter()
        for p in paths:
            await _call(app, p, query)
        return (time.perf_counter() - t) / len(paths) * 1e3

    return asyncio.run(run())


def _timed(fn: Callable[[str], object], users: list[str]) -> float:
    t = time.perf_counter()
    for u in users:
        fn(u)
    return (time.perf_counter() - t) / len(users) * 1e3


def _model_steps(engine: Engine, users: list[str]) -> tuple[float, float]:
    """Milliseconds per shopper of the sequence model's two steps: the shopper's vector (the
    transformer over the history), and the catalog scored by it (one matrix-vector product)."""
    enc = engine.bundle.encoder
    assert enc is not None
    reqs = {u: engine.request_for(engine.states.get(u)) for u in set(users)}
    vec = _timed(lambda u: enc.user_vector(reqs[u].history, reqs[u].times), users)
    v = enc.user_vector(reqs[users[0]].history, reqs[users[0]].times)
    return vec, _timed(lambda _: enc.items @ v, users)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()
    with quick_engine(args.dataset) as (data, engine):
        app = degrade.install(create_app(engine))
        heap.settle()  # as `shoprec serve` does
        users = data.users.to_list()
        rng = random.Random(0)
        real = engine.recommend
        bare = bare_feeds(engine, users[0])
        for _ in range(3):
            sample = [rng.choice(users) for _ in range(args.requests)]
            feed = [f"/v1/users/{u}/recommendations" for u in sample]
            engine.recommend = bare["stubbed"]  # type: ignore[method-assign]
            stub = _per_request(app, feed, b"n=20")
            engine.recommend = bare["model-only"]  # type: ignore[method-assign]
            model = _per_request(app, feed, b"n=20")
            engine.recommend = real  # type: ignore[method-assign]
            health = _per_request(app, ["/healthz"] * args.requests, b"")
            full = _per_request(app, feed, b"n=20")
            alone = _timed(lambda u: real(u, 20), sample)
            vec, product = _model_steps(engine, sample)
            print(
                f"healthz {health:.3f}  feed route, engine stubbed {stub:.3f}  "
                f"feed route, sequence model only {model:.3f}  "
                f"feed {full:.3f}  Engine.recommend {alone:.3f} (user vector {vec:.3f}, "
                f"catalog product {product:.3f}) ms per request; "
                f"healthz / stubbed {100 * health / stub:.0f}%, / model only "
                f"{100 * health / model:.0f}%, / feed {100 * health / full:.0f}%",
                flush=True,
            )


if __name__ == "__main__":
    main()
