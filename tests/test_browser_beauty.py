"""The storefront over the real Amazon Beauty catalog (12,101 items), in headless Chromium:
time until the first page is interactive (the feed and its reasons rendered)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from conftest import require_data
from serving_fixtures import catalog_engine, serve_in_thread
from shoprec.data.datasets import load_dataset
from shoprec.serving.app import create_app
from shoprec.serving.build import import_events

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.mark.timeout(600)
def test_beauty_storefront_is_interactive_within_a_second(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    settings = require_data()
    data = load_dataset("amazon-beauty", settings)
    engine = catalog_engine(data, settings, tmp_path)
    engine.ingest(import_events(data)[:20_000])  # some history: shoppers and trending
    with serve_in_thread(create_app(engine)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        page = browser.new_page(base_url=url)
        page.goto("/")  # warm the server's caches once
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            page.goto("/")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            times.append(time.perf_counter() - t0)
        assert page.locator("#feed > li").count() == 12
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "storefront_beauty.png"), full_page=True)
        browser.close()
    median = sorted(times)[len(times) // 2]
    (ARTIFACTS / "storefront_beauty_interactive.json").write_text(
        json.dumps({"median_s": median, "runs_s": times, "items": len(data.catalog)})
    )
    assert median < 1.0, times
