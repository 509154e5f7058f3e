"""Dataset loaders: built-in public sets under ``SHOPREC_DATA_DIR`` and shop export folders."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from shoprec.data.interactions import SequenceData
from shoprec.data.records import Review
from shoprec.data.sequences import build_sequence_data
from shoprec.data.synthetic import generate
from shoprec.settings import Settings

log = logging.getLogger(__name__)

#: Built-in dataset names -> folder under the data directory.
BUILTIN = {"amazon-beauty": "amazon_beauty", "diginetica": "diginetica_sample"}
#: The formats a shop folder's files may take; each file name takes exactly one.
FOLDER_FORMATS = (".csv", ".jsonl", ".parquet")
#: Key of a shop folder's reviews in :attr:`SequenceData.extra` (see :func:`dataset_reviews`).
REVIEWS_KEY = "reviews"


class DataMissingError(FileNotFoundError):
    """The public data folder (or a dataset in it) is absent."""


def dataset_path(name: str, settings: Settings) -> Path:
    """Folder of a built-in dataset name or of a shop export given as a path."""
    if name in BUILTIN:
        path = settings.data_dir / BUILTIN[name]
        if not path.is_dir():
            raise DataMissingError(
                f"dataset {name!r} not found at {path} (set SHOPREC_DATA_DIR to the data folder)"
            )
        return path
    path = Path(name)
    if not path.is_dir():
        raise DataMissingError(
            f"--dataset {name!r} is neither a built-in name ({', '.join(BUILTIN)}) nor a folder"
        )
    return path


def load_dataset(name: str, settings: Settings | None = None) -> SequenceData:
    """Load ``name``: a built-in dataset or a shop folder (see :func:`load_shop_folder`)."""
    settings = settings or Settings()
    if name == "synthetic":
        return generate().to_sequence_data()
    path = dataset_path(name, settings)
    if name == "diginetica":
        return _load_diginetica(path)
    return load_shop_folder(path, name=name)


def find_table(folder: Path, stem: str, required: bool = False) -> Path | None:
    """The one file ``<stem>.csv``, ``<stem>.jsonl`` or ``<stem>.parquet`` in ``folder``.

    Two of them is an error naming both (which one the shop meant is not ours to guess); none
    is an error when ``required``, else ``None``.
    """
    from shoprec.data.readers import DataFormatError

    found = [
        folder / f"{stem}{ext}" for ext in FOLDER_FORMATS if (folder / f"{stem}{ext}").is_file()
    ]
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise DataFormatError(folder, None, None, f"{names} both present: keep exactly one")
    if not found and required:
        names = ", ".join(f"{stem}{ext}" for ext in FOLDER_FORMATS)
        raise DataFormatError(folder, None, None, f"no {stem} file (one of {names})")
    return found[0] if found else None


def load_shop_folder(path: Path | str, name: str | None = None) -> SequenceData:
    """Read a shop export; each file may be CSV, JSONL or Parquet (``<name>.csv``,
    ``<name>.jsonl`` or ``<name>.parquet``, one per name).

    - ``interactions``: ``user_id, item_id`` and optional ``timestamp``, ``position``, ``type``;
    - ``items`` (optional): ``item_id`` and optional ``title, description, category, brand,
      price, in_stock``; other columns become item attributes;
    - ``reviews`` (optional): ``user_id, item_id, text, timestamp`` and optional ``review_id,
      rating``; every reviewed item must be in ``items`` or ``interactions``. The reviews ride
      in ``extra`` (:func:`dataset_reviews`), whence serving imports them as review events.

    Order within a user is ``position`` when present, else ``timestamp``, else file order.
    """
    from shoprec.data.readers import (
        DataFormatError,
        read_interactions_table,
        read_items_table,
        read_reviews,
    )

    path = Path(path)
    inter_file = find_table(path, "interactions", required=True)
    assert inter_file is not None  # required=True raised otherwise
    inter = read_interactions_table(inter_file)
    items_file = find_table(path, "items")
    catalog_rows = read_items_table(items_file) if items_file else None
    data = build_sequence_data(inter, catalog_rows, name=name or str(path))
    reviews_file = find_table(path, "reviews")
    if reviews_file:
        reviews = read_reviews(reviews_file)
        for row, review in enumerate(reviews, start=1):
            if review.item_id not in data.items:
                raise DataFormatError(
                    reviews_file,
                    row,
                    "item_id",
                    f"unknown item {review.item_id!r} (in neither items nor interactions)",
                )
        data.extra[REVIEWS_KEY] = reviews
    return data


def dataset_reviews(data: SequenceData) -> list[Review]:
    """The reviews loaded with ``data`` (a shop folder's reviews file), in file order; empty
    when it had none."""
    reviews = data.extra.get(REVIEWS_KEY, [])
    if not isinstance(reviews, list) or not all(isinstance(r, Review) for r in reviews):
        raise TypeError(f"SequenceData.extra[{REVIEWS_KEY!r}] must be a list of Review")
    return list(reviews)


def _load_diginetica(path: Path) -> SequenceData:
    """DIGINETICA views: sessions become the sequence owners (``user_id`` is mostly ``NA``)."""
    df = pd.read_csv(path / "item_views.csv", sep=";", dtype={"item_id": str, "session_id": str})
    day = pd.to_datetime(df["eventdate"]).astype("int64") / 1e9
    inter = pd.DataFrame(
        {
            "user_id": "session-" + df["session_id"],
            "item_id": df["item_id"],
            "timestamp": day + df["timeframe"] / 1000.0,
        }
    )
    return build_sequence_data(inter, None, name="diginetica")
