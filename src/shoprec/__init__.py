"""shoprec: real-time personalisation for e-commerce.

The packages are layered; each imports only from those below it (``.importlinter`` states the
contracts, ``docs/architecture.md`` draws them): ``cli``; ``serving``; ``evaluation``;
``training``, ``experiments``, ``marketing``; ``nlp``; ``ranking``; ``online``; ``models``;
``store``, ``text``; ``data``, ``compute``; ``settings``. This module holds only the version.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    # one source of truth: pyproject's version, as installed (editable or wheel)
    __version__ = version("shoprec")
except PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0+unknown"
