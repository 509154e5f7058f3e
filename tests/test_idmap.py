"""IdMap: a growable bijection external id <-> 1..n with 0 reserved for padding."""

from __future__ import annotations

import numpy as np
import pytest

from shoprec.data.idmap import IdMap


def test_grows_in_first_seen_order() -> None:
    m = IdMap()
    assert len(m) == 0
    assert [m.add(x) for x in ["sku-b", "sku-a", "sku-b", "sku-c"]] == [1, 2, 1, 3]
    assert len(m) == 3 and "sku-a" in m and "sku-z" not in m
    assert m.index("sku-c") == 3 and m.external(2) == "sku-a"


def test_zero_is_reserved_for_padding() -> None:
    m = IdMap(["a", "b"])
    assert min(m.index(x) for x in m.to_list()) == 1
    assert m.get("unknown") == 0 and m.get("unknown", -1) == -1
    with pytest.raises(KeyError):
        m.external(0)
    with pytest.raises(KeyError):
        m.external(-1)
    with pytest.raises(KeyError):
        m.index("unknown")


def test_round_trips() -> None:
    m = IdMap(["x", "y", "z"])
    ids = np.array([3, 1, 2], dtype=np.int64)
    assert m.externals(ids) == ["z", "x", "y"]
    assert [m.index(e) for e in m.externals(ids)] == ids.tolist()
    again = IdMap.from_list(m.to_list())
    assert again.to_list() == ["x", "y", "z"]
    assert all(again.index(e) == m.index(e) for e in m.to_list())


def test_from_list_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        IdMap.from_list(["a", "b", "a"])


def test_new_ids_after_load_extend_the_map() -> None:
    m = IdMap.from_list(["a", "b"])
    assert m.add("c") == 3 and m.add("a") == 1 and m.to_list() == ["a", "b", "c"]
