"""shoprec: real-time personalisation for e-commerce."""

from importlib.metadata import PackageNotFoundError, version

try:
    # one source of truth: pyproject's version, as installed (editable or wheel)
    __version__ = version("shoprec")
except PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0+unknown"
