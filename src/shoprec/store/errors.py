"""Errors every store backend raises, importable without any backend's client library."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The store cannot be reached now; retry after ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
