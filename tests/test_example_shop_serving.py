"""The README's `shoprec serve --dataset examples/shop --quick`: a catalog of 11 products is
smaller than the neighbour tables (50 per item), and the engine still builds and answers."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from shoprec.data.datasets import load_dataset
from shoprec.serving.app import create_app
from shoprec.serving.build import build_engine
from shoprec.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_tiny_example_shop_is_served(tmp_path: Path) -> None:
    settings = Settings(artifacts_dir=tmp_path / "artifacts", text_cache=tmp_path / "text.npz")
    data = load_dataset(str(ROOT / "examples" / "shop"), settings)
    built = build_engine(
        data, settings, store=tmp_path / "store", quick=True, train_seconds=20, progress=False
    )
    client = TestClient(create_app(built.engine))
    body = client.get("/v1/users/u-1001/recommendations?n=3").json()
    assert body["fallback"] is None and len(body["items"]) == 3
    assert all(i["reasons"] for i in body["items"])
    similar = client.get("/v1/items/CF-ETH-250/similar?n=3").json()["items"]
    assert similar and "CF-ETH-250" not in [i["item_id"] for i in similar]
