"""What every command shares: the console, logging and thread set-up, dataset loading and
opening a store."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

from shoprec.settings import Settings

console = Console()


def setup(verbose: bool) -> Settings:
    """Logging (INFO when ``verbose``), torch threads, and the settings from the environment."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    from shoprec.compute import configure_threads

    settings = Settings()
    from shoprec.data.event_types import configure

    # SHOPREC_EVENT_TYPES: the types the API, the stores and the readers accept (forked workers
    # inherit them)
    configure({name: (t.weight, t.role) for name, t in settings.event_types.items()})
    # SHOPREC_THREADS, else the cores other processes leave free (a server beside a training run)
    n = configure_threads(settings.threads)
    logging.getLogger(__name__).info("torch threads: %d", n)
    return settings


def load(dataset: str, settings: Settings):  # -> SequenceData
    """Load ``dataset`` (a built-in name or a folder) and print its size."""
    from shoprec.data.datasets import load_dataset

    data = load_dataset(dataset, settings)
    console.print(
        f"[bold]{data.name}[/]: {data.n_users} users, {data.n_items} items, "
        f"{data.n_interactions} interactions"
    )
    return data


def open_store(where: str, settings: Settings):  # -> (EventLog, ItemStore)
    """The event log and item store at ``where``: a store folder or a Redis URL."""
    from shoprec.store import open_stores

    return open_stores(where, settings.durability, settings.redis_prefix, settings.redis_timeout_s)
