"""Readers: clear errors on bad input (file, row, field), and good files in every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shoprec.data.datasets import load_shop_folder
from shoprec.data.readers import (
    DataFormatError,
    read_events,
    read_interactions_table,
    read_items_table,
    read_reviews,
    read_table,
)
from shoprec.data.records import EventType

EVENTS = pd.DataFrame(
    {
        "user_id": ["u1", "u1", "u2", "u2"],
        "item_id": ["a", "b", "b", "c"],
        "timestamp": [100, 200, 150, 300],
        "type": ["view", "purchase", "click", "review"],
        "rating": [None, None, None, 4.0],
        "text": ["", "", "", "nice"],
    }
)
ITEMS = pd.DataFrame(
    {
        "item_id": ["a", "b", "c"],
        "title": ["Alpha Cream", "Beta Serum", "Gamma Oil"],
        "category": ["Skin Care > Moisturizers", "Skin Care/Serums", ""],
        "brand": ["X", "Y", ""],
        "price": ["9.99", "", "12"],
        "in_stock": ["true", "0", ""],
        "size": ["50 ml", "", "30 ml"],
    }
)


def _csv(tmp_path: Path, name: str, df: pd.DataFrame) -> Path:
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _error(fn, path: Path) -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        fn(path)
    return info.value


# ---- bad input -------------------------------------------------------------------------------


def test_missing_column_names_file_and_field(tmp_path: Path) -> None:
    path = _csv(tmp_path, "interactions.csv", EVENTS.drop(columns=["item_id"]))
    err = _error(read_interactions_table, path)
    assert err.path == path and err.field == "item_id" and err.row is None
    assert "interactions.csv" in str(err) and "'item_id'" in str(err) and "missing" in str(err)


def test_bad_timestamp_names_row(tmp_path: Path) -> None:
    df = EVENTS.astype({"timestamp": object})
    df.loc[2, "timestamp"] = "yesterday"
    err = _error(read_interactions_table, _csv(tmp_path, "ev.csv", df))
    assert (err.row, err.field) == (3, "timestamp")
    assert "ev.csv, row 3, field 'timestamp'" in str(err) and "yesterday" in str(err)


@pytest.mark.parametrize("value", ["", "NaN", "inf"])
def test_empty_or_non_finite_timestamp(tmp_path: Path, value: str) -> None:
    df = EVENTS.astype({"timestamp": object})
    df.loc[1, "timestamp"] = value
    err = _error(read_interactions_table, _csv(tmp_path, "ev.csv", df))
    assert (err.row, err.field) == (2, "timestamp")


def test_iso_timestamps_are_accepted(tmp_path: Path) -> None:
    df = EVENTS.assign(timestamp=["1970-01-01T00:01:40Z", "1970-01-01 00:03:20", "150", "300.5"])
    out = read_interactions_table(_csv(tmp_path, "ev.csv", df))
    np.testing.assert_allclose(out["timestamp"], [100.0, 200.0, 150.0, 300.5])


def test_unknown_event_type(tmp_path: Path) -> None:
    df = EVENTS.assign(type=["view", "purchase", "wishlist", "view"])
    err = _error(read_interactions_table, _csv(tmp_path, "ev.csv", df))
    assert (err.row, err.field) == (3, "type")
    assert "'wishlist'" in str(err) and "add_to_cart" in str(err)


def test_empty_id_and_bad_position(tmp_path: Path) -> None:
    err = _error(
        read_interactions_table,
        _csv(tmp_path, "e1.csv", EVENTS.assign(user_id=["u1", "", "u2", "u2"])),
    )
    assert (err.row, err.field) == (2, "user_id")
    err = _error(
        read_interactions_table,
        _csv(tmp_path, "e2.csv", EVENTS.assign(position=["0", "1", "x", "1"])),
    )
    assert (err.row, err.field) == (3, "position")
    err = _error(
        read_interactions_table, _csv(tmp_path, "e3.csv", EVENTS.assign(position=[0, 1, 0, 1.5]))
    )
    assert (err.row, err.field) == (4, "position")


def test_duplicate_item_id(tmp_path: Path) -> None:
    df = pd.concat([ITEMS, ITEMS.iloc[[1]]], ignore_index=True)
    err = _error(read_items_table, _csv(tmp_path, "items.csv", df))
    assert (err.row, err.field) == (4, "item_id")
    assert "duplicate id 'b'" in str(err) and "first at row 2" in str(err)


@pytest.mark.parametrize("price", ["cheap", "-3", "inf"])
def test_bad_price(tmp_path: Path, price: str) -> None:
    df = ITEMS.assign(price=["1", "2", price])
    err = _error(read_items_table, _csv(tmp_path, "items.csv", df))
    assert (err.row, err.field) == (3, "price") and repr(price) in str(err)


def test_bad_in_stock(tmp_path: Path) -> None:
    err = _error(
        read_items_table, _csv(tmp_path, "items.csv", ITEMS.assign(in_stock=["maybe", "", ""]))
    )
    assert (err.row, err.field) == (1, "in_stock")


@pytest.mark.parametrize(
    ("rating", "message"), [("great", "not a number"), ("7", "[1, 5]"), ("0", "[1, 5]")]
)
def test_bad_rating(tmp_path: Path, rating: str, message: str) -> None:
    df = EVENTS.astype({"rating": object})
    df.loc[3, "rating"] = rating
    err = _error(read_events, _csv(tmp_path, "events.csv", df))
    assert (err.row, err.field) == (4, "rating") and message in str(err)
    reviews = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "item_id": ["a", "b"],
            "text": ["ok", "bad"],
            "timestamp": [10, 20],
            "rating": ["4", rating],
        }
    )
    err = _error(read_reviews, _csv(tmp_path, "reviews.csv", reviews))
    assert (err.row, err.field) == (2, "rating")


def test_duplicate_event_id(tmp_path: Path) -> None:
    df = EVENTS.assign(event_id=["e1", "e2", "e3", "e2"])
    err = _error(read_events, _csv(tmp_path, "events.csv", df))
    assert (err.row, err.field) == (4, "event_id") and "first at row 2" in str(err)


def test_unsupported_format_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "events.xlsx"
    path.write_bytes(b"not really excel")
    err = _error(read_table, path)
    assert "unsupported format '.xlsx'" in str(err) and "events.xlsx" in str(err)
    err = _error(read_table, tmp_path / "nope.csv")
    assert "file not found" in str(err) and "nope.csv" in str(err)


# ---- good input ------------------------------------------------------------------------------


def _write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_events_round_trip(tmp_path: Path, suffix: str) -> None:
    events = read_events(_write(EVENTS, tmp_path / f"events{suffix}"))
    assert [(e.user_id, e.item_id, e.timestamp, e.type) for e in events] == [
        ("u1", "a", 100.0, EventType.VIEW),
        ("u1", "b", 200.0, EventType.PURCHASE),
        ("u2", "b", 150.0, EventType.CLICK),
        ("u2", "c", 300.0, EventType.REVIEW),
    ]
    assert [e.rating for e in events] == [None, None, None, 4.0]
    assert events[3].text == "nice" and events[0].text is None


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_numeric_ids_and_datetime_timestamps(tmp_path: Path, suffix: str) -> None:
    df = pd.DataFrame(
        {
            "user_id": [7, 7],
            "item_id": [101, 102],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    if suffix != ".parquet":
        df["timestamp"] = df["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    out = read_interactions_table(_write(df, tmp_path / f"inter{suffix}"))
    assert out["user_id"].tolist() == ["7", "7"] and out["item_id"].tolist() == ["101", "102"]
    np.testing.assert_allclose(out["timestamp"], [1704067200.0, 1704153600.0])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_items_round_trip(tmp_path: Path, suffix: str) -> None:
    items = read_items_table(_write(ITEMS, tmp_path / f"items{suffix}"))
    a, b, c = items
    assert a.category == ("Skin Care", "Moisturizers") and b.category == ("Skin Care", "Serums")
    assert c.category == () and c.brand == ""
    assert (a.price, b.price, c.price) == (9.99, None, 12.0)
    assert (a.in_stock, b.in_stock, c.in_stock) == (True, False, True)
    assert a.attributes == {"size": "50 ml"} and b.attributes == {}
    assert "Brand: X." in a.text() and "Skin Care > Moisturizers" in a.text()


def test_reviews_round_trip(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "review_id": ["r1", "r2"],
            "user_id": ["u1", "u2"],
            "item_id": ["a", "b"],
            "text": ["Love it", "Meh"],
            "rating": [5, ""],
            "timestamp": [10, 20],
        }
    )
    r1, r2 = read_reviews(_csv(tmp_path, "reviews.csv", df))
    assert (r1.review_id, r1.item_id, r1.text, r1.rating, r1.timestamp) == (
        "r1",
        "a",
        "Love it",
        5.0,
        10.0,
    )
    assert r2.rating is None and (r1.user_id, r2.user_id) == ("u1", "u2")


# ---- shop folders ----------------------------------------------------------------------------


def test_shop_folder_without_items_is_id_only(tmp_path: Path) -> None:
    _csv(tmp_path, "interactions.csv", EVENTS[["user_id", "item_id", "timestamp"]])
    data = load_shop_folder(tmp_path)
    assert data.name == str(tmp_path)
    assert data.users.to_list() == ["u1", "u2"] and data.items.to_list() == ["a", "b", "c"]
    assert all(it.title == "" and it.category == () for it in data.catalog)
    assert [s.tolist() for s in data.sequences] == [[1, 2], [2, 3]]
    assert not data.has_text()


def test_shop_folder_items_keep_catalog_order(tmp_path: Path) -> None:
    _csv(
        tmp_path,
        "interactions.csv",
        EVENTS[["user_id", "item_id", "timestamp"]].assign(item_id=["c", "b", "b", "zz"]),
    )
    _csv(tmp_path, "items.csv", ITEMS)
    data = load_shop_folder(tmp_path, name="shop")
    # catalog items first (in file order), unknown ones appended as id-only items
    assert data.items.to_list() == ["a", "b", "c", "zz"]
    assert data.catalog[0].title == "Alpha Cream" and data.catalog[3].title == ""
    assert [s.tolist() for s in data.sequences] == [[3, 2], [2, 4]]


def test_shop_folder_orders_by_timestamp_then_file_order(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "user_id": ["u2", "u1", "u2", "u1", "u1"],
            "item_id": ["a", "b", "c", "d", "e"],
            "timestamp": [300, 200, 100, 50, 200],
        }
    )
    _csv(tmp_path, "interactions.csv", df)
    data = load_shop_folder(tmp_path)
    assert data.users.to_list() == ["u2", "u1"]  # first appearance in the file
    seqs = [data.items.externals(s) for s in data.sequences]
    assert seqs == [["c", "a"], ["d", "b", "e"]]  # ties (200) keep file order
    assert [t.tolist() for t in data.timestamps] == [[100.0, 300.0], [50.0, 200.0, 200.0]]


def test_shop_folder_without_timestamp_keeps_file_order(tmp_path: Path) -> None:
    df = pd.DataFrame({"user_id": ["u1", "u2", "u1", "u1"], "item_id": ["c", "a", "b", "a"]})
    _csv(tmp_path, "interactions.csv", df)
    data = load_shop_folder(tmp_path)
    assert data.timestamps is None
    assert [data.items.externals(s) for s in data.sequences] == [["c", "b", "a"], ["a"]]


def test_shop_folder_position_wins_over_timestamp(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1"],
            "item_id": ["a", "b", "c"],
            "timestamp": [10, 10, 5],
            "position": [2, 0, 1],
        }
    )
    _csv(tmp_path, "interactions.csv", df)
    data = load_shop_folder(str(tmp_path))
    assert data.items.externals(data.sequences[0]) == ["b", "c", "a"]
    assert data.timestamps[0].tolist() == [10.0, 5.0, 10.0]


def test_shop_folder_reports_bad_rows(tmp_path: Path) -> None:
    _csv(tmp_path, "interactions.csv", EVENTS.assign(type=["view", "buy", "view", "view"]))
    err = _error(load_shop_folder, tmp_path)
    assert (err.row, err.field) == (2, "type")


# ---- every format reads the same ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["now", "today", "03/02/2024", "2024-13-45", "True"])
def test_timestamps_other_than_unix_or_iso_are_refused(tmp_path: Path, value: str) -> None:
    df = EVENTS.astype({"timestamp": object})
    df.loc[0, "timestamp"] = value
    err = _error(read_interactions_table, _csv(tmp_path, "ev.csv", df))
    assert (err.row, err.field) == (1, "timestamp") and repr(value) in str(err)


def test_empty_event_type_is_named(tmp_path: Path) -> None:
    path = _write(EVENTS.assign(type=["view", None, "click", "view"]), tmp_path / "ev.jsonl")
    err = _error(read_interactions_table, path)
    assert (err.row, err.field) == (2, "type") and "empty event type" in str(err)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_number_ids_with_gaps_read_as_in_csv(tmp_path: Path, suffix: str) -> None:
    # a number column with a gap becomes floats in pandas (and some exports write ids as
    # floats): the ids and attributes must not read "101.0"
    items = pd.DataFrame({"item_id": [101.0, 102.0], "title": ["A", "B"], "size_ml": [50, None]})
    a, b = read_items_table(_write(items, tmp_path / f"i{suffix}"))
    assert (a.item_id, b.item_id) == ("101", "102")
    assert (a.attributes, b.attributes) == ({"size_ml": "50"}, {})


def test_jsonl_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    good = '{"user_id": "u1", "item_id": "a"}'
    path.write_text(f"{good}\n\n{good}\n")
    err = _error(read_interactions_table, path)
    assert err.row == 2 and "blank line" in str(err)
    path.write_text(f"{good}\n[1, 2]\n")
    err = _error(read_interactions_table, path)
    assert err.row == 2 and "not a JSON object" in str(err)
    path.write_text(f"{good}\n{good}\n\n\n")  # trailing blank lines are no rows
    assert read_interactions_table(path)["user_id"].tolist() == ["u1", "u1"]


def test_jsonl_missing_key_is_an_empty_field(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_text('{"user_id": "u1", "item_id": "a"}\n{"user_id": "u2"}\n')
    err = _error(read_interactions_table, path)
    assert (err.row, err.field) == (2, "item_id") and "empty id" in str(err)
