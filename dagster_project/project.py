"""The dbt project as Dagster sees it, and the manifest it needs before import."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project import settings

settings.apply_offline_environment()

dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    profiles_dir=settings.DBT_PROJECT_DIR,
)


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for folder in ("models", "macros", "seeds", "tests", "snapshots"):
        for path in (project_dir / folder).rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        path = project_dir / name
        if path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


def ensure_manifest() -> Path:
    """Run ``dbt parse`` when the manifest is missing or older than a project file.

    The Definitions module reads the manifest at import time, so the CLI, the
    tests and ``dagster dev`` call this first. Processes that import at the
    same time (parallel test workers, say) parse one after the other under a
    file lock, and the new manifest replaces the old one in a single rename,
    so no reader sees a half-written file.
    """
    manifest = Path(dbt_project.manifest_path)
    if _is_current(manifest):
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with (manifest.parent / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_current(manifest):
            _parse_into(manifest)
    return manifest


def _is_current(manifest: Path) -> bool:
    project_dir = Path(dbt_project.project_dir)
    return manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project_dir)


def _parse_into(manifest: Path) -> None:
    env = {**os.environ, **settings.OFFLINE_ENVIRONMENT}
    # Parsing needs a profile, not a database file: any path will do.
    env.setdefault(settings.WAREHOUSE_ENV, str(settings.warehouse_path()))
    project_dir = str(dbt_project.project_dir)
    dbt = Path(sys.executable).with_name("dbt")
    with tempfile.TemporaryDirectory(prefix=".parse-", dir=manifest.parent) as target:
        command = [str(dbt) if dbt.exists() else "dbt", "parse", "--quiet"]
        command += ["--project-dir", project_dir, "--profiles-dir", project_dir]
        command += ["--target-path", target]
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(
                "dbt parse failed, so the dbt models cannot be loaded:\n"
                + (completed.stdout + completed.stderr)[-4000:]
            )
        os.replace(Path(target) / manifest.name, manifest)
