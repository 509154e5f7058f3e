"""Readers for catalogs and events in CSV, JSONL and Parquet, with errors that name the
file, the row and the field."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from shoprec.data.records import Event, EventType, Item, Review

ITEM_COLUMNS = {"item_id", "title", "description", "category", "brand", "price", "in_stock"}
EVENT_TYPES = {t.value for t in EventType}


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
    """Read a CSV, JSONL (``.jsonl``/``.ndjson``) or Parquet file; every column as read."""
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
            # no date guessing: "timestamp" columns are parsed by _timestamps
            return pd.read_json(path, lines=True, dtype=False, convert_dates=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataFormatError(path, None, None, f"cannot parse: {exc}") from exc
    raise DataFormatError(path, None, None, f"unsupported format {suffix!r} (csv, jsonl, parquet)")


def _require(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFormatError(path, None, missing[0], f"missing column (have {list(df.columns)})")


def _blank(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return (isinstance(value, float) and math.isnan(value)) or str(value) == ""


def _timestamps(col: pd.Series, path: Path) -> np.ndarray:
    """Unix seconds from numbers or ISO-8601 strings; the first bad value raises."""
    out = np.empty(len(col), dtype=np.float64)
    for row, value in enumerate(col.tolist(), start=1):
        if _blank(value):
            raise DataFormatError(path, row, "timestamp", "empty timestamp")
        try:
            out[row - 1] = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            try:
                out[row - 1] = pd.Timestamp(value).timestamp()  # type: ignore[arg-type]
            except (TypeError, ValueError):
                out[row - 1] = np.nan
        if not math.isfinite(out[row - 1]):
            raise DataFormatError(
                path, row, "timestamp", f"bad timestamp {value!r} (unix seconds or ISO 8601)"
            )
    return out


def _ids(df: pd.DataFrame, path: Path, column: str) -> pd.Series:
    col = df[column]
    for row, value in enumerate(col.tolist(), start=1):
        if _blank(value):
            raise DataFormatError(path, row, column, "empty id")
    return col.astype(str)


def read_interactions_table(path: Path) -> pd.DataFrame:
    """Validated interactions: ``user_id``, ``item_id`` (str), optional ``timestamp`` (float
    seconds), ``position`` (int) and ``type`` (an :class:`EventType` value)."""
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
        types = df["type"].astype(str)
        bad = np.flatnonzero(~types.isin(EVENT_TYPES).to_numpy())
        if len(bad):
            raise DataFormatError(
                path,
                int(bad[0]) + 1,
                "type",
                f"unknown event type {types.iloc[bad[0]]!r} (one of {sorted(EVENT_TYPES)})",
            )
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
        item_id = rec.get("item_id")
        if _blank(item_id):
            raise DataFormatError(path, row, "item_id", "empty id")
        item_id = str(item_id)
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
        items.append(
            Item(
                item_id=item_id,
                title="" if _blank(rec.get("title")) else str(rec["title"]),
                description="" if _blank(rec.get("description")) else str(rec["description"]),
                category=category,
                brand="" if _blank(rec.get("brand")) else str(rec["brand"]),
                price=_price(rec.get("price"), path, row),
                in_stock=_bool(rec.get("in_stock"), path, row),
                attributes={c: str(rec[c]) for c in extra if not _blank(rec.get(c))},
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
    for row, (rec, ts, typ) in enumerate(
        zip(records, inter["timestamp"], inter["type"], strict=True), start=1
    ):
        rating = _rating(rec.get("rating"), path, row)

        def opt(key: str, rec: dict = rec) -> str | None:
            return None if _blank(rec.get(key)) else str(rec[key])

        events.append(
            Event(
                user_id=str(rec["user_id"]),
                item_id=str(rec["item_id"]),
                type=EventType(typ),
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
    """Reviews with required ``item_id, text`` and optional ``review_id`` (default: the row
    number), ``rating`` (1-5), ``user_id``, ``timestamp``."""
    path = Path(path)
    df = read_table(path)
    _require(df, path, ["item_id", "text"])
    items = _ids(df, path, "item_id")
    stamps = _timestamps(df["timestamp"], path) if "timestamp" in df.columns else None
    reviews = []
    for row, rec in enumerate(df.to_dict("records"), start=1):
        review_id = rec.get("review_id")
        reviews.append(
            Review(
                review_id=str(row) if _blank(review_id) else str(review_id),
                item_id=items.iloc[row - 1],
                text="" if _blank(rec.get("text")) else str(rec["text"]),
                rating=_rating(rec.get("rating"), path, row),
                user_id="" if _blank(rec.get("user_id")) else str(rec["user_id"]),
                timestamp=None if stamps is None else float(stamps[row - 1]),
            )
        )
    return reviews
