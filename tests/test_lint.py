"""Python and SQL stay lint-clean: ruff for Python, sqlfluff for the dbt models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )


def test_ruff_check_clean() -> None:
    completed = run(str(BIN / "ruff"), "check", ".")
    assert completed.returncode == 0, completed.stdout[-4000:]


def test_sqlfluff_models_clean() -> None:
    completed = run(str(BIN / "sqlfluff"), "lint", "dbt_project/models", "--processes", "1")
    assert completed.returncode == 0, completed.stdout[-4000:]
