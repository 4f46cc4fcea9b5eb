"""Logging set-up: one line per event, to standard error."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=FORMAT)
    root.setLevel(level)
    # Alembic announces every plugin and step at INFO; only say what it did
    # wrong unless debugging.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
