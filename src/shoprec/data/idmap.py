"""Mapping between external ids (SKUs, user ids) and contiguous internal integers.

Internal ids start at 1: 0 is reserved for padding in sequence models.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class IdMap:
    """A growable bijection ``external id <-> 1..n``.

    Examples
    --------
    >>> m = IdMap(["a", "b"])
    >>> m.index("b"), m.external(1), len(m)
    (2, 'a', 2)
    """

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._to_int: dict[str, int] = {}
        self._to_ext: list[str] = [""]  # slot 0 = padding
        for external in ids:
            self.add(external)

    def __len__(self) -> int:
        """Number of mapped ids (padding excluded)."""
        return len(self._to_ext) - 1

    def __contains__(self, external: object) -> bool:
        return external in self._to_int

    def add(self, external: str) -> int:
        """Return the internal id of ``external``, assigning the next integer if it is new."""
        idx = self._to_int.get(external)
        if idx is None:
            idx = len(self._to_ext)
            self._to_int[external] = idx
            self._to_ext.append(external)
        return idx

    def index(self, external: str) -> int:
        """Internal id of a known external id; raises ``KeyError`` for an unknown one."""
        return self._to_int[external]

    def get(self, external: str, default: int = 0) -> int:
        """Internal id, or ``default`` (padding) when unknown."""
        return self._to_int.get(external, default)

    def external(self, idx: int) -> str:
        """External id of internal id ``idx`` (>= 1)."""
        if idx <= 0:
            raise KeyError(idx)
        return self._to_ext[idx]

    def externals(self, idx: np.ndarray) -> list[str]:
        """Vectorised :meth:`external`."""
        return [self._to_ext[int(i)] for i in idx]

    def to_list(self) -> list[str]:
        """External ids in internal order (index 0 of the list is internal id 1)."""
        return self._to_ext[1:]

    @classmethod
    def from_list(cls, ids: list[str]) -> IdMap:
        """Inverse of :meth:`to_list` (ids must be unique)."""
        m = cls(ids)
        if len(m) != len(ids):
            raise ValueError("duplicate ids in id map")
        return m
