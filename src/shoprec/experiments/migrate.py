"""Reading a store written before the shared index existed (one ``exp:<name>`` record per
experiment, a ``promoted`` record, no per-process totals)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from shoprec.experiments.records import Totals, user_record


def migration(pairs: list[tuple[str, dict]]) -> Callable[[dict], Mapping[str, dict]]:
    """The index change that folds an older store's ``exp:`` and ``promoted`` records
    (``pairs``: every key and record) into the index, and each experiment's totals (rebuilt
    from its shopper records) into one ``base`` shard; it does nothing when another process
    migrated first."""
    exps = {k[4:]: b for k, b in pairs if k.startswith("exp:")}
    totals: dict[str, list[Totals]] = {
        name: [Totals() for _ in body["variants"]] for name, body in exps.items()
    }
    for key, body in pairs:
        if key.startswith("user:"):
            name = key[5:].split(":", 1)[0]
            if name in totals:
                rec = user_record(body)
                totals[name][rec.variant].add(None, rec)

    def change(index: dict) -> Mapping[str, dict]:
        if index["experiments"]:  # another process migrated first
            return {}
        index["experiments"] = exps
        running = [n for n, b in exps.items() if b["status"] == "running"]
        index["running"] = running[0] if running else None
        index["promoted"] = dict(pairs).get("promoted")
        puts: dict[str, dict] = {f"shards:{n}": {"ids": ["base"]} for n in exps}
        for n, ts in totals.items():
            puts[f"totals:{n}:base"] = {"variants": [t.to_dict() for t in ts]}
        return puts

    return change
