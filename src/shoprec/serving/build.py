"""Assemble a ready engine over a store: the stores (bootstrapped from a dataset on first
start), the store's published model bundle loaded as is, or, on a first start from a dataset,
the sequence model (trained or reused) and the ranker fitted, saved and published; then the
threads that follow what gets published (:func:`watch_store`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from shoprec.data.datasets import dataset_reviews
from shoprec.data.interactions import SequenceData
from shoprec.data.records import Event, EventType
from shoprec.online.state import UserState
from shoprec.online.tags import ItemTagger
from shoprec.ranking.bundle_io import save_bundle
from shoprec.ranking.bundle_shelf import BundleShelf
from shoprec.ranking.fit import ServingPhase, fit_phases, offline_catalog
from shoprec.serving.bundles import BundleWatcher
from shoprec.serving.clock import EngineClock
from shoprec.serving.engine import Engine
from shoprec.serving.pages import pages_for
from shoprec.serving.sentiment import SentimentSource
from shoprec.serving.shared import SharedState
from shoprec.settings import Settings
from shoprec.store import (
    EventLog,
    ItemStore,
    MemoryStateStore,
    StateStore,
    locate,
    open_embedded,
)
from shoprec.text.vectorizer import Vectorizer
from shoprec.training.sasrec_job import (
    BEST_CONFIG,
    checkpoint_dir,
    find_checkpoint,
    train_sasrec,
)

log = logging.getLogger(__name__)

#: The demo's training preset: a few epochs of the benchmark model (about 2 minutes).
QUICK_SECONDS = 120.0


@dataclass
class Built:
    """What ``shoprec serve`` built. ``valid``/``final`` are the phases fitted at start-up and
    ``data`` the dataset given; None when the store's published bundle was loaded as is, or
    when serving a store alone (no ``--dataset``)."""

    engine: Engine
    valid: ServingPhase | None
    final: ServingPhase | None
    data: SequenceData | None
    follow_from: int = 0  # the log's last seq when the engine was loaded
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each build stage
    sentiment: SentimentSource | None = None  # where the review sentiment model comes from
    store: str | Path | None = None  # the store served (a folder or a Redis URL)
    store_dir: Path | None = None  # the embedded store's folder (experiments and rules)


def import_events(data: SequenceData) -> list[Event]:
    """The dataset's interactions as purchase events, then its reviews (a shop folder's
    reviews file) as review events, all with stable ids (import is idempotent)."""
    out = []
    users, items = data.users.to_list(), data.items.to_list()
    for u, seq in enumerate(data.sequences):
        ts = data.timestamps[u] if data.timestamps is not None else np.arange(len(seq), dtype=float)
        for k, (i, t) in enumerate(zip(seq.tolist(), ts.tolist(), strict=True)):
            out.append(
                Event(users[u], items[i - 1], EventType.PURCHASE, float(t), f"import:{u}:{k}")
            )
    for r in dataset_reviews(data):  # replayed into engine.reviews like posted review events
        rid, when = f"import:review:{r.review_id}", r.timestamp or 0.0
        out.append(
            Event(r.user_id, r.item_id, EventType.REVIEW, when, rid, text=r.text, rating=r.rating)
        )
    return out


def build_engine(
    data: SequenceData | None,
    settings: Settings,
    store: str | Path | None = None,
    quick: bool = False,
    train_seconds: float | None = None,
    progress: bool = True,
    import_history: bool = True,
    sentiment_settings: Settings | None = None,
) -> Built:
    """Everything ``shoprec serve`` needs behind one :class:`Engine`: the store served as it
    is, with its published bundle (loaded as is: no training).

    ``store`` is a folder for the embedded store (default: under the artifacts, by dataset),
    or a Redis URL (``redis://...``) that puts the log, catalog and user state in Redis, shared
    by replicas (``serving/shared.py``); :func:`shoprec.store.locate` tells which. ``data``
    (optional with a store) is imported into an empty store; with no published bundle it is
    trained on as before (the sequence model trained or reused, then the ranker) and the
    result saved and published as the store's first bundle, so a restart loads it. With no
    bundle and no dataset the engine serves trending and new items (version ``none``)."""
    from shoprec.training.sasrec_job import text_vectors_for

    if data is None and store is None:
        raise ValueError("serving needs a store or a dataset")
    clock = _Stages()
    text = None
    if data is not None:  # cached by content: the vectorizer below reuses them
        text = text_vectors_for(data, settings, progress)
        clock.lap("text vectors")
    vectorize = Vectorizer(settings)  # after the catalog's vectors are cached: they are reused
    tagger = ItemTagger(vectorize.encoder)
    default_dir = checkpoint_dir(settings, data.name, "store") if data is not None else None
    at = locate(store if store is not None else default_dir or "")
    shared = SharedState.from_settings(at.redis_url, settings) if at.redis_url else None
    # experiments' and rules' file when embedded (Redis: unused)
    store_dir = at.folder or default_dir or Path(settings.artifacts_dir)
    events: EventLog
    items: ItemStore
    states: StateStore[UserState]
    if shared is not None:
        events, items, states = shared.log, shared.items, shared.states
    else:
        events, items = open_embedded(store_dir, settings.durability)
        log.info("embedded event log durability: %s (SHOPREC_DURABILITY)", settings.durability)
        states = MemoryStateStore[UserState]()
    # the trained sentiment model, else the quick one trained now (seconds), before any request
    source = SentimentSource(sentiment_settings or settings, lambda: vectorize.encoder)
    source.prepare()
    clock.lap("sentiment")
    # a dataset served is history: its own time is now (SHOPREC_CLOCK=auto); a store alone is
    # a live shop, on the wall clock
    now = EngineClock.from_settings(settings, historic=data is not None)
    log.info("engine clock: %s, future skew %.0f s", now.mode, now.skew)
    engine = Engine(
        events, items, states, vectorize, tagger, sentiment=source.load, shared=shared, clock=now
    )
    attach_experiments(engine, store_dir)
    engine.pages = pages_for(settings, shared)
    attach_rules(engine, store_dir)
    if data is not None and items.count() == 0:
        items.upsert(data.catalog, 0.0)
    if data is not None and import_history and events.count() == 0:
        evs = import_events(data)
        for s in range(0, len(evs), 10_000):
            events.append(evs[s : s + 10_000])
        log.info("imported %d events from %s", len(evs), data.name)
    clock.lap("store")
    follow_from = events.last_seq()  # replicas follow the stream from here
    engine.load()
    if shared is not None:
        shared.rebuild(engine.fold)
    clock.lap("engine")
    shelf = BundleShelf.for_store(at.redis_url or store_dir, settings)
    published = shelf.published()
    valid = final = None
    if published is not None:  # what training published: served as is
        from shoprec.serving.bundles import load_published

        engine.set_bundle(load_published(shelf, engine, published))
        clock.lap("bundle")
    elif data is not None:
        valid, final = _train_at_start(
            data, settings, text, tagger, engine, quick, train_seconds, progress, clock
        )
        _publish_first(shelf, final, data, quick)
        engine.set_bundle(final.bundle)
    else:
        log.info("no published bundle in %s: serving trending and new items", shelf.root)
    served = at.redis_url or store_dir
    return Built(engine, valid, final, data, follow_from, clock.seconds, source, served, store_dir)


def _train_at_start(
    data: SequenceData,
    settings: Settings,
    text: np.ndarray | None,
    tagger: ItemTagger,
    engine: Engine,
    quick: bool,
    train_seconds: float | None,
    progress: bool,
    clock: _Stages,
) -> tuple[ServingPhase, ServingPhase]:
    """The dataset's sequence model (a saved checkpoint reused, else trained) and the ranker,
    the served phase aligned to the engine's catalog: a store's first start."""
    if text is None:
        text = np.zeros((data.n_items + 1, 384), np.float32)
    catalog = offline_catalog(data, text, tagger)
    clock.lap("item tags")
    config = BEST_CONFIG
    budget = train_seconds if train_seconds is not None else (QUICK_SECONDS if quick else None)
    if quick:
        config = replace(config, patience=1)
    name = "sasrec-quick" if quick else "sasrec"
    trained = find_checkpoint(checkpoint_dir(settings, data.name, name), data, config)
    if trained is None:
        trained = train_sasrec(
            data, settings, config, name, max_seconds=budget, progress=progress, refit=not quick
        )
    clock.lap("sequence model")
    # the final phase is aligned to the engine's catalog (the store's items)
    valid, final = fit_phases(
        data, catalog, trained.valid, trained.final, final_catalog=engine.catalog
    )
    clock.lap("ranker")
    return valid, final


def _publish_first(
    shelf: BundleShelf, final: ServingPhase, data: SequenceData, quick: bool
) -> None:
    """Save the phase fitted at start-up as the store's bundle and publish it (a restart then
    loads it instead of fitting again). A failure to save is logged: serving goes on."""
    fitted = final.fitted
    fitted.manifest.update(
        {
            "source": f"shoprec serve: fitted at start-up on the dataset {data.name}",
            "dataset": data.name,
            "preset": "quick" if quick else "full",
            "events": int(sum(len(s) for s in data.sequences)),
            "shoppers": len(data.sequences),
        }
    )
    try:
        path = save_bundle(fitted, shelf.root)
        shelf.publish(fitted.version, "fitted at start-up (no bundle published yet)")
    except Exception:
        log.exception("saving the start-up bundle to %s failed; serving it unsaved", shelf.root)
        fitted.manifest.setdefault("version", "unsaved")
    else:
        log.info("saved and published the start-up bundle %s", path)
    final.bundle.version, final.bundle.meta = fitted.version, dict(fitted.manifest)


class _Stages:
    """Wall seconds per named build stage (``shoprec serve`` prints them)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._t
        self._t = now


def attach_experiments(engine: Engine, store_dir: Path) -> None:
    """Experiments in Redis beside the shared state (every worker and replica sees the same
    ones), else in the embedded store's file (own table; one process); reloaded after a
    restart. A strategy promoted by a stopped experiment is served, also when another process
    stopped it."""
    from shoprec.experiments.registry import ExperimentRegistry
    from shoprec.store import DB_FILENAME
    from shoprec.store.redis_state import RedisStateStore
    from shoprec.store.sqlite_state import SQLiteStateStore

    store: RedisStateStore[dict] | SQLiteStateStore[dict]
    if engine.shared is not None:
        sh = engine.shared
        prefix = f"{sh.prefix}experiments:"
        store = RedisStateStore[dict](sh.client, dict, dict, prefix, None, sh.breaker)
    else:
        store = SQLiteStateStore[dict](Path(store_dir) / DB_FILENAME, dict, dict, "experiments")
    registry = engine.experiments = ExperimentRegistry(store)

    def follow() -> None:
        if registry.promoted is not None:
            engine.pipeline.strategy = registry.promoted

    registry.on_change = follow
    registry.load()
    follow()


def attach_rules(engine: Engine, store_dir: Path) -> None:
    """The business rules in Redis beside the shared state (every worker and replica applies
    the same ones), else in the embedded store's file (own table); kept across restarts."""
    from shoprec.store import DB_FILENAME
    from shoprec.store.redis_state import RedisStateStore
    from shoprec.store.sqlite_state import SQLiteStateStore

    if engine.shared is not None:
        sh = engine.shared
        prefix = f"{sh.prefix}rules:"
        engine.rules.store = RedisStateStore[dict](sh.client, dict, dict, prefix, None, sh.breaker)
    else:
        engine.rules.store = SQLiteStateStore[dict](
            Path(store_dir) / DB_FILENAME, dict, dict, "rules"
        )
    engine.rules.refresh(force=True)


def sentiment_model(settings: Settings, vectorize: Vectorizer):  # -> sentiment model | None
    """The trained review sentiment model (``shoprec train-sentiment``, cached under
    artifacts/), or None until one exists. Either artifact type loads (the manifest names it):
    the fine-tuned MiniLM or the older frozen-encoder head. The quick model, served until a
    trained one exists, is :class:`~shoprec.serving.sentiment.SentimentSource`'s."""
    served = SentimentSource(settings, lambda: vectorize.encoder).trained()
    return None if served is None else served.model


def watch_store(built: Built, settings: Settings) -> BundleWatcher:
    """The background threads of one serving process over ``built.store``: the published
    bundle followed (``serving/bundles.py``: every process runs its own, so every worker and
    replica switches), and the review sentiment model ``shoprec train-sentiment`` publishes."""
    from shoprec.serving.bundles import watch_published

    assert built.store is not None, "built by build_engine"
    if built.sentiment is not None:
        built.sentiment.watch(built.engine)
    return watch_published(built.engine, BundleShelf.for_store(built.store, settings))
