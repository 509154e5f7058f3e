"""The published-bundle pointer: which trained bundle every serving process should serve.

One small JSON value, ``{"version", "at", "reason", "history": [older versions, newest
first]}``, kept beside the store it was trained from: a file in the store folder
(:class:`FilePointer`, replaced atomically) or a Redis key (:class:`RedisPointer`) that every
worker and replica polls. Reading it is cheap (a stat or a GET), so servers poll it every
couple of seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

#: Older versions kept in the pointer's history (what ``rollback`` can go back to).
HISTORY = 20


class Pointer(Protocol):
    def read(self) -> dict[str, Any] | None: ...

    def write(self, value: dict[str, Any]) -> None: ...


def parse(raw: bytes | str | None) -> dict[str, Any] | None:
    """The pointer's value, or None for no pointer or an unreadable one."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get("version"), str) else None


class FilePointer:
    """The pointer as a JSON file (``<store>/bundles/published.json``), replaced atomically so
    a reader never sees half of it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            return parse(self.path.read_bytes())
        except FileNotFoundError:
            return None

    def write(self, value: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".published-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(value, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class RedisPointer:
    """The pointer as one Redis key (``<prefix>bundle:published``), seen by every replica."""

    def __init__(self, client: Any, key: str) -> None:
        self.client, self.key = client, key

    def read(self) -> dict[str, Any] | None:
        return parse(self.client.get(self.key))

    def write(self, value: dict[str, Any]) -> None:
        self.client.set(self.key, json.dumps(value))
