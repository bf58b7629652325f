"""Progress lines for people watching a refresh in a terminal."""

from __future__ import annotations

import os
import sys

PROGRESS_ENV = "DORA_PROGRESS"


def report(message: str) -> None:
    """Print a progress line to stderr when it is a terminal or DORA_PROGRESS=1 is set."""
    if os.environ.get(PROGRESS_ENV) == "1" or sys.stderr.isatty():
        print(f"[dora] {message}", file=sys.stderr, flush=True)
