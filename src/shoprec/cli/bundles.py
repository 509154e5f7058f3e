"""``shoprec bundles list | promote VERSION | rollback --store S``: the versioned bundles
trained from a store and which one its servers serve (docs/bundles.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec.cli.common import console, setup

app = typer.Typer(no_args_is_help=True, help="Versioned model bundles: list, promote, rollback.")

Store = Annotated[str, typer.Option("--store", help="store folder or redis:// URL")]


def _shelf(store: str, verbose: bool):  # -> BundleShelf
    from shoprec.ranking.bundle_shelf import BundleShelf

    return BundleShelf.for_store(store, setup(verbose))


def _figure(manifest: dict, side: str) -> str:
    got = (manifest.get("heldout") or {}).get(side)
    return "-" if not got else f"{got['NDCG@10']:.4f}"


@app.command("list")
def list_bundles(store: Store, verbose: bool = False) -> None:
    """The store's bundles, newest first: the published one marked, the held-out NDCG@10 of
    each and of the bundle it was compared with, and the gate's decision."""
    from rich.table import Column, Table

    shelf = _shelf(store, verbose)
    rows = shelf.versions()
    if not rows:
        console.print(f"no bundles in {shelf.root}")
        return
    version = Column("version", no_wrap=True)
    table = Table("", version, "cut-off seq", "shoppers", "held-out NDCG@10", "served", "gate")
    for m in rows:
        gate = m.get("gate") or {}
        table.add_row(
            "*" if m["published"] else "",
            m["version"],
            str(m.get("cutoff_seq", "-")),
            str(m.get("shoppers", "-")),
            _figure(m, "new"),
            _figure(m, "served"),
            str(gate.get("decision", "-")),
        )
    console.print(table)
    value = shelf.pointer_value()
    if value is not None:
        console.print(f"published: {value['version']} ({value['reason']})")


@app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="the bundle to serve (see `bundles list`)")],
    store: Store,
    verbose: bool = False,
) -> None:
    """Publish VERSION whatever the gate said; servers switch to it within seconds."""
    shelf = _shelf(store, verbose)
    try:
        shelf.publish(version, "promoted by hand")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="VERSION") from exc
    console.print(f"published {version}")


@app.command("rollback")
def rollback(store: Store, verbose: bool = False) -> None:
    """Republish the bundle served before the current one."""
    shelf = _shelf(store, verbose)
    try:
        version = shelf.rollback()
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(f"published {version} again")
