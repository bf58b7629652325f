"""Keep dbt's partial-parse state per warehouse, so a refresh skips a full parse.

dagster-dbt gives every dbt invocation a new target folder and seeds it with
the ``partial_parse.msgpack`` of the base target folder, which ``dbt parse``
wrote with the default vars and profile. dbt rejects that state when the
``--vars`` or the connection settings (the DuckDB path among them) differ,
and parses the whole project again. This module keeps the state each
invocation leaves behind in one file per warehouse path, and seeds the next
invocation's target folder with it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

STATE_FILE = "partial_parse.msgpack"
# The measurement time reaches dbt through this variable instead of --vars,
# so a new as_of re-parses only the models that use it.
AS_OF_ENV = "DORA_AS_OF"


def base_target_path(project_dir: Path) -> Path:
    """Return the folder dagster-dbt creates each invocation's target folder in."""
    base = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return base if base.is_absolute() else project_dir / base


def state_path(project_dir: Path, warehouse_path: str) -> Path:
    """Return the saved parse state of one warehouse."""
    key = hashlib.sha256(str(Path(warehouse_path).resolve()).encode()).hexdigest()[:16]
    return base_target_path(project_dir) / "partial_parse" / f"{key}.msgpack"


def new_target_path(project_dir: Path, step: str, run_id: str, warehouse_path: str) -> Path:
    """Create a new target folder for one invocation, holding the warehouse's saved state."""
    target = base_target_path(project_dir) / f"{step}-{run_id[:7]}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True, exist_ok=True)
    saved = state_path(project_dir, warehouse_path)
    if saved.exists():
        shutil.copyfile(saved, target / STATE_FILE)
    return target


def save_state(project_dir: Path, target: Path, warehouse_path: str) -> None:
    """Keep the state an invocation wrote for the next refresh of the same warehouse."""
    written = target / STATE_FILE
    if not written.exists():
        return
    saved = state_path(project_dir, warehouse_path)
    saved.parent.mkdir(parents=True, exist_ok=True)
    partial = saved.with_suffix(f".{uuid.uuid4().hex[:7]}.tmp")
    shutil.copyfile(written, partial)
    os.replace(partial, saved)
