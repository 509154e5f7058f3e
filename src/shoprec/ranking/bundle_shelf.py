"""The bundles trained from one store, and which of them is published (served).

Where they are (docs/bundles.md):

- a folder store ``S``: bundles in ``S/bundles/<version>/``, the pointer in
  ``S/bundles/published.json``;
- a Redis store: bundles in ``<SHOPREC_ARTIFACTS_DIR>/bundles/redis-<host>-<port>-<db>/``
  (shared storage when replicas run on other machines), the pointer in the Redis key
  ``<SHOPREC_REDIS_PREFIX>bundle:published`` so every replica sees a publish at once.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shoprec.ranking.bundle_io import FittedBundle, load_bundle, read_manifest
from shoprec.settings import Settings
from shoprec.store import locate
from shoprec.store.bundle_pointer import HISTORY, FilePointer, Pointer, RedisPointer

log = logging.getLogger(__name__)

#: The pointer's key under the store's Redis prefix.
POINTER_KEY = "bundle:published"
DEFAULT_PREFIX = "shoprec:"


def redis_root(url: str, prefix: str, artifacts_dir: Path) -> Path:
    """The bundle folder of the Redis store at ``url``: one per server, database and (when not
    the default) key prefix, so shops that share a Redis keep their bundles apart."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        name = "redis-unix-" + re.sub(r"[^A-Za-z0-9]+", "_", parts.path).strip("_")
    else:
        db = (parts.path or "/0").strip("/") or "0"
        name = f"redis-{parts.hostname or 'localhost'}-{parts.port or 6379}-{db}"
    if prefix != DEFAULT_PREFIX:
        name += "-" + (re.sub(r"[^A-Za-z0-9]+", "_", prefix).strip("_") or "_")
    return Path(artifacts_dir) / "bundles" / name


class BundleShelf:
    """The bundles of one store and its published pointer."""

    def __init__(self, root: Path, pointer: Pointer) -> None:
        self.root = Path(root)
        self.pointer = pointer

    @classmethod
    def for_store(cls, store: str | Path, settings: Settings) -> BundleShelf:
        at = locate(store)
        if at.folder is not None:
            root = at.folder / "bundles"
            return cls(root, FilePointer(root / "published.json"))
        from shoprec.store.redis_health import connect

        assert at.redis_url is not None
        client = connect(at.redis_url, settings.redis_timeout_s)
        pointer = RedisPointer(client, settings.redis_prefix + POINTER_KEY)
        return cls(redis_root(at.redis_url, settings.redis_prefix, settings.artifacts_dir), pointer)

    def path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise ValueError(f"not a bundle version: {version!r}")
        return self.root / version

    def exists(self, version: str) -> bool:
        return (self.path(version) / "manifest.json").is_file()

    def versions(self) -> list[dict[str, Any]]:
        """The complete bundles' manifests, newest first, with ``"published": bool`` added."""
        if not self.root.is_dir():
            return []
        current = self.published()
        out = []
        for d in sorted(self.root.iterdir(), key=lambda p: p.name, reverse=True):
            if d.name.startswith(".") or not (d / "manifest.json").is_file():
                continue  # a bundle being written, or not a bundle
            manifest = read_manifest(d)
            manifest["version"] = d.name
            out.append(manifest | {"published": d.name == current})
        return out

    def pointer_value(self) -> dict[str, Any] | None:
        """The pointer as stored (version, at, reason, history), or None."""
        return self.pointer.read()

    def published(self) -> str | None:
        """The published version, or None (nothing published yet)."""
        value = self.pointer.read()
        return None if value is None else value["version"]

    def load(self, version: str) -> FittedBundle:
        return load_bundle(self.path(version))

    def publish(self, version: str, reason: str) -> None:
        """Make ``version`` the served bundle; the one served before goes to the history."""
        if not self.exists(version):
            raise ValueError(f"no bundle {version!r} in {self.root}")
        old = self.pointer.read()
        history: list[str] = []
        if old is not None:
            history = [old["version"], *old.get("history", [])]
        history = [v for v in dict.fromkeys(history) if v != version][:HISTORY]
        self._write(version, reason, history)
        log.info("published bundle %s (%s)", version, reason)

    def rollback(self) -> str:
        """Republish the version served before the current one; returns it."""
        old = self.pointer.read()
        history = [] if old is None else [v for v in old.get("history", []) if self.exists(v)]
        if old is None or not history:
            raise ValueError("no earlier published bundle to roll back to")
        version = history[0]
        self._write(version, f"rollback from {old['version']}", history[1:])
        log.info("rolled back from bundle %s to %s", old["version"], version)
        return version

    def _write(self, version: str, reason: str, history: list[str]) -> None:
        value = {"version": version, "at": time.time(), "reason": reason, "history": history}
        self.pointer.write(value)
