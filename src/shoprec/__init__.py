"""shoprec: real-time personalisation for e-commerce."""

__version__ = "0.1.0"
