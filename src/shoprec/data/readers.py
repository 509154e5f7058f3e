"""Readers for catalogs and events in CSV, JSONL and Parquet, with errors that name the
file, the row and the field."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from shoprec.data import event_types
from shoprec.data.records import Event, Item, Review

ITEM_COLUMNS = {"item_id", "title", "description", "category", "brand", "price", "in_stock"}
#: Columns a reviews file must have (``review_id`` and ``rating`` are optional).
REVIEW_COLUMNS = ["user_id", "item_id", "text", "timestamp"]
#: A date, optionally a time and an offset: ``2024-03-02``, ``2024-03-02T10:15:00Z``.
ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


class DataFormatError(ValueError):
    """Bad input in a data file; ``row`` is 1-based over data rows (header excluded)."""

    def __init__(self, path: Path, row: int | None, field: str | None, message: str) -> None:
        self.path, self.row, self.field = path, row, field
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV, JSONL (``.jsonl``/``.ndjson``) or Parquet file; every column as read.

    CSV cells stay strings; JSONL and Parquet keep their types (numbers, booleans, datetimes),
    which the column readers below accept as well, so every format gives the same records.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, None, "file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".tsv", ".txt"}:
            return pd.read_csv(
                path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False
            )
        if suffix in {".jsonl", ".ndjson"}:
            return _read_jsonl(path)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except DataFormatError:
        raise  # already names the row (a JSONL line)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataFormatError(path, None, None, f"cannot parse: {exc}") from exc
    raise DataFormatError(path, None, None, f"unsupported format {suffix!r} (csv, jsonl, parquet)")


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line (row = line number); keys missing from a line read as blank.

    Parsed line by line rather than by ``pandas.read_json`` so that a broken line is named, and
    no column is guessed into dates or floats (ids keep their text)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, None, f"not UTF-8 text: {exc}") from None
    while lines and not lines[-1].strip():
        lines.pop()
    records: list[dict[str, object]] = []
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataFormatError(path, row, None, "blank line (JSON Lines: one object per line)")
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                path, row, None, f"not JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(rec, dict):
            raise DataFormatError(path, row, None, f"not a JSON object: {line[:60]!r}")
        records.append(rec)
    columns = list(dict.fromkeys(key for rec in records for key in rec))
    return pd.DataFrame.from_records(records, columns=columns).astype(object)


def _require(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFormatError(path, None, missing[0], f"missing column (have {list(df.columns)})")


def _blank(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return (isinstance(value, float | np.floating) and math.isnan(value)) or str(value) == ""


def _text(value: object) -> str:
    """A cell as text. A whole float loses its ``.0``: a JSONL or Parquet number column with a
    gap becomes floats, and its ids must read as they do from CSV (``101``, not ``101.0``)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _timestamps(col: pd.Series, path: Path) -> np.ndarray:
    """Unix seconds from numbers or ISO-8601 strings; the first bad value raises."""
    out = np.empty(len(col), dtype=np.float64)
    for row, value in enumerate(col.tolist(), start=1):
        if _blank(value):
            raise DataFormatError(path, row, "timestamp", "empty timestamp")
        out[row - 1] = _seconds(value)
        if not math.isfinite(out[row - 1]):
            raise DataFormatError(
                path, row, "timestamp", f"bad timestamp {value!r} (unix seconds or ISO 8601)"
            )
    return out


def _seconds(value: object) -> float:
    """Unix seconds of a number, an ISO-8601 string (UTC when it has no offset) or a datetime
    (Parquet); NaN when it is none of these. Other date strings (``03/02/2024``, ``now``) are
    refused: their meaning depends on the reader."""
    if isinstance(value, bool):
        return np.nan
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            if not ISO_8601.fullmatch(text):
                return np.nan
    try:
        if isinstance(value, int | float | np.integer | np.floating):
            return float(value)
        return float(pd.Timestamp(value).timestamp())  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return np.nan


def _ids(df: pd.DataFrame, path: Path, column: str) -> pd.Series:
    col = df[column]
    for row, value in enumerate(col.tolist(), start=1):
        if _blank(value):
            raise DataFormatError(path, row, column, "empty id")
    return pd.Series([_text(v) for v in col.tolist()], index=col.index, dtype=object)


def read_interactions_table(path: Path) -> pd.DataFrame:
    """Validated interactions: ``user_id``, ``item_id`` (str), optional ``timestamp`` (float
    seconds), ``position`` (int) and ``type`` (a built-in or declared event type)."""
    path = Path(path)
    df = read_table(path)
    _require(df, path, ["user_id", "item_id"])
    out = pd.DataFrame({"user_id": _ids(df, path, "user_id"), "item_id": _ids(df, path, "item_id")})
    if "timestamp" in df.columns:
        out["timestamp"] = _timestamps(df["timestamp"], path)
    if "position" in df.columns:
        pos = pd.to_numeric(df["position"], errors="coerce")
        bad = np.flatnonzero((pos.isna() | (pos != pos.round())).to_numpy())
        if len(bad):
            value = df["position"].iloc[bad[0]]
            raise DataFormatError(path, int(bad[0]) + 1, "position", f"not an integer: {value!r}")
        out["position"] = pos.astype(np.int64).to_numpy()
    if "type" in df.columns:
        types = pd.Series(["" if _blank(v) else str(v) for v in df["type"].tolist()], dtype=object)
        known = event_types.known()  # the built-ins and the shop's declared types
        bad = np.flatnonzero(~types.isin(known).to_numpy())
        if len(bad):
            value = types.iloc[bad[0]]
            what = f"unknown event type {value!r}" if value else "empty event type"
            raise DataFormatError(path, int(bad[0]) + 1, "type", f"{what} (one of {known})")
        out["type"] = types.to_numpy()
    return out


def _price(value: object, path: Path, row: int) -> float | None:
    if _blank(value):
        return None
    try:
        price = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(path, row, "price", f"not a number: {value!r}") from None
    if price < 0 or not math.isfinite(price):
        raise DataFormatError(path, row, "price", f"must be a finite number >= 0, got {value!r}")
    return price


def _bool(value: object, path: Path, row: int) -> bool:
    if _blank(value):
        return True
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "y"}:
        return True
    if text in {"0", "false", "no", "n"}:
        return False
    raise DataFormatError(path, row, "in_stock", f"not a boolean: {value!r}")


def read_items_table(path: Path) -> list[Item]:
    """Catalog rows as :class:`Item`; ``category`` may be a path ``"A > B"`` or ``"A/B"``.
    Columns beyond the known ones become string ``attributes``. Duplicate ids are errors."""
    path = Path(path)
    df = read_table(path)
    _require(df, path, ["item_id"])
    items: list[Item] = []
    seen: dict[str, int] = {}
    extra = [c for c in df.columns if c not in ITEM_COLUMNS and c != "item_idx"]
    for row, rec in enumerate(df.to_dict("records"), start=1):
        if _blank(rec.get("item_id")):
            raise DataFormatError(path, row, "item_id", "empty id")
        item_id = _text(rec["item_id"])
        if item_id in seen:
            raise DataFormatError(
                path, row, "item_id", f"duplicate id {item_id!r} (first at row {seen[item_id]})"
            )
        seen[item_id] = row
        cat = rec.get("category")
        category: tuple[str, ...] = ()
        if not _blank(cat):
            sep = ">" if ">" in str(cat) else "/"
            category = tuple(p.strip() for p in str(cat).split(sep) if p.strip())

        def opt(key: str, rec: dict = rec) -> str:
            return "" if _blank(rec.get(key)) else _text(rec[key])

        items.append(
            Item(
                item_id=item_id,
                title=opt("title"),
                description=opt("description"),
                category=category,
                brand=opt("brand"),
                price=_price(rec.get("price"), path, row),
                in_stock=_bool(rec.get("in_stock"), path, row),
                attributes={c: opt(c) for c in extra if opt(c)},
            )
        )
    return items


def read_events(path: Path) -> list[Event]:
    """Events with a required ``type``; optional ``event_id, session_id, query, text, rating``."""
    path = Path(path)
    df = read_table(path)
    _require(df, path, ["user_id", "item_id", "type", "timestamp"])
    inter = read_interactions_table(path)
    events = []
    records = df.to_dict("records")
    columns = zip(
        records, inter["user_id"], inter["item_id"], inter["timestamp"], inter["type"], strict=True
    )
    for row, (rec, user_id, item_id, ts, typ) in enumerate(columns, start=1):
        rating = _rating(rec.get("rating"), path, row)

        def opt(key: str, rec: dict = rec) -> str | None:
            return None if _blank(rec.get(key)) else _text(rec[key])

        events.append(
            Event(
                user_id=user_id,
                item_id=item_id,
                type=event_types.parse(typ),
                timestamp=float(ts),
                event_id=opt("event_id"),
                session_id=opt("session_id"),
                query=opt("query"),
                text=opt("text"),
                rating=rating,
            )
        )
    first: dict[str, int] = {}
    for row, event in enumerate(events, start=1):
        if event.event_id is None:
            continue
        if event.event_id in first:
            raise DataFormatError(
                path,
                row,
                "event_id",
                f"duplicate event_id {event.event_id!r} (first at row {first[event.event_id]})",
            )
        first[event.event_id] = row
    return events


def _rating(value: object, path: Path, row: int) -> float | None:
    """A star rating in [1, 5], or ``None`` when blank."""
    if _blank(value):
        return None
    try:
        rating = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(path, row, "rating", f"not a number: {value!r}") from None
    if not 1.0 <= rating <= 5.0:
        raise DataFormatError(path, row, "rating", f"must be in [1, 5], got {value!r}")
    return rating


def read_reviews(path: Path) -> list[Review]:
    """Reviews in file order: required ``user_id, item_id, text`` (not blank) and ``timestamp``
    (unix seconds or ISO 8601), optional ``review_id`` (default: the row number; unique) and
    ``rating`` (1-5). Whether ``item_id`` is in the catalog is the folder loader's check."""
    path = Path(path)
    df = read_table(path)
    _require(df, path, REVIEW_COLUMNS)
    users = _ids(df, path, "user_id")
    items = _ids(df, path, "item_id")
    stamps = _timestamps(df["timestamp"], path)
    reviews = []
    first: dict[str, int] = {}
    for row, rec in enumerate(df.to_dict("records"), start=1):
        text = "" if _blank(rec.get("text")) else str(rec["text"])
        if not text.strip():
            raise DataFormatError(path, row, "text", "empty review text")
        review_id = str(row) if _blank(rec.get("review_id")) else _text(rec["review_id"])
        if review_id in first:
            raise DataFormatError(
                path,
                row,
                "review_id",
                f"duplicate review_id {review_id!r} (first at row {first[review_id]})",
            )
        first[review_id] = row
        reviews.append(
            Review(
                review_id=review_id,
                item_id=items.iloc[row - 1],
                text=text,
                rating=_rating(rec.get("rating"), path, row),
                user_id=users.iloc[row - 1],
                timestamp=float(stamps[row - 1]),
            )
        )
    return reviews
