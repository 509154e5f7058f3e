"""Shared fixtures: settings and the public data folder (skipped when absent).

Tests that need the public data call :func:`require_data` (``from conftest import
require_data``) or use the ``beauty`` / ``data_settings`` fixtures. When the folder is missing
they are skipped with the reason, unless ``SHOPREC_REQUIRE_DATA=1``, which turns the skip into
a failure (CI must not pass by skipping).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shoprec.data.interactions import SequenceData
from shoprec.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Tests train tiny torch models: one thread is faster than two fighting over 2 cores."""
    import torch

    torch.set_num_threads(1)


log = logging.getLogger(__name__)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """A test that failed because the shared Redis server is down says so, and what to install:
    skipped, or failed under ``SHOPREC_REQUIRE_DATA=1`` (see ``redis_fixtures.missing_redis``)."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed or call.excinfo is None:
        return
    from redis_fixtures import missing_redis, shared_redis_down

    what = shared_redis_down(call.excinfo.value)
    if what is None:
        return
    try:
        missing_redis(what)
    except pytest.skip.Exception as skip:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {skip.msg}")
    except pytest.fail.Exception as fail:
        crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "")
        report.longrepr = f"{fail.msg}\n({crash})" if crash else fail.msg


def make_settings() -> Settings:
    """``Settings()`` with a relative ``data_dir`` resolved so that it works from any cwd.

    A relative path is tried against the working directory first, then the repository root
    (the default data folder, ``SHOPREC_DATA_DIR``'s, is meant relative to the root).
    """
    settings = Settings()
    data_dir = settings.data_dir
    if not data_dir.is_absolute():
        candidates = [Path.cwd() / data_dir, ROOT / data_dir]
        found = next((p for p in candidates if p.is_dir()), candidates[-1])
        settings = Settings(data_dir=found.resolve())
    return settings


def require_data(settings: Settings | None = None) -> Settings:
    """Return settings whose ``data_dir`` holds the public data, or skip the calling test.

    With ``SHOPREC_REQUIRE_DATA=1`` a missing folder fails the test instead of skipping it.
    """
    settings = settings or make_settings()
    if not settings.has_data():
        reason = (
            f"public data folder not found at {settings.data_dir} "
            f"(need amazon_beauty/interactions.csv; set SHOPREC_DATA_DIR)"
        )
        if settings.require_data:
            pytest.fail(f"SHOPREC_REQUIRE_DATA=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings from the environment, ``data_dir`` resolved (the folder may be absent)."""
    return make_settings()


@pytest.fixture(scope="session")
def data_settings(settings: Settings) -> Settings:
    """Settings whose data folder exists; skips (or fails, see module doc) otherwise."""
    return require_data(settings)


@pytest.fixture(scope="session")
def beauty(data_settings: Settings) -> SequenceData:
    """Amazon Beauty 5-core loaded once per session (about 1 s)."""
    from shoprec.data.datasets import load_dataset

    return load_dataset("amazon-beauty", data_settings)


@pytest.fixture(scope="session")
def serving_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the synthetic shop's serving models are trained once per session."""
    return tmp_path_factory.mktemp("serving")


@pytest.fixture(scope="session")
def built(serving_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """The synthetic shop served by a real engine on a real embedded store (shared)."""
    from serving_fixtures import synthetic_engine

    return synthetic_engine(serving_root, tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="session")
def client(built):
    from fastapi.testclient import TestClient

    from shoprec.serving.app import create_app

    return TestClient(create_app(built.engine))


@pytest.fixture(scope="session")
def live_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded store folder ``live_server`` serves (a test may import into it, as another
    process would)."""
    return tmp_path_factory.mktemp("live")


@pytest.fixture(scope="session")
def live_server(built, serving_root: Path, live_store: Path):
    """One real ``shoprec serve`` subprocess over the synthetic shop, on its own embedded store,
    shared by the tests that must go through a real server (each uses its own shopper ids).
    Yields the base URL; the server is stopped at the end of the session."""
    import signal

    from serving_fixtures import free_port, serve_synthetic

    port = free_port()
    proc = serve_synthetic(serving_root, ["--store", str(live_store)], port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
