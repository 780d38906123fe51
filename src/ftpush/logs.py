"""Logging set-up for long-running commands.

Log records never carry secrets: code logs usernames, addresses and reasons,
never passwords or keys (reviewed at every log call that touches a login).
"""

from __future__ import annotations

import logging
import sys


def configure(level: str) -> None:
    """Send ftpush's log lines to stderr with a timestamp and the logger name."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger("ftpush")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
