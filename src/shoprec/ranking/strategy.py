"""A strategy: the named, versioned bundle of pipeline settings (candidate sources, ranker,
re-rank weights, exploration) that experiments compare."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Strategy:
    """Pipeline settings.

    Attributes
    ----------
    name, version : identify the strategy in responses and experiments.
    n_seq, n_covis, n_text, n_trending, n_new : candidates taken from each source.
    new_window_s : an item is "new" for this long after its first upsert.
    use_ranker : score candidates with the trained ranker (else the sequence score alone,
        falling back to co-visitation, then trending).
    rerank : apply MMR, novelty and exploration (off = the ranker's order).
    mmr_lambda : relevance weight in MMR (1 = no diversity).
    novelty : bonus weight for less popular items.
    exploration : share of list slots given to new items not otherwise ranked there.
    sentiment : demotion of products whose reviews are turning negative (share of the
        candidates' score span per unit of drift).
    session_boost : relevance bonus (share of the candidates' score span) for the nearest
        neighbours of the shopper's very last item: the feed answers the last click at once.
    n_session : how many of the last item's neighbours get the bonus.
    session_slots : the nearest this many of those neighbours rank no lower than the 4th,
        9th, 14th, ... positions (one in five; 4 of a 20-item feed), even when the bonus
        alone does not lift them that far (diversity demotes near-duplicates).
    """

    name: str = "default"
    version: int = 1
    n_seq: int = 100
    n_covis: int = 50
    n_text: int = 30
    n_trending: int = 30
    n_new: int = 20
    new_window_s: float = 7 * 86400.0
    use_ranker: bool = True
    rerank: bool = True
    mmr_lambda: float = 0.9
    novelty: float = 0.02
    exploration: float = 0.05
    sentiment: float = 0.3
    session_boost: float = 0.1
    n_session: int = 10
    session_slots: int = 10

    def __post_init__(self) -> None:
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ValueError("mmr_lambda must be in [0, 1]")
        if not 0.0 <= self.exploration <= 0.5:
            raise ValueError("exploration must be in [0, 0.5]")
        counts = (self.n_seq, self.n_covis, self.n_text, self.n_trending, self.n_new)
        if min(counts) < 0:
            raise ValueError("candidate counts must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)
