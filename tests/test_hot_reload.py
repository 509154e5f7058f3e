"""Hot reload of the published bundle: a newly published bundle is swapped in while requests
keep being answered; a broken one is refused and the served models keep serving."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from shoprec.ranking.bundle_io import MANIFEST, new_version, read_manifest
from shoprec.ranking.bundle_shelf import BundleShelf
from shoprec.serving.bundles import BundleWatcher, load_published


def _copy(shelf: BundleShelf, version: str) -> str:
    """A copy of the bundle ``version`` under a new version ("training published again")."""
    import json

    new = new_version(time.time() + 1)
    shutil.copytree(shelf.path(version), shelf.path(new))
    manifest = read_manifest(shelf.path(new)) | {"version": new}
    (shelf.path(new) / MANIFEST).write_text(json.dumps(manifest))
    return new


def test_new_bundle_is_swapped_in_without_failed_requests(
    built, client: TestClient, serving_root: Path
) -> None:
    from serving_fixtures import synthetic_settings

    shelf = BundleShelf.for_store(built.store, synthetic_settings(serving_root))
    first = shelf.published()
    assert first is not None and built.engine.bundle.version == first  # published at start-up
    watcher = BundleWatcher(
        shelf.published,
        lambda v: load_published(shelf, built.engine, v),
        built.engine.set_bundle,
        first,
    )  # not started: driven by hand below, deterministically
    users = built.data.users.to_list()
    errors, done = [], []
    stop = threading.Event()

    def load() -> None:
        k = 0
        while not stop.is_set():
            r = client.get(f"/v1/users/{users[k % len(users)]}/recommendations?n=10")
            (done if r.status_code == 200 and len(r.json()["items"]) == 10 else errors).append(k)
            k += 1

    t = threading.Thread(target=load)
    t.start()
    old = built.engine.bundle
    try:
        second = _copy(shelf, first)
        shelf.publish(second, "test: training published a new version")
        assert watcher.check()
        assert built.engine.bundle is not old and built.engine.bundle.version == second
        assert watcher.reloads == 1 and not watcher.check()  # nothing new: no reload
        # a broken publication is refused; the current models keep serving
        current = built.engine.bundle
        broken = _copy(shelf, first)
        (shelf.path(broken) / "sasrec" / "model.safetensors").write_bytes(b"not a checkpoint")
        shelf.publish(broken, "test: a broken bundle")
        assert not watcher.check()
        assert built.engine.bundle is current and watcher.failures == 1
        time.sleep(0.5)
    finally:
        stop.set()
        t.join()
        shelf.publish(first, "test: back to the session's bundle")
        built.engine.set_bundle(old)
    assert errors == [] and len(done) > 5
