"""The storefront and dashboard in real headless Chromium (Debian's package, driven by
Playwright's Python package; never `playwright install`). Screenshots go to test-artifacts/.

A shopper clicks three products of one category and the feed's top results shift toward it;
the dashboard shows the events just sent; the first page is interactive quickly (measured).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving_fixtures import on_the_wall_clock, serve_in_thread
from shoprec.serving.app import create_app

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Debian's chromium is not on PATH (make test installs it: apt-get install "
            "chromium chromium-driver)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def base_url(built) -> Iterator[str]:  # noqa: ANN001
    # the storefront is a live shop: its clicks happen now (on the data clock of the synthetic
    # history, three clicks weigh little against its trending)
    app = create_app(built.engine, reports_dir=ROOT / "bench" / "results" / "beauty")
    with on_the_wall_clock(built.engine), serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=FLAGS)
        yield b
        b.close()


def category_of(page, item_id: str) -> str:  # noqa: ANN001
    it = page.request.get(f"/v1/items/{item_id}").json()
    return it["derived_category"] or (it["category"] or [""])[-1]


def feed_ids(page) -> list[str]:  # noqa: ANN001
    return page.eval_on_selector_all("#feed > li", "els => els.map(e => e.dataset.itemId)")


def test_clicks_shift_the_feed_toward_a_category(browser, base_url: str, built) -> None:  # noqa: ANN001
    page = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 900})
    t0 = time.perf_counter()
    page.goto("/")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    interactive_s = time.perf_counter() - t0
    page.fill("#new-shopper", "browser-shopper")
    page.click("#use-shopper")
    page.wait_for_function("document.getElementById('who').textContent === 'browser-shopper'")
    page.wait_for_selector("#feed > li")
    before = feed_ids(page)
    # three products of one category, found through the search box like a shopper would
    cat = built.engine.catalog
    target = category_of(page, before[-1])
    picks = [i for i in range(1, len(cat) + 1) if cat.category_of(i) == target][:3]
    assert len(picks) == 3
    for idx in picks:
        version = page.evaluate("document.body.dataset.feedVersion")
        page.evaluate(f"openProduct({json.dumps(cat.ids[idx])})")
        page.wait_for_function(f"document.body.dataset.feedVersion !== '{version}'")
    after = feed_ids(page)
    share_before = sum(category_of(page, i) == target for i in before[:10]) / 10
    share_after = sum(category_of(page, i) == target for i in after[:10]) / 10
    page.screenshot(path=str(ARTIFACTS / "storefront_after_clicks.png"), full_page=True)
    (ARTIFACTS / "storefront_timing.json").write_text(
        json.dumps(
            {
                "interactive_s": interactive_s,
                "share_before": share_before,
                "share_after": share_after,
                "category": target,
            }
        )
    )
    assert share_after > share_before, (target, share_before, share_after)
    assert page.inner_text("#interests")  # the profile panel shows the new interests
    page.close()


def test_first_page_is_interactive_fast(browser, base_url: str) -> None:  # noqa: ANN001
    page = browser.new_page(base_url=base_url)
    page.goto("/")  # warm
    t0 = time.perf_counter()
    page.goto("/")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    seconds = time.perf_counter() - t0
    (ARTIFACTS / "storefront_interactive.json").write_text(json.dumps({"seconds": seconds}))
    assert page.locator("#feed > li").count() == 12
    page.screenshot(path=str(ARTIFACTS / "storefront.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # phone width
    page.screenshot(path=str(ARTIFACTS / "storefront_phone.png"), full_page=True)
    page.close()


def test_dashboard_shows_the_events_just_sent(browser, base_url: str) -> None:  # noqa: ANN001
    page = browser.new_page(base_url=base_url)
    page.request.post(
        "/v1/events",
        data={
            "events": [
                {"user_id": "dash-user", "item_id": "P00001", "type": "view"} for _ in range(5)
            ]
        },
    )
    page.goto("/dashboard")
    page.wait_for_selector("body[data-refreshed]")
    assert int(page.inner_text("#events-minute")) >= 5
    assert page.inner_text("#items") != "–"
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    page.close()


def test_keyboard_reaches_the_feed(browser, base_url: str) -> None:  # noqa: ANN001
    page = browser.new_page(base_url=base_url)
    page.goto("/")
    page.wait_for_selector("body[data-ready='1']")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('open')"):
            break
    assert page.evaluate("document.activeElement.classList.contains('open')")
    for label in ("shopper", "q", "question"):
        assert page.locator(f"label[for='{label}']").count() == 1
    page.close()


def test_the_assistant_answers(browser, base_url: str) -> None:  # noqa: ANN001
    page = browser.new_page(base_url=base_url)
    page.goto("/")
    page.wait_for_selector("body[data-ready='1']")
    page.fill("#question", "a gentle facial cleanser under $20")
    page.press("#question", "Enter")
    page.wait_for_selector("#chat .bot")
    answer = page.inner_text("#chat .bot")
    assert "Cleanser" in answer and "not available" not in answer
    page.screenshot(path=str(ARTIFACTS / "assistant.png"), full_page=True)
    page.close()


def test_a_written_review_shows_its_sentiment_line(browser, base_url: str, built) -> None:  # noqa: ANN001
    """A shopper writes a review in the product panel: it is scored at once, its label shown,
    and the panel's review line counts it (a product no review had scored before)."""
    engine = built.engine
    item = next(i for i in engine.catalog.ids[1:] if engine.reviews.count(i) == 0)
    page = browser.new_page(base_url=base_url)
    page.goto("/")
    page.wait_for_selector("body[data-ready='1']")
    page.evaluate(f"openProduct({json.dumps(item)})")
    page.wait_for_selector("#product-sentiment[data-count='0']", state="attached")
    page.fill("#review-text", "I love it, excellent quality, I would buy it again.")
    page.click("#review-form button[type='submit']")
    page.wait_for_selector("#product-sentiment[data-count='1']", timeout=15_000)
    line = page.inner_text("#product-sentiment")
    assert line.startswith("100% of 1 reviewers are positive") and "sentiment model" in line
    assert "reads positive" in page.inner_text("#review-status")
    page.screenshot(path=str(ARTIFACTS / "storefront_review.png"), full_page=True)
    page.close()


def test_pages_ask_for_a_key_once_keys_are_configured(browser, built) -> None:  # noqa: ANN001
    """With keys configured the storefront's calls get 401 (issue 24): the page asks for a key
    once (one prompt for its concurrent calls), then sends it as X-API-Key: the feed loads,
    and a click is stored as a view (a write: the product opens only after it is stored)."""
    from shoprec.serving.security import SecurityConfig

    keys = SecurityConfig(write_keys=("w-key",), admin_keys=("a-key",), read_keys=("r-key",))
    with serve_in_thread(create_app(built.engine, security=keys)) as url:
        page = browser.new_page(base_url=url)
        asked: list[str] = []
        page.on("dialog", lambda d: (asked.append(d.message), d.accept("w-key")))
        page.goto("/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        assert page.locator("#feed li").count() > 0 and len(asked) == 1
        page.locator("#feed li button.open").first.click()
        page.wait_for_selector("#product:not([hidden])", timeout=10_000)
        assert len(asked) == 1
        page.close()


def test_the_storefront_works_with_its_own_token_once_keys_are_configured(browser, built) -> None:  # noqa: ANN001
    """With keys and a token secret configured (issue 23) the storefront shows one guest, lists
    no shopper ids, and its calls carry the guest's own token: no key is asked for, the feed
    loads and a click is stored as that guest's view."""
    from shoprec.serving.security import SecurityConfig

    keys = SecurityConfig(
        write_keys=("w-key",), admin_keys=("a-key",), read_keys=("r-key",), token_secret="t" * 40
    )
    with serve_in_thread(create_app(built.engine, security=keys)) as url:
        page = browser.new_page(base_url=url)
        asked: list[str] = []
        page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.goto("/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        shoppers = page.eval_on_selector_all("#shopper option", "els => els.map(e => e.value)")
        assert len(shoppers) == 1 and shoppers[0].startswith("guest-")
        assert page.locator("#feed li").count() > 0
        page.locator("#feed li button.open").first.click()
        page.wait_for_selector("#product:not([hidden])", timeout=10_000)
        assert asked == []
        assert built.engine.state(shoppers[0]) is not None  # the view was stored, as the guest
        page.close()
