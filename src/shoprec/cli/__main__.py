"""``python -m shoprec.cli`` (how :mod:`shoprec.serving.process` starts a server)."""

from shoprec.cli import main

main()
