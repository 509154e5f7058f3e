"""Versioned bundles on disk: what one training run produced, saved as one folder.

A bundle folder ``<root>/<version>/`` holds each model in its own artifact format
(``sasrec/``: safetensors, ``itemknn/`` and ``ranker/``: npz, ``popularity.npy``), the model
item ids (``item_ids.json``) and ``manifest.json``, written last. The folder is built under
``<root>/.tmp-<version>`` and renamed into place, so a reader sees either no bundle or a
complete one. :func:`align` turns a loaded bundle into the :class:`ModelBundle` serving reads,
against the live catalog (items added since training get text vectors only).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shoprec.compute.ann import AnnIndex
from shoprec.models.itemknn import ItemKNN
from shoprec.models.ranker import Ranker
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.ranking import indexes as ann
from shoprec.ranking.bundle import ModelBundle, build_bundle
from shoprec.ranking.catalog import Catalog

#: The version of a bundle that holds no trained model (an empty store's).
NO_BUNDLE = "none"
#: The bundle folder's layout version (in its manifest).
FORMAT = 1
MANIFEST = "manifest.json"


def new_version(now: float | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-<6 hex>``: sortable by creation time, unique across machines."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass
class FittedBundle:
    """One training run's models in the model's own item-id space (row k = item_ids[k-1])."""

    item_ids: list[str]
    sasrec: SASRecRecommender | None
    itemknn: ItemKNN | None
    popularity: np.ndarray | None  # (len(item_ids)+1,) interaction counts
    ranker: Ranker | None
    manifest: dict = field(default_factory=dict)
    #: the approximate indexes of a large catalog (``ann/``), labelled by the indices of the
    #: catalog they were built on, whose ids are ``index_items`` (row 0 padding)
    indexes: dict[str, AnnIndex] = field(default_factory=dict)
    index_items: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", NO_BUNDLE))


def save_bundle(fitted: FittedBundle, root: Path) -> Path:
    """Write ``fitted`` to ``root/<version>`` (a version is given if the manifest has none);
    the folder appears complete or not at all. Returns the folder."""
    root = Path(root)
    if "version" not in fitted.manifest:
        fitted.manifest["version"] = new_version()
    fitted.manifest.setdefault("created", time.time())
    version = fitted.version
    final = root / version
    if final.exists():
        raise FileExistsError(f"bundle {version} already exists in {root}")
    tmp = root / f".tmp-{version}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if fitted.sasrec is not None:
            fitted.sasrec.save(tmp / "sasrec")
        if fitted.itemknn is not None:
            fitted.itemknn.save(tmp / "itemknn")
        if fitted.ranker is not None:
            fitted.ranker.save(tmp / "ranker")
        if fitted.popularity is not None:
            pop = np.asarray(fitted.popularity, np.float64)
            np.save(tmp / "popularity.npy", pop, allow_pickle=False)
        (tmp / "item_ids.json").write_text(json.dumps(list(fitted.item_ids)))
        if fitted.indexes:
            (tmp / "ann").mkdir()
            (tmp / "ann" / "items.json").write_text(json.dumps(list(fitted.index_items)))
            for name, index in fitted.indexes.items():
                index.save(tmp / "ann" / f"{name}.npz")
        parts = sorted(p.name for p in tmp.iterdir() if p.name != "item_ids.json")
        manifest = {
            **fitted.manifest,
            "format": FORMAT,
            "items": len(fitted.item_ids),
            "parts": parts,  # a copy missing one is refused, not served without that model
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_manifest(path: Path) -> dict:
    """The manifest of the bundle folder ``path`` (``FileNotFoundError`` if incomplete)."""
    return json.loads((Path(path) / MANIFEST).read_text())


def load_bundle(path: Path) -> FittedBundle:
    """Inverse of :func:`save_bundle`; a folder without a manifest is not a bundle."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: unsupported bundle format {manifest.get('format')!r}")
    missing = [part for part in manifest.get("parts", []) if not (path / part).exists()]
    if missing:
        raise FileNotFoundError(f"{path}: incomplete bundle, missing {', '.join(missing)}")
    item_ids = json.loads((path / "item_ids.json").read_text())
    pop = path / "popularity.npy"
    indexes = {
        name: AnnIndex.load(path / "ann" / f"{name}.npz")
        for name in ann.NAMES
        if (path / "ann" / f"{name}.npz").is_file()
    }
    index_items = json.loads((path / "ann" / "items.json").read_text()) if indexes else []
    return FittedBundle(
        item_ids=item_ids,
        sasrec=SASRecRecommender.load(path / "sasrec") if (path / "sasrec").is_dir() else None,
        itemknn=ItemKNN.load(path / "itemknn") if (path / "itemknn").is_dir() else None,
        popularity=np.load(pop, allow_pickle=False) if pop.is_file() else None,
        ranker=Ranker.load(path / "ranker") if (path / "ranker").is_dir() else None,
        manifest=manifest,
        indexes=indexes,
        index_items=index_items,
    )


def align(fitted: FittedBundle, catalog: Catalog) -> ModelBundle:
    """The bundle serving reads, in ``catalog``'s indices (its version and manifest kept)."""
    bundle = build_bundle(
        catalog,
        fitted.sasrec,
        fitted.itemknn,
        fitted.ranker,
        fitted.item_ids,
        fitted.popularity,
        version=fitted.version,
        saved_indexes=ann.relabelled(fitted.indexes, fitted.index_items, catalog.index),
    )
    bundle.meta = dict(fitted.manifest)
    return bundle


def empty_bundle(catalog: Catalog) -> ModelBundle:
    """No trained models (an empty store): text neighbours only, version ``"none"``; feeds
    come from trending and new arrivals."""
    return build_bundle(catalog, None, None, None, [], None, version=NO_BUNDLE)
