"""The ``shoprec`` command line (entry point ``shoprec.cli:main``).

Commands: demo, serve and export-events (``serving.py``); import (``importing.py``); compact
(``compact.py``);
recommend (``recommend.py``); token (``token.py``); train, train-sentiment, evaluate and bench
(``offline.py``);
experiments tune (``tune.py``); what they share (console, set-up, loading a dataset, opening a
store) is ``common.py``. The top-level help is :data:`HELP`.

The command line is the top layer: it may import every other package of shoprec, and none
imports it. Heavy imports stay inside the commands, so ``shoprec --help`` starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec.cli import compact, importing, offline, recommend, serving, tune
from shoprec.cli.bundles import app as bundles_app
from shoprec.cli.token import token
from shoprec.cli.trainer import trainer

#: The top-level ``shoprec --help`` text.
HELP = """shoprec: self-hosted recommendations for a shop.

Serving: demo (quick training, then the API), serve, recommend (feeds of a list of shoppers
to a JSON-lines file).
Bundles: train --store S (every served model from the store's log, as a versioned bundle
published if it is not worse than the served one), bundles list, bundles promote VERSION,
bundles rollback.
Offline: train, train-sentiment, evaluate, bench.
Retraining: serve --retrain-every 6h, or trainer --store S --every 6h beside the servers.
Operations: import (a shop's files into its store), compact (drop events older than the
retention window), export-events (Redis stream to a training file), experiments tune
(off-policy), token (a shopper token for a shopper's browser).
"""

app = typer.Typer(add_completion=False, no_args_is_help=True, help=HELP)


def _print_version(value: bool) -> None:
    if value:
        from shoprec import __version__  # the installed distribution's metadata

        typer.echo(f"shoprec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    # the options every command shares; the commands' help comes from HELP
    pass


# registered in the order ``shoprec --help`` lists them
app.command()(offline.evaluate)
app.command()(offline.train)
app.command()(serving.demo)
app.command("train-sentiment")(offline.train_sentiment)
app.command()(serving.serve)
app.command()(recommend.recommend)
app.command("import")(importing.import_)
app.command()(compact.compact)
app.command("export-events")(serving.export_events)
app.command()(token)
app.command()(offline.bench)
app.command()(trainer)

app.add_typer(bundles_app, name="bundles")

experiments_app = typer.Typer(no_args_is_help=True, help="A/B experiments and tuning.")
app.add_typer(experiments_app, name="experiments")
experiments_app.command("tune")(tune.experiments_tune)


def main() -> None:
    app()
