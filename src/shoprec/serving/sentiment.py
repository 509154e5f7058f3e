"""Which review sentiment model serves, and switching it while running.

The trained model (``shoprec train-sentiment``, ``artifacts/sentiment``) wins; until one exists
the quick model serves (``nlp/sentiment/quick.py``: trained in seconds on the public review sets
at start-up, cached in ``artifacts/sentiment-quick``). When neither can be had, the reason is
kept and said: in the start-up output and in the 503 body of ``POST /v1/sentiment``. A watcher
switches a running server to the trained model as soon as it is published (the engine then
rescores every review: :meth:`~shoprec.serving.reviews.ReviewScoring.switch`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from shoprec.nlp.sentiment.quick import SentimentUnavailable, load_or_train_quick
from shoprec.serving.reload import ArtifactWatcher, artifact_stamp
from shoprec.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedSentiment:
    """A sentiment model in service: ``model.predict(texts)``, the ``name`` every answer gives
    (``"quick"``, ``"fine-tuned"``, or ``"frozen-encoder"`` for the older trained head), its
    ``version``, and the ``stamp`` of the artifact it was loaded from (0: not from one)."""

    model: Any
    name: str
    version: str
    stamp: float = 0.0


class SentimentHost(Protocol):
    """What a watcher switches: the engine, which rescores its reviews on a switch."""

    def sentiment_served(self) -> ServedSentiment | None: ...

    def switch_sentiment(self, served: ServedSentiment) -> None: ...


def trained_version(path: Path) -> str:
    """A trained artifact's version: when its manifest was published (UTC)."""
    return datetime.fromtimestamp(artifact_stamp(path), tz=UTC).strftime("%Y%m%dT%H%M%SZ")


class SentimentSource:
    """Finds the model to serve for ``settings`` (artifacts and data folder).

    Parameters
    ----------
    settings : ``artifacts_dir`` (the trained and the quick artifact) and ``data_dir`` (the
        public review sets the quick model trains on).
    encoder : returns the sentence encoder; called only to load an older frozen-encoder
        artifact.
    """

    def __init__(self, settings: Settings, encoder: Callable[[], Any] | None = None) -> None:
        self.settings, self._encoder = settings, encoder
        self.trained_path = Path(settings.artifacts_dir) / "sentiment"
        self.quick: ServedSentiment | None = None
        self.reason: str | None = None  # why no quick model, when there is none
        self.seconds = 0.0  # spent preparing the quick model
        self._first: ServedSentiment | None = None

    def prepare(self) -> ServedSentiment | None:
        """At start-up: the trained model if published, else the quick one, trained or reused
        (seconds; never in a request). None, with :attr:`reason` set, when neither exists."""
        trained = self._first = self.trained()
        if trained is not None:
            return trained
        t0 = time.perf_counter()
        try:
            model = load_or_train_quick(self.settings)
        except SentimentUnavailable as e:
            self.reason = str(e)
            log.warning("review sentiment unavailable: %s", e)
            return None
        finally:
            self.seconds = time.perf_counter() - t0
        self.quick = ServedSentiment(model, "quick", model.version)
        return self.quick

    def trained(self) -> ServedSentiment | None:
        """The model ``shoprec train-sentiment`` published, loaded; None when there is none."""
        from shoprec.nlp.sentiment import FineTunedSentiment, load_model

        if not (self.trained_path / "manifest.json").is_file():
            return None
        stamp = artifact_stamp(self.trained_path)
        model = load_model(self.trained_path, self._encoder() if self._encoder else cast(Any, None))
        name = "fine-tuned" if isinstance(model, FineTunedSentiment) else "frozen-encoder"
        return ServedSentiment(model, name, trained_version(self.trained_path), stamp)

    def load(self) -> ServedSentiment:
        """The engine's factory: trained, else the prepared quick model, else
        :class:`SentimentUnavailable` saying why (looked for again later; trains nothing)."""
        first, self._first = self._first, None  # what prepare loaded, handed over once
        found = first or self.trained() or self.quick
        if found is None:
            raise SentimentUnavailable(self.reason or "no review sentiment model prepared")
        return found

    def describe(self, served: ServedSentiment | None) -> str:
        """One line for the start-up output: what serves, or why nothing does."""
        if served is None:
            return f"review sentiment unavailable: {self.reason}"
        if served.name != "quick":
            return f"review sentiment: {served.name} model {served.version} ({self.trained_path})"
        meta = getattr(served.model, "meta", {})
        held = meta.get("held_out", {})
        return (
            f"review sentiment: quick model {served.version} ready in {self.seconds:.1f} s "
            f"(trained in {meta.get('train_s', 0.0):.1f} s on {meta.get('n_train', 0)} public "
            f"reviews; held-out multidomain accuracy {held.get('multidomain_accuracy', 0):.3f}, "
            f"alexa macro-F1 {held.get('alexa_macro_f1', 0):.3f}); `shoprec train-sentiment` "
            "publishes the fine-tuned model, which this server then switches to"
        )

    def watch(self, engine: SentimentHost, interval: float = 5.0) -> ArtifactWatcher:
        """Switch ``engine`` to the trained model whenever one is (re)published."""
        current = engine.sentiment_served()
        served_stamp = current.stamp if current is not None else 0.0

        def rebuild(path: Path) -> ServedSentiment:
            served = self.trained()
            if served is None:
                raise FileNotFoundError(f"{path / 'manifest.json'} vanished")
            return served

        return ArtifactWatcher(
            self.trained_path,
            rebuild,
            engine.switch_sentiment,
            interval,
            stamp=served_stamp,
            name="sentiment-watcher",
        ).start()
