"""Artifacts hot-reload: a newly published checkpoint is swapped in while requests keep
being answered; a broken one is refused and the old models keep serving."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from shoprec.serving.build import watch_artifacts
from shoprec.training.sasrec_job import checkpoint_dir


def test_new_checkpoint_is_swapped_in_without_failed_requests(
    built, client: TestClient, serving_root: Path
) -> None:
    from serving_fixtures import synthetic_settings

    settings = synthetic_settings(serving_root)
    watcher = watch_artifacts(built, settings, quick=True)
    watcher.stop()  # driven by hand below, deterministically
    path = checkpoint_dir(settings, built.data.name, "sasrec-quick")
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
    try:
        old = built.engine.bundle
        manifest = path / "manifest.json"
        later = time.time() + 5
        os.utime(manifest, (later, later))  # "training published a new version"
        assert watcher.check()
        assert built.engine.bundle is not old and watcher.reloads == 1
        assert not watcher.check()  # nothing new: no reload
        # a broken publication is refused; the current models keep serving
        current = built.engine.bundle
        weights = path / "model.safetensors"
        saved = weights.read_bytes()
        weights.write_bytes(b"not a checkpoint")
        os.utime(manifest, (later + 5, later + 5))
        try:
            assert not watcher.check()
            assert built.engine.bundle is current
        finally:
            weights.write_bytes(saved)
        time.sleep(0.5)
    finally:
        stop.set()
        t.join()
    assert errors == [] and len(done) > 5


def test_quick_server_takes_the_full_model_train_publishes(built, serving_root: Path) -> None:
    """``make demo`` serves the quick preset; ``shoprec train`` then publishes the full model
    for the same dataset, and the running server switches to it."""
    import shutil

    from serving_fixtures import synthetic_settings

    settings = synthetic_settings(serving_root)
    watcher = watch_artifacts(built, settings, quick=True)
    watcher.stop()
    quick = checkpoint_dir(settings, built.data.name, "sasrec-quick")
    full = checkpoint_dir(settings, built.data.name, "sasrec")
    assert not full.exists()  # the session's models are the quick preset only
    old = built.engine.bundle
    try:
        shutil.copytree(quick, full)
        later = time.time() + 60
        os.utime(full / "manifest.json", (later, later))
        assert watcher.check()
        assert watcher.path == full and built.engine.bundle is not old
        assert not watcher.check()  # the quick checkpoint, older, does not swap back
    finally:
        shutil.rmtree(full, ignore_errors=True)
