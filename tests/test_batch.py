"""Batch feeds: ``POST /v1/recommendations/batch`` answers each shopper exactly as the single
feed call does, streamed as JSON lines; more than 10,000 shoppers is a 422 naming user_ids;
``shoprec recommend``'s CSV reading."""

from __future__ import annotations

import json

import httpx

from shoprec.serving.batch import read_user_ids

#: Differs by call by design (a fresh id per answer), where the answer carries one.
PER_CALL = ("recommendation_id",)


def _same(a: dict) -> dict:
    return {k: v for k, v in a.items() if k not in PER_CALL}


def test_batch_lines_equal_single_calls(client, built) -> None:
    users = [u for u in built.engine.states.users() if not u.startswith("session:")][:6]
    users += ["nobody-batch-24d", users[0]]  # an unknown shopper; a repeated one
    r = client.post("/v1/recommendations/batch", json={"user_ids": users, "n": 7})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [x["user_id"] for x in lines] == users
    for line in lines:
        single = client.get(f"/v1/users/{line['user_id']}/recommendations", params={"n": 7})
        assert _same(line) == _same(single.json())
        assert len(line["items"]) == 7


def test_batch_limits_are_422_naming_the_field(client) -> None:
    many = {"user_ids": [f"u{i}" for i in range(10_001)]}
    r = client.post("/v1/recommendations/batch", json=many)
    assert r.status_code == 422 and r.json()["error"].startswith("user_ids"), r.text
    for body, field in (({"user_ids": []}, "user_ids"), ({"user_ids": ["a"], "n": 0}, "n")):
        r = client.post("/v1/recommendations/batch", json=body)
        assert r.status_code == 422 and r.json()["error"].startswith(field), r.text


def test_users_csv_reading() -> None:
    assert read_user_ids(["user_id,segment\n", "a,x\n", "\n", "b,y\n"]) == ["a", "b"]
    assert read_user_ids(["a\n", " b \n"]) == ["a", "b"]
    assert read_user_ids(["email,user_id\n", "m,c\n"]) == ["c"]


def test_batch_streams_through_a_real_server(live_server: str, built) -> None:
    known = [u for u in built.engine.states.users() if not u.startswith("session:")][:2]
    users = [*known, "batch-24d-unknown"]
    with httpx.Client(base_url=live_server, timeout=30) as c:
        with c.stream("POST", "/v1/recommendations/batch", json={"user_ids": users, "n": 5}) as r:
            assert r.status_code == 200
            lines = [json.loads(x) for x in r.iter_lines() if x]
        assert [x["user_id"] for x in lines] == users
        for line in lines:
            single = c.get(f"/v1/users/{line['user_id']}/recommendations", params={"n": 5})
            assert _same(line) == _same(single.json())


def test_recommend_command_writes_the_batch_lines(client, built, tmp_path, monkeypatch) -> None:
    """``shoprec recommend`` over the session's engine (its build replaced: the command's
    own part is reading the CSV, the progress bar and writing the same lines)."""
    from typer.testing import CliRunner

    import shoprec.cli.recommend as command
    import shoprec.serving.build as build
    from shoprec.cli import app

    monkeypatch.setattr(build, "build_engine", lambda *a, **k: built)
    monkeypatch.setattr(command, "load", lambda *a, **k: None)
    users = [u for u in built.engine.states.users() if not u.startswith("session:")][:3]
    csv = tmp_path / "users.csv"
    csv.write_text("user_id\n" + "\n".join(users) + "\n")
    out = tmp_path / "recs.jsonl"
    run = CliRunner().invoke(app, ["recommend", "--users", str(csv), "--out", str(out), "--n", "4"])
    assert run.exit_code == 0, run.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["user_id"] for x in lines] == users
    for line in lines:
        single = client.get(f"/v1/users/{line['user_id']}/recommendations", params={"n": 4})
        assert _same(line) == _same(single.json())
    empty = tmp_path / "empty.csv"
    empty.write_text("user_id\n")
    bad = CliRunner().invoke(app, ["recommend", "--users", str(empty), "--out", str(out)])
    assert bad.exit_code != 0 and "no shopper ids" in bad.output


def test_a_chunk_encoded_together_answers_as_each_shopper_alone(built) -> None:
    """The batch's stacked work (one encoder pass per history length for a chunk's shoppers,
    their leave-one-out vectors, their catalog rows) gives every shopper exactly the numbers
    of the single call's own pass: lines equal field by field, scores and reasons included,
    whatever the chunk size."""
    import numpy as np
    import orjson

    from shoprec.serving.batch import feed_body, feed_chunks

    engine = built.engine
    users = [u for u in engine.states.users() if not u.startswith("session:")][:40]
    enc = engine.bundle.encoder
    assert enc is not None
    reqs = [engine.recommender.request_for(engine.states.get(u)) for u in users]
    hists = [r.history[r.history < engine.bundle.n_rows] for r in reqs]
    times = [
        r.times[-len(h) :] if r.times is not None and len(h) else None
        for r, h in zip(reqs, hists, strict=True)
    ]
    assert len({len(h) for h in hists}) > 1  # histories of several lengths share the chunk
    together = enc.encode_many(hists, times)
    loo = enc.leave_one_out(hists, times, 20)
    for k, (h, t) in enumerate(zip(hists, times, strict=True)):
        assert np.array_equal(together[k], enc.user_vector(h, t))
        assert np.array_equal(loo[k], enc.leave_one_out([h], [t], 20)[0])
    from shoprec.ranking.batched import _heads, covis_many
    from shoprec.ranking.candidates import COVIS_RECENT, _covis, _head_values

    recents = [h[::-1][:COVIS_RECENT] for h in hists]
    for cv, recent in zip(covis_many(engine.bundle, recents), recents, strict=True):
        assert cv is not None and all(map(np.array_equal, cv, _covis(engine.bundle, recent)))
    rows = np.stack([enc.scores(h, t) for h, t in zip(hists, times, strict=True)])
    assert all(map(np.array_equal, _heads(rows, 50), (_head_values(r, 50) for r in rows)))
    alone = [_same(orjson.loads(orjson.dumps(feed_body(engine, u, 6)))) for u in users]
    for chunk in (1, 7, len(users)):
        lines = b"".join(feed_chunks(engine, users, 6, chunk)).splitlines()
        assert [_same(orjson.loads(x)) for x in lines] == alone
