"""Safe model artifacts: numpy arrays in ``arrays.npz`` (no pickle) plus ``manifest.json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1


def write_arrays(path: Path, name: str, config: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` and a manifest naming the model, the format and its config."""
    path.mkdir(parents=True, exist_ok=True)
    np.savez(path / "arrays.npz", allow_pickle=False, **arrays)
    manifest = {"model": name, "format": FORMAT_VERSION, "config": config}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def read_arrays(path: Path, name: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Inverse of :func:`write_arrays`; a different model or format is a ``ValueError``."""
    manifest = json.loads((path / "manifest.json").read_text())
    if manifest.get("model") != name:
        raise ValueError(f"{path} holds a {manifest.get('model')!r} model, not {name!r}")
    if manifest.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported artifact format {manifest.get('format')!r}")
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        arrays = {key: z[key] for key in z.files}
    return manifest, arrays
