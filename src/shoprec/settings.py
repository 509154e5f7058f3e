"""Service-wide settings, read once from ``SHOPREC_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: A shop-declared event type's name (stored in the event log, sent by the shop).
EventTypeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class DeclaredEventType(BaseModel):
    """One of ``SHOPREC_EVENT_TYPES``: how much the event says and what it means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: float = Field(ge=0, allow_inf_nan=False, description="Interest weight (view = 1).")
    role: Literal["positive", "purchase", "negative", "neutral"] = "positive"


class Settings(BaseSettings):
    """Typed settings; unknown ``SHOPREC_*`` keys are ignored by the environment source,
    but keyword arguments are checked (``extra="forbid"``)."""

    model_config = SettingsConfigDict(env_prefix="SHOPREC_", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default=Path("../shared/data"), description="Folder of the public datasets (read in place)."
    )
    require_data: bool = Field(
        default=False, description="Fail instead of skipping when data_dir is missing (CI)."
    )
    artifacts_dir: Path = Field(default=Path("artifacts"), description="Trained artifacts.")
    text_cache: Path = Field(
        default=Path("artifacts/text_cache.npz"), description="Item text vectors by content hash."
    )
    seed: int = Field(default=42, description="Global random seed.")
    threads: int = Field(
        default=0,
        ge=0,
        description="Torch threads for training and encoding; 0 = the cores this process may use "
        "less those other processes keep busy (1-minute load average), at least 1.",
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description="Text encoder and sentiment precision: auto = bf16 only where the CPU has "
        "native bf16 units (AMX or AVX512-BF16) or on a GPU that supports it, else fp32.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="Where encoding, sequence-model training and sentiment fine-tuning run: "
        "auto = CUDA when torch sees one, else CPU. Serving always runs on CPU.",
    )
    durability: Literal["fsync", "os"] = Field(
        default="fsync",
        description="Embedded event log: fsync = an acknowledged event survives a power cut "
        "(SQLite synchronous=FULL); os = it survives a process crash only (synchronous=NORMAL).",
    )
    clock: Literal["auto", "wall", "data"] = Field(
        default="auto",
        description="The engine's clock (decay, trending, new arrivals): wall = the wall clock, "
        "no event moves it (a live shop); data = the latest accepted event time (a historic "
        "dataset replayed, the demo, benchmarks); auto = data when `shoprec serve` is given "
        "--dataset, else wall. See docs/operations.md, 'The clock'.",
    )
    max_future_skew_s: float | None = Field(
        default=None,
        gt=0,
        description="An event timed more than this many seconds ahead of the engine's clock is "
        "refused (422 naming events.N.timestamp); unset = 300 under the wall clock, 86400 "
        "under the data clock.",
    )
    retain_days: float | None = Field(
        default=None,
        gt=0,
        description="Events older than this many days before the engine's clock are refused "
        "(422; shoprec import: exit 2); unset = no lower bound. The same window drops them "
        "from the log: `shoprec compact`, and `shoprec serve` every SHOPREC_COMPACT_EVERY_S.",
    )
    compact_every_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often `shoprec serve` tidies in the background: anonymous sessions idle "
        "for a week leave the embedded store (as their Redis keys expire), and with "
        "SHOPREC_RETAIN_DAYS set the log drops the events older than the window, as `shoprec "
        "compact` does (one worker or replica per round over Redis). See docs/operations.md, "
        "'Retention'.",
    )

    write_keys: str = Field(
        default="",
        description="Comma-separated API keys for write endpoints (events, items, erasure, "
        "tokens). With no key of any kind configured the whole API is open (development); once "
        "any key or the token secret is, a level without keys accepts only higher keys: see "
        "docs/security.md.",
    )
    admin_keys: str = Field(
        default="",
        description="Comma-separated API keys for admin endpoints (rules, experiments, "
        "audiences, messages, any shopper's export). Never open once any key is configured: "
        "without admin keys, admin endpoints answer 403.",
    )
    read_keys: str = Field(
        default="",
        description="Comma-separated keys required on catalog reads (empty = catalog reads "
        "open). A shopper's own data always needs a key or that shopper's token once any key "
        "is configured.",
    )
    shopper_token_secret: str = Field(
        default="",
        description="The shop's secret (at least 32 characters) that signs shopper tokens "
        "(HS256 JWTs naming one shopper or anonymous session); empty = no tokens. Keep it "
        "as secret as the admin keys.",
    )
    shopper_token_max_ttl_s: int = Field(
        default=3600,
        ge=1,
        le=7 * 86400,
        description="The longest a shopper token may live; a token minted for longer is "
        "refused (the storefront's own tokens live min(900 s, this)).",
    )
    storefront: bool = Field(
        default=True,
        description="Serve the demo storefront page at / (false: 404). With keys configured "
        "it lists no shopper ids and shows one shopper through that shopper's token.",
    )
    rate_limit_per_s: float = Field(
        default=0.0,
        ge=0,
        description="Requests/s per caller (verified key, shopper token's shopper, else client "
        "address); 0 = off. Shared by the workers through Redis when the store is Redis.",
    )
    rate_limit_burst: int = Field(
        default=100,
        ge=1,
        description="Requests a caller may send at once: the limit is this many per "
        "window of burst / rate_limit_per_s seconds, starting at the caller's first request.",
    )
    max_body_bytes: int = Field(default=4_000_000, ge=1024, description="Request body limit.")
    max_concurrency: int = Field(
        default=256, ge=1, description="Connections and requests open per process (more: 503)."
    )
    access_log: bool = Field(
        default=True,
        description="One JSON line per request on stdout (request id, route, status, time).",
    )
    page_ttl_s: float = Field(
        default=1800.0,
        gt=0,
        le=7 * 86400,
        description="How long a served list (its recommendation_id) remembers the items it "
        "showed after its latest page: a next page (cursor or offset) never repeats them.",
    )
    page_max_lists: int = Field(
        default=50_000,
        ge=1,
        description="Served lists remembered per process (embedded store; the least recently "
        "used go first beyond it). Under Redis each is kept page_ttl_s.",
    )

    event_types: dict[EventTypeName, DeclaredEventType] = Field(
        default={},
        description="The shop's own event types besides the built-in ones, as JSON: "
        '`{"wishlist": {"weight": 2, "role": "positive"}, "dislike": {"weight": 1, "role": '
        '"negative"}}`. Roles: positive (an interest, like view), purchase (also bought: '
        "never recommended again, an experiment's purchase), negative (interest tags lose the "
        "weight), neutral (stored only). Unknown types are refused (422).",
    )

    redis_prefix: str = Field(
        default="shoprec:", min_length=1, description="Key prefix of the Redis stores (one shop)."
    )
    redis_timeout_s: float = Field(
        default=0.5, gt=0, le=30, description="Redis socket timeouts: how long a request waits."
    )
    promote_tolerance: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="Promotion gate: a new bundle is published unless its held-out NDCG@10 is "
        "below the served bundle's by more than this (absolute).",
    )
    ann_min_items: int = Field(
        default=50_000,
        ge=0,
        description="Catalog size from which text neighbours, semantic search and the sequence "
        "model's retrieval go through an approximate index (faiss IVF) instead of exact scans; "
        "0 = always.",
    )

    @field_validator("shopper_token_secret")
    @classmethod
    def _long_secret(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("at least 32 characters (HS256 needs a key as long as its hash)")
        return value

    def has_data(self) -> bool:
        """Whether the public data folder is present."""
        return (self.data_dir / "amazon_beauty" / "interactions.csv").is_file()
