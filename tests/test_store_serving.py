"""Store-first serving (issue 21), tried as a new user would through real processes: an empty
store served -> a shop's files imported -> feeds from trending, flagged -> ``shoprec train
--store`` -> the running server serves the published bundle (its ``model_version`` changes)
without a restart; a restart loads that bundle as is (no training stage). The same over Redis
with two workers, both switching. And, in process: the duration option, a broken publication
refused while the served bundle stays."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from redis_fixtures import SHARED_REDIS_URL
from serving_fixtures import free_port
from shoprec.ranking.bundle import build_bundle
from shoprec.ranking.catalog import Catalog
from shoprec.serving.bundles import BundleWatcher
from shoprec.serving.process import client_on_worker, stop, wait_healthy
from shoprec.serving.recommend import NO_MODEL
from shoprec.serving.retrain import parse_duration

ITEMS, SHOPPERS, CATEGORIES = 48, 160, ("serum", "shampoo", "lipstick", "sunscreen")
#: The training run's options: the quick preset on a few seconds' budget (a tiny shop).
TRAIN = ["--quick", "--max-seconds", "4", "--no-verbose"]
#: The shopper erased after the first training, and the only pair of items they viewed together.
ERASED, ERASED_PAIR = "eve", ("it0", "it1")


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block() -> str:
    """The README's store-first commands (the steps the first test runs, in its words)."""
    section = README.read_text().split("## Your shop's store, first", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def write_shop(folder: Path) -> tuple[Path, Path]:
    """A small shop's items.csv and events.csv: shoppers who browse one category in order."""
    folder.mkdir(parents=True, exist_ok=True)
    items, events = folder / "items.csv", folder / "events.csv"
    with items.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "title", "category", "price"])
        for i in range(ITEMS):
            cat = CATEGORIES[i % len(CATEGORIES)]
            w.writerow([f"it{i}", f"{cat.title()} number {i // len(CATEGORIES)}", cat, 5 + i])
    with events.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "item_id", "type", "timestamp"])
        for u in range(SHOPPERS):
            start = (u * 7) % ITEMS
            for k in range(6 + u % 4):  # a walk through one category: i, i+4, i+8, ...
                item = (start + 4 * k) % ITEMS
                kind = "purchase" if k % 3 == 2 else "view"
                w.writerow([f"u{u}", f"it{item}", kind, 1_700_000_000 + u * 100 + k * 10])
        # the one shopper who views it0 (a serum) with it1 (a shampoo): no walk crosses categories
        for k, item in enumerate(ERASED_PAIR * 2):
            w.writerow([ERASED, item, "view", 1_700_100_000 + k * 10])
    return items, events


def shoprec(args: list[str], env: dict[str, str], timeout: float = 240) -> str:
    """Run ``shoprec ARGS`` to completion; its output, or the failure with it."""
    cmd = [sys.executable, "-m", "shoprec.cli", *args]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, f"{' '.join(args[:3])}: {run.stdout[-2000:]}{run.stderr[-3000:]}"
    return run.stdout


def start(args: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """``shoprec serve --port PORT ARGS`` with its output in ``log`` (the stages it prints)."""
    cmd = [sys.executable, "-m", "shoprec.cli", "serve", "--port", str(port), "--no-verbose"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd + args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        return wait_healthy(proc, port, timeout=180)
    except (RuntimeError, TimeoutError) as exc:
        raise AssertionError(log.read_text()[-3000:]) from exc


def wait_for(check, what: str, timeout: float = 30.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def covisited(c: httpx.Client, item: str, other: str) -> bool:
    """Whether ``/similar`` of ``item`` lists ``other`` as a co-visitation neighbour."""
    r = c.get(f"/v1/items/{item}/similar", params={"n": 40})
    assert r.status_code == 200, r.text
    return any(
        x["item_id"] == other and x["reasons"][0].startswith("Often bought with")
        for x in r.json()["items"]
    )


def shoppers_in(shop: Path, version: str) -> int:
    """The shoppers a bundle of the folder store ``shop`` was trained on (its manifest)."""
    return json.loads((shop / "bundles" / version / "manifest.json").read_text())["shoppers"]


def feed(c: httpx.Client, user: str) -> dict:
    r = c.get(f"/v1/users/{user}/recommendations", params={"n": 5})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tests' artifacts (the quick sentiment model, trained by the first server; text
    vectors; a Redis store's bundles), shared by this module's servers."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture
def env(artifacts: Path) -> dict[str, str]:
    from conftest import make_settings

    return {
        **os.environ,
        "SHOPREC_ARTIFACTS_DIR": str(artifacts),
        "SHOPREC_DATA_DIR": str(make_settings().data_dir),
        "SHOPREC_THREADS": "1",
    }


@pytest.mark.timeout(400)
def test_empty_folder_store_import_train_switch_and_restart(tmp_path: Path, env) -> None:
    steps = readme_block()  # the README says what this test does, in this order
    order = [
        "shoprec serve --store ./shop",
        "shoprec import --store ./shop --items items.csv --events events.csv",
        NO_MODEL.split(":")[0],
        "shoprec train --store ./shop",
        "model_version",
    ]
    at = [steps.find(piece) for piece in order]
    assert -1 not in at and at == sorted(at), dict(zip(order, at, strict=True))
    shop = tmp_path / "shop"
    items, events = write_shop(tmp_path / "files")
    port = free_port()
    proc = start(["--store", str(shop)], port, env, tmp_path / "serve.log")
    try:
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        empty = feed(c, "u1")
        assert empty["items"] == [] and empty["fallback"] == NO_MODEL
        assert empty["model_version"] == c.get("/healthz").json()["model_version"] == "none"
        shoprec(
            ["import", "--store", str(shop), "--items", str(items), "--events", str(events)], env
        )
        # the running server follows what the import wrote (serving/follow.py)
        wait_for(lambda: c.get("/healthz").json()["items"] == ITEMS, "the imported catalog")
        trending = wait_for(lambda: feed(c, "new")["items"] and feed(c, "new"), "trending items")
        assert trending["fallback"] == NO_MODEL and len(trending["items"]) == 5
        # a shopper with history: text neighbours of it, before any model (no fallback)
        assert feed(c, "u1")["model_version"] == "none" and len(feed(c, "u1")["items"]) == 5
        shoprec(["train", "--store", str(shop), *TRAIN], env)
        version = wait_for(
            lambda: (v := c.get("/healthz").json()["model_version"]) != "none" and v,
            "the published bundle served",
            timeout=90,
        )
        served = feed(c, "u1")
        assert served["model_version"] == version and served["fallback"] is None
        similar = c.get("/v1/items/it3/similar", params={"n": 3}).json()
        assert similar["model_version"] == version
        metrics = c.get("/metrics").text
        assert f'shoprec_model_info{{version="{version}"}} 1.0' in metrics
        assert "shoprec_bundle_reloads_total 1.0" in metrics
        # Done-when 4: the pair only the erased shopper viewed together leaves what is served
        assert covisited(c, *ERASED_PAIR) and shoppers_in(shop, version) == SHOPPERS + 1
        assert c.delete(f"/v1/users/{ERASED}").json()["events_deleted"] == 2 * len(ERASED_PAIR)
        # the tolerance lets the same data minus one shopper through the gate (tested apart)
        shoprec(["train", "--store", str(shop), *TRAIN], {**env, "SHOPREC_PROMOTE_TOLERANCE": "1"})
        erased = wait_for(
            lambda: (v := c.get("/healthz").json()["model_version"]) != version and v,
            "the bundle trained after the erasure served",
            timeout=90,
        )
        assert not covisited(c, *ERASED_PAIR)
        assert c.get(f"/v1/users/{ERASED}/export").json()["events"] == []
        assert shoppers_in(shop, erased) == SHOPPERS  # the bundle's inputs: all but the erased
        version = erased
    finally:
        stop(proc)
    # a restart over a store with a published bundle loads it as is: no training stage
    port = free_port()
    log = tmp_path / "restart.log"
    proc = start(["--store", str(shop)], port, env, log)
    try:
        ready = next(line for line in log.read_text().splitlines() if line.startswith("ready in"))
        assert "bundle" in ready and "sequence model" not in ready and "ranker" not in ready
        health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        assert health["model_version"] == version and health["items"] == ITEMS
    finally:
        stop(proc)


@pytest.fixture
def redis_store(env: dict[str, str]) -> Iterator[str]:
    prefix = f"test-store-serving-{uuid.uuid4().hex[:8]}:"
    env["SHOPREC_REDIS_PREFIX"] = prefix
    client = redis.Redis.from_url(SHARED_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        from redis_fixtures import missing_redis

        missing_redis(f"no Redis answers at {SHARED_REDIS_URL}")
    yield SHARED_REDIS_URL
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    for k in range(0, len(keys), 500):
        client.delete(*keys[k : k + 500])


@pytest.mark.timeout(400)
def test_redis_store_two_workers_both_switch_to_the_trained_bundle(
    tmp_path: Path, env, redis_store: str
) -> None:
    items, events = write_shop(tmp_path / "files")
    port = free_port()
    proc = start(["--store", redis_store, "--workers", "2"], port, env, tmp_path / "serve.log")
    try:
        a, pid = client_on_worker(f"http://127.0.0.1:{port}")
        b, _ = client_on_worker(f"http://127.0.0.1:{port}", avoid=pid)
        assert feed(a, "u2")["fallback"] == NO_MODEL  # nothing imported yet: no history
        shoprec(
            ["import", "--store", redis_store, "--items", str(items), "--events", str(events)], env
        )
        for c in (a, b):  # both workers read the catalog and the events from Redis
            wait_for(lambda c=c: len(feed(c, "new")["items"]) == 5, "trending items")
            assert feed(c, "new")["fallback"] == NO_MODEL
        shoprec(["train", "--store", redis_store, *TRAIN], env)
        versions = [
            wait_for(
                lambda c=c: (v := feed(c, "u2")["model_version"]) != "none" and v,
                "the published bundle on each worker",
                timeout=90,
            )
            for c in (a, b)
        ]
        assert versions[0] == versions[1]
        assert feed(a, "u2")["fallback"] is None and feed(b, "u2")["fallback"] is None
    finally:
        stop(proc)


def test_durations_are_parsed_and_bad_ones_refused() -> None:
    assert parse_duration("30m") == 1800 and parse_duration("6h") == 21600
    assert parse_duration("1h30m") == 5400 and parse_duration("1d") == 86400
    for bad in ("", "6", "h", "6 hours", "-1h", "5s", "1h-30m"):
        with pytest.raises(ValueError, match="duration|shortest"):
            parse_duration(bad)
    from typer.testing import CliRunner

    from shoprec.cli import app

    runner = CliRunner()
    for args, option in (
        (["trainer", "--store", "s", "--every", "6 hours"], "--every"),
        (["serve", "--store", "s", "--retrain-every", "5s"], "--retrain-every"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and option in result.output, result.output


def test_a_bundle_that_fails_to_load_is_refused_and_the_served_one_stays() -> None:
    """The watcher swaps only what loads; a broken version is not retried at every poll."""
    pointer = {"version": "v1"}
    served: list[str] = []
    loads: list[str] = []

    def load(version: str):  # noqa: ANN202
        loads.append(version)
        if version == "broken":
            raise OSError("truncated bundle")
        return build_bundle(Catalog(), None, None, None, [], version=version)

    watcher = BundleWatcher(
        lambda: pointer["version"], load, lambda b: served.append(b.version), served=None
    )
    assert watcher.check() and served == ["v1"] and watcher.version == "v1"
    assert not watcher.check()  # nothing new
    pointer["version"] = "broken"
    assert not watcher.check() and not watcher.check()
    assert served == ["v1"] and watcher.version == "v1" and watcher.failures == 1
    assert loads.count("broken") == 1  # retried later, not at every poll
    pointer["version"] = "v2"
    assert watcher.check() and served == ["v1", "v2"] and watcher.reloads == 2


def test_a_training_run_is_its_own_process_at_lower_priority_on_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shoprec.serving import retrain

    assert retrain.train_command("S", ["--quick"])[-5:] == [
        "shoprec.cli",
        "train",
        "--store",
        "S",
        "--quick",
    ]
    seen = tmp_path / "seen"
    env = 'os.environ["SHOPREC_THREADS"]'
    script = f"import os; open({str(seen)!r}, 'w').write(f'{{os.nice(0)}} {{{env}}}')"
    monkeypatch.setattr(
        retrain, "train_command", lambda store, extra=(): [sys.executable, "-c", script]
    )
    job = retrain.Retrainer("S", every=3600)
    assert job.run_once() == 0 and job.runs == 1 and job.failures == 0
    nice, threads = seen.read_text().split()
    assert int(nice) == min(19, os.nice(0) + retrain.NICE) and threads == "1"


def test_a_bundle_aligned_in_a_separate_process_equals_the_one_aligned_here(
    tmp_path: Path,
) -> None:
    """What a large catalog's switch runs (``apart``): the same bundle as in process."""
    from types import SimpleNamespace

    import numpy as np

    from shoprec.data.records import Item
    from shoprec.ranking.bundle_io import FittedBundle, save_bundle
    from shoprec.ranking.bundle_shelf import BundleShelf
    from shoprec.ranking.catalog import add_items
    from shoprec.serving.bundles import load_published
    from shoprec.settings import Settings

    rng = np.random.default_rng(0)

    def vectorize(texts: list[str]) -> np.ndarray:
        v = rng.normal(size=(len(texts), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    catalog = Catalog()
    add_items(catalog, [Item(f"it{i}", f"item {i}") for i in range(30)], [0.0] * 30, vectorize)
    shelf = BundleShelf.for_store(tmp_path / "shop", Settings(artifacts_dir=tmp_path))
    ids = [f"it{i}" for i in range(0, 40, 2)]  # some the catalog lacks
    pop = np.arange(len(ids) + 1, dtype=np.float64)
    path = save_bundle(FittedBundle(ids, None, None, pop, None), shelf.root)
    engine = SimpleNamespace(catalog=catalog)
    here = load_published(shelf, engine, path.name)  # type: ignore[arg-type]
    apart = load_published(shelf, engine, path.name, apart=True)  # type: ignore[arg-type]
    assert apart.version == here.version == path.name and apart.n_rows == here.n_rows == 31
    for name in ("popularity", "text_ids", "text_sims", "covis_ids"):
        assert np.array_equal(getattr(apart, name), getattr(here, name)), name
