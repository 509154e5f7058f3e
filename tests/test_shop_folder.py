"""Shop folders: the example in ``examples/shop`` loads, every format (CSV, JSONL, Parquet)
gives the same dataset, each file name takes exactly one format, bad rows are named (file, row,
field) in every format, and the folder's reviews reach the engine's review sentiment through the
serving import."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shoprec.data.datasets import dataset_reviews, load_dataset, load_shop_folder
from shoprec.data.interactions import SequenceData
from shoprec.data.readers import DataFormatError
from shoprec.data.records import EventType

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "shop"
STEMS = ("interactions", "items", "reviews")


def _typed(stem: str) -> pd.DataFrame:
    """An example file as a shop's JSON or Parquet export would hold it: numbers, booleans,
    datetimes and gaps (nulls) rather than the CSV's strings."""
    df = pd.read_csv(EXAMPLE / f"{stem}.csv")
    if stem == "interactions":
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    return df


def _write(df: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".jsonl":
        if "timestamp" in df and isinstance(df["timestamp"].dtype, pd.DatetimeTZDtype):
            df = df.assign(timestamp=df["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S%z"))
        df.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        df.to_parquet(path, index=False)


def _folder(tmp_path: Path, suffixes: Sequence[str]) -> Path:
    """The example folder with each of its files in the given format (``.csv`` copies it)."""
    folder = tmp_path / "-".join(s.strip(".") for s in suffixes)
    folder.mkdir()
    for stem, suffix in zip(STEMS, suffixes, strict=True):
        if suffix == ".csv":
            (folder / f"{stem}.csv").write_bytes((EXAMPLE / f"{stem}.csv").read_bytes())
        else:
            _write(_typed(stem), folder / f"{stem}{suffix}")
    return folder


def _same(a: SequenceData, b: SequenceData) -> None:
    assert a.users.to_list() == b.users.to_list()
    assert a.items.to_list() == b.items.to_list()
    assert a.catalog == b.catalog  # titles, categories, prices, stock, attributes
    assert [s.tolist() for s in a.sequences] == [s.tolist() for s in b.sequences]
    assert a.timestamps is not None and b.timestamps is not None
    assert [t.tolist() for t in a.timestamps] == [t.tolist() for t in b.timestamps]
    assert dataset_reviews(a) == dataset_reviews(b)


def _error(folder: Path) -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        load_shop_folder(folder)
    return info.value


# ---- the example folder ----------------------------------------------------------------------


def test_example_folder_loads_by_its_repo_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    data = load_dataset("examples/shop")
    assert (data.name, data.n_users, data.n_items, data.n_interactions) == (
        "examples/shop",
        14,
        11,
        57,
    )
    assert data.has_text()
    eth = data.catalog[data.items.index("CF-ETH-250") - 1]
    assert eth.category == ("Coffee", "Whole beans") and eth.brand == "Hillside Roasters"
    assert (eth.price, eth.in_stock, eth.attributes) == (12.5, True, {"weight_g": "250"})
    assert data.catalog[data.items.index("CF-ESP-500") - 1].in_stock is False
    assert data.catalog[data.items.index("BR-FLT-100") - 1].attributes == {}
    first = data.users.index("u-1001") - 1
    assert data.items.externals(data.sequences[first]) == [
        "CF-ETH-250",
        "BR-CONE-02",
        "BR-CONE-02",
        "BR-FLT-100",
        "BR-CONE-02",
        "BR-KTL-1L",
    ]
    assert data.timestamps is not None
    assert data.timestamps[first][0] == pd.Timestamp("2024-03-01T09:12:00Z").timestamp()
    reviews = dataset_reviews(data)
    assert len(reviews) == 8 and len({r.review_id for r in reviews}) == 8
    kettle = next(r for r in reviews if r.item_id == "BR-KTL-1L")
    assert (kettle.user_id, kettle.rating) == ("u-1007", 1.0) and "thermometer" in kettle.text
    assert next(r for r in reviews if r.review_id == "r-006").rating is None
    assert all(r.text and r.timestamp and r.item_id in data.items for r in reviews)


@pytest.mark.parametrize(
    "suffixes",
    [
        (".jsonl", ".jsonl", ".jsonl"),
        (".parquet", ".parquet", ".parquet"),
        (".parquet", ".jsonl", ".csv"),
    ],
)
def test_every_format_loads_the_same_dataset(tmp_path: Path, suffixes: tuple[str, ...]) -> None:
    csv = load_shop_folder(_folder(tmp_path, (".csv",) * 3))
    folder = _folder(tmp_path, suffixes)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{stem}{suffix}" for stem, suffix in zip(STEMS, suffixes, strict=True)
    )
    other = load_shop_folder(folder)
    _same(csv, other)
    assert len(dataset_reviews(other)) == 8


def test_folder_without_reviews_has_none(tmp_path: Path) -> None:
    folder = _folder(tmp_path, (".csv",) * 3)
    (folder / "reviews.csv").unlink()
    assert dataset_reviews(load_shop_folder(folder)) == []


# ---- one file per name -----------------------------------------------------------------------


@pytest.mark.parametrize(("stem", "extra"), [("interactions", ".jsonl"), ("reviews", ".parquet")])
def test_two_files_of_one_name_are_refused(tmp_path: Path, stem: str, extra: str) -> None:
    folder = _folder(tmp_path, (".csv",) * 3)
    _write(_typed(stem), folder / f"{stem}{extra}")
    err = _error(folder)
    assert f"{stem}.csv and {stem}{extra} both present" in str(err) and str(folder) in str(err)


def test_folder_without_interactions(tmp_path: Path) -> None:
    folder = _folder(tmp_path, (".csv",) * 3)
    (folder / "interactions.csv").rename(folder / "interactions.tsv")
    err = _error(folder)
    assert "no interactions file" in str(err) and "interactions.parquet" in str(err)


# ---- bad rows, named in every format ---------------------------------------------------------


def _broken(tmp_path: Path, suffix: str, stem: str, row: int, change: dict) -> Path:
    """The example folder, all in ``suffix``, with ``change`` ({column: value, or None to drop
    the column}) made to data row ``row`` (1-based) of ``stem``."""
    folder = _folder(tmp_path, (suffix,) * 3)
    df = pd.read_csv(EXAMPLE / f"{stem}.csv", dtype=str, keep_default_na=False)
    for column, value in change.items():
        if value is None:
            df = df.drop(columns=[column])
        else:
            df.loc[row - 1, column] = value
    path = folder / f"{stem}{suffix}"
    if suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        _write(df, path)
    return path


CASES = [
    ("interactions", 5, {"item_id": None}, None, "item_id", "missing column"),
    ("interactions", 7, {"timestamp": "03/02/2024"}, 7, "timestamp", "bad timestamp '03/02/2024'"),
    ("interactions", 9, {"timestamp": ""}, 9, "timestamp", "empty timestamp"),
    ("interactions", 12, {"type": "wishlist"}, 12, "type", "unknown event type 'wishlist'"),
    ("items", 4, {"price": "about ten"}, 4, "price", "not a number: 'about ten'"),
    ("reviews", 3, {"item_id": "NO-SUCH-SKU"}, 3, "item_id", "unknown item 'NO-SUCH-SKU'"),
    ("reviews", 6, {"text": "   "}, 6, "text", "empty review text"),
    ("reviews", 2, {"rating": "9"}, 2, "rating", "must be in [1, 5]"),
    ("reviews", 4, {"user_id": None}, None, "user_id", "missing column"),
    ("reviews", 8, {"review_id": "r-001"}, 8, "review_id", "duplicate review_id 'r-001'"),
]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize(("stem", "row", "change", "at", "field", "message"), CASES)
def test_bad_input_names_file_row_and_field(
    tmp_path: Path,
    suffix: str,
    stem: str,
    row: int,
    change: dict,
    at: int | None,
    field: str,
    message: str,
) -> None:
    path = _broken(tmp_path, suffix, stem, row, change)
    err = _error(path.parent)
    assert (err.path, err.row, err.field) == (path, at, field)
    where = f"{path}, row {at}, field {field!r}" if at else f"{path}, field {field!r}"
    assert str(err).startswith(where) and message in str(err), str(err)


def test_broken_jsonl_line_is_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path, (".jsonl",) * 3)
    path = folder / "items.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-1]  # the closing brace lost
    path.write_text("\n".join(lines) + "\n")
    err = _error(folder)
    assert (err.path, err.row) == (path, 3) and "not JSON" in str(err)


# ---- reviews reach serving -------------------------------------------------------------------


class _KeywordSentiment:
    """Stands in for the trained sentiment model (which needs a training run): a review is
    negative when it says it was sent back or tasted flat, else positive."""

    def predict(self, texts: list[str]) -> list[object]:
        from shoprec.nlp.sentiment.model import SentimentResult

        bad = ("sent it back", "flat")
        return [
            SentimentResult("negative" if any(b in t.lower() for b in bad) else "positive", 0.8)
            for t in texts
        ]


def test_folder_reviews_reach_the_engine_through_the_import(tmp_path: Path) -> None:
    from shoprec.serving.build import import_events
    from shoprec.serving.engine import Engine
    from shoprec.store import open_embedded
    from shoprec.store.memory import MemoryStateStore

    data = load_shop_folder(EXAMPLE)
    events = import_events(data)
    reviews = [e for e in events if e.type is EventType.REVIEW]
    assert len(events) == data.n_interactions + 8 and len(reviews) == 8
    kettle = next(e for e in reviews if e.item_id == "BR-KTL-1L")
    assert (kettle.user_id, kettle.rating, kettle.event_id) == (
        "u-1007",
        1.0,
        "import:review:r-005",
    )
    assert kettle.timestamp == 1710334800.0 and kettle.text and "thermometer" in kettle.text

    log, items = open_embedded(tmp_path / "store")
    log.append(events)
    log.append(import_events(data))  # a second import adds nothing: stable event ids
    assert log.count() == len(events)
    items.upsert(data.catalog, 0.0)
    engine = Engine(
        log,
        items,
        MemoryStateStore(),
        vectorize=lambda texts: np.zeros((len(texts), 384), np.float32),
        sentiment=_KeywordSentiment,  # type: ignore[arg-type]
    )
    engine.load()  # what build_engine does after the import
    assert engine.reviews.count("BR-KTL-1L") == 1 and engine.reviews.count("CF-ESP-500") == 1
    assert sum(engine.reviews.count(i) for i in data.items.to_list()) == 8
    summary = engine.reviews.summary("BR-KTL-1L")
    assert (summary["count"], summary["negative"]) == (1, 1.0)
    assert engine.reviews.positive_share("TE-ASM-250") == (1.0, 1)
    assert engine.reviews.highlight("CF-ESP-500") == (
        "import:review:r-008",
        "Rich crema with cocoa notes, though a little oily for a burr grinder.",
    )
    # a shopper known only by a review has it in their state, as a posted review would be
    state = engine.state("u-1015")
    assert state is not None and state.recent == [("CF-ESP-500", 1710500000.0, "review")]
    log.close()
    items.close()
