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
import re
import shutil
import uuid
from pathlib import Path

STATE_FILE = "partial_parse.msgpack"
# The measurement time reaches dbt through this variable instead of --vars,
# so a new as_of re-parses only the models that use it.
AS_OF_ENV = "DORA_AS_OF"
# Invocation folders kept in the base target folder: those of the last five
# refreshes, for reading their compiled SQL and run_results.json. A refresh of
# the bundled sample leaves up to 12 MB per folder.
KEEP_TARGET_FOLDERS = 10
INVOCATION_FOLDER = re.compile(r".+-[0-9a-f]{7}-[0-9a-f]{7}")


def base_target_path(project_dir: Path) -> Path:
    """Return the folder dagster-dbt creates each invocation's target folder in."""
    base = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return base if base.is_absolute() else project_dir / base


def state_path(project_dir: Path, warehouse_path: str) -> Path:
    """Return the saved parse state of one warehouse."""
    key = hashlib.sha256(str(Path(warehouse_path).resolve()).encode()).hexdigest()[:16]
    return base_target_path(project_dir) / "partial_parse" / f"{key}.msgpack"


def new_target_path(project_dir: Path, step: str, run_id: str, warehouse_path: str) -> Path:
    """Create a new target folder for one invocation, holding the warehouse's saved state.

    Deletes the oldest invocation folders first, so at most
    ``KEEP_TARGET_FOLDERS`` remain with the new one.
    """
    prune_target_folders(base_target_path(project_dir), KEEP_TARGET_FOLDERS - 1)
    target = base_target_path(project_dir) / f"{step}-{run_id[:7]}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True, exist_ok=True)
    saved = state_path(project_dir, warehouse_path)
    if saved.exists():
        shutil.copyfile(saved, target / STATE_FILE)
    return target


def prune_target_folders(base: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest invocation folders of ``base``; return those deleted.

    Only folders named like ``new_target_path`` names them are touched, so the
    manifest of ``dbt parse`` and the saved parse states stay. NOTE: with more
    than ``keep`` dbt invocations running at once on one target folder, the
    oldest running one can lose its folder.
    """
    if not base.is_dir():
        return []
    folders = [
        path for path in base.iterdir() if path.is_dir() and INVOCATION_FOLDER.fullmatch(path.name)
    ]
    folders.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    old_folders = folders[keep:]
    for folder in old_folders:
        # Another process may delete the same folder at the same time.
        shutil.rmtree(folder, ignore_errors=True)
    return old_folders


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
