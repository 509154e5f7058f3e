"""Bulk import of a shop's own files into its stores (``shoprec import``).

The files are read and validated by the dataset readers (:mod:`shoprec.data.readers`), whole,
before anything is written: a bad row stops the import with the file, the row and the field
named, and the stores unchanged. The formats are those of a shop folder's files (CSV, JSONL or
Parquet, by the file's suffix):

- items: ``item_id`` and optional ``title, description, category, brand, price, in_stock``,
  other columns as attributes (:func:`~shoprec.data.readers.read_items_table`); upserted, so a
  re-import replaces the fields and keeps each item's first ``added_at``;
- events: ``user_id, item_id, type, timestamp`` and optional ``event_id, session_id, query,
  text, rating`` (:func:`~shoprec.data.readers.read_events`, the format ``shoprec
  export-events`` writes); the type is a built-in or one the shop declares;
- reviews: ``user_id, item_id, text, timestamp`` and optional ``review_id, rating``
  (:func:`~shoprec.data.readers.read_reviews`), stored as review events.

Idempotent and resumable: every event carries an ``event_id`` (its own, or one derived from its
content, :func:`derive_ids`), and the log stores an id once. Events are appended in chunks, one
transaction each, in file order; an import that crashes leaves whole chunks stored, and running
it again stores exactly the rest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from shoprec.data.readers import DataFormatError, read_events, read_items_table, read_reviews
from shoprec.data.records import Event, EventType, Item, Review
from shoprec.store.protocols import EventLog, ItemStore

#: Events per append (one transaction): a crash loses at most the chunk under way.
CHUNK = 5_000
#: Items per upsert.
ITEM_CHUNK = 1_000
#: ``(what, done, total)`` after each chunk: ``what`` is "items", "events" or "reviews".
Progress = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    """What an import did."""

    items: int = 0  # item rows upserted
    new_items: int = 0  # of which not in the catalog before
    events: int = 0  # event rows read
    reviews: int = 0  # review rows read
    stored: int = 0  # events and reviews new to the log
    known: int = 0  # already in the log: a re-run, a resumed import, ids sent before
    unknown_items: list[str] = field(default_factory=list)  # named by events, not in the catalog
    seconds: float = 0.0


def derive_ids(events: Sequence[Event], prefix: str = "import") -> list[Event]:
    """``events`` with an ``event_id`` where they had none: ``<prefix>:<hash of the event's
    fields>``, and ``:<n>`` added for the n-th identical row (n >= 2). The id depends on the row
    only, not on the file's name, format or position: the same row imported again, also from a
    longer file, is recognised."""
    seen: dict[str, int] = {}
    out = []
    for event in events:
        if event.event_id is not None:
            out.append(event)
            continue
        fields = (
            event.user_id,
            event.item_id,
            str(event.type),
            repr(float(event.timestamp)),
            event.session_id,
            event.query,
            event.text,
            None if event.rating is None else repr(float(event.rating)),
        )
        digest = hashlib.sha1(repr(fields).encode("utf-8")).hexdigest()[:24]
        n = seen[digest] = seen.get(digest, 0) + 1
        out.append(replace(event, event_id=f"{prefix}:{digest}" + (f":{n}" if n > 1 else "")))
    return out


def review_events(reviews: Sequence[Review]) -> list[Event]:
    """Reviews as the review events serving scores: the shop's ``review_id`` kept as
    ``import:review:<id>`` (as ``shoprec serve --dataset`` imports a folder's reviews); a
    review without one (the reader numbers it by row) gets an id derived from its content."""
    out = []
    for row, r in enumerate(reviews, start=1):
        given = r.review_id != str(row)
        out.append(
            Event(
                r.user_id,
                r.item_id,
                EventType.REVIEW,
                r.timestamp or 0.0,
                f"import:review:{r.review_id}" if given else None,
                text=r.text,
                rating=r.rating,
            )
        )
    return derive_ids(out, "import:review")


@dataclass
class ImportFiles:
    """The validated rows of an import's files (events and reviews with their ids)."""

    items: list[Item] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    reviews: list[Event] = field(default_factory=list)


def read_files(
    items_file: Path | None = None,
    events_file: Path | None = None,
    reviews_file: Path | None = None,
    window: tuple[float, float] | None = None,
) -> ImportFiles:
    """Read and validate the given files whole (module doc), before any store is touched;
    with ``window`` = ``(lowest, highest)``, a timestamp outside it is a bad row too (the
    engine's clock refuses it: ``shoprec.serving.clock``).

    Raises
    ------
    shoprec.data.readers.DataFormatError
        A file is missing, unreadable or has a bad row (named, with the field).
    """
    files = ImportFiles(
        read_items_table(items_file) if items_file else [],
        derive_ids(read_events(events_file)) if events_file else [],
        review_events(read_reviews(reviews_file)) if reviews_file else [],
    )
    if window is not None:
        for path, rows in ((events_file, files.events), (reviews_file, files.reviews)):
            if path is not None:
                _check_times(path, rows, *window)
    return files


def _check_times(path: Path, events: Sequence[Event], low: float, high: float) -> None:
    """Rows are the events' positions (one event per data row, in file order)."""
    for row, e in enumerate(events, start=1):
        if not low <= e.timestamp <= high:
            when = "ahead of" if e.timestamp > high else "older than"
            bound = high if e.timestamp > high else low
            raise DataFormatError(
                path,
                row,
                "timestamp",
                f"{e.timestamp:.0f} is {when} the window the engine's clock accepts "
                f"(bound {bound:.0f}; SHOPREC_MAX_FUTURE_SKEW_S, SHOPREC_RETAIN_DAYS)",
            )


def import_rows(
    events: EventLog,
    items: ItemStore,
    files: ImportFiles,
    *,
    chunk: int = CHUNK,
    progress: Progress | None = None,
    now: float | None = None,
) -> ImportReport:
    """Write ``files`` into ``events`` and ``items``: the items first (upserted, ``added_at``
    ``now``, default the current time), so that a server following the store finds the items
    its new events name; then the events and the reviews in chunks of ``chunk``, in file
    order."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    t0 = time.perf_counter()
    catalog_rows, event_rows, reviews = files.items, files.events, files.reviews
    report = ImportReport(events=len(event_rows), reviews=len(reviews))
    known_ids = {it.item_id for it, _ in items.all()}
    report.items = len(catalog_rows)
    report.new_items = len({it.item_id for it in catalog_rows} - known_ids)
    when = time.time() if now is None else now
    for s in range(0, len(catalog_rows), ITEM_CHUNK):
        items.upsert(catalog_rows[s : s + ITEM_CHUNK], when)
        if progress:
            progress("items", min(s + ITEM_CHUNK, len(catalog_rows)), len(catalog_rows))
    known_ids.update(it.item_id for it in catalog_rows)
    for what, rows in (("events", event_rows), ("reviews", reviews)):
        for s in range(0, len(rows), chunk):
            stored = events.append(rows[s : s + chunk])
            report.stored += sum(stored)
            report.known += len(stored) - sum(stored)
            if progress:
                progress(what, min(s + chunk, len(rows)), len(rows))
    report.unknown_items = sorted(
        {e.item_id for e in [*event_rows, *reviews] if e.item_id and e.item_id not in known_ids}
    )
    report.seconds = time.perf_counter() - t0
    return report


def import_files(
    events: EventLog,
    items: ItemStore,
    *,
    items_file: Path | None = None,
    events_file: Path | None = None,
    reviews_file: Path | None = None,
    chunk: int = CHUNK,
    progress: Progress | None = None,
    now: float | None = None,
) -> ImportReport:
    """:func:`read_files` then :func:`import_rows`: nothing is written when a file is bad.

    Raises
    ------
    shoprec.data.readers.DataFormatError
        A file is missing, unreadable or has a bad row (named, with the field).
    """
    files = read_files(items_file, events_file, reviews_file)
    return import_rows(events, items, files, chunk=chunk, progress=progress, now=now)
