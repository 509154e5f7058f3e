"""The serving bench's view-freshness trial, in-process and over many seeds: how often does a
viewed item's neighbours' rank sum in a 50-item feed NOT improve in the very next request?

Each trial, as in ``bench/serving.py``: a random Beauty shopper's feed (n=50), the item at
position 30 is viewed, its 10 neighbours are those ``/similar?user_id=`` names (in stock, not
bought by the shopper), the feed is asked again. A miss prints the neighbours' ranks before and
after. No sockets: the engine is called directly, so thousands of trials take minutes.

    .venv/bin/python bench/freshness_trials.py [--trials 1500] [--seeds 7 8 9]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from shoprec.data.records import Event, EventType

sys.path.insert(0, str(Path(__file__).parent))
from inprocess import quick_engine  # noqa: E402  (bench/ is not a package)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--trials", type=int, default=1500)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    args = ap.parse_args()
    with quick_engine(args.dataset) as (data, engine):
        ids = engine.catalog.ids
        users = data.users.to_list()
        total = missed = 0
        for seed in args.seeds:
            rng = random.Random(seed)
            misses = 0
            for k in range(args.trials):
                user = rng.choice(users)
                before = [ids[r.index] for r in engine.recommend(user, 50).items]
                item = before[min(len(before) - 1, 30)]
                near = [ids[j] for j, _, _ in engine.similar(item, 10, user)]
                ev = Event(user, item, EventType.VIEW, engine.clock + 1, event_id=f"f{seed}-{k}")
                engine.ingest([ev])
                after = [ids[r.index] for r in engine.recommend(user, 50).items]

                def rank(lst: list[str], x: str) -> int:
                    return lst.index(x) if x in lst else len(lst)

                if sum(rank(before, x) - rank(after, x) for x in near) <= 0:
                    misses += 1
                    ranks = [(rank(before, x), rank(after, x)) for x in near]
                    print(f"  miss: seed {seed} trial {k} {user} viewed {item}: {ranks}")
            print(f"seed {seed}: neighbours rose in {args.trials - misses} of {args.trials}")
            total += args.trials
            missed += misses
        print(f"all seeds: {total - missed} of {total} ({100 * (total - missed) / total:.2f}%)")


if __name__ == "__main__":
    main()
