"""The dbt project as Dagster sees it, and the manifest it needs before import."""

from __future__ import annotations

import os
import subprocess
import sys
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
    tests and ``dagster dev`` call this first.
    """
    manifest = Path(dbt_project.manifest_path)
    project_dir = Path(dbt_project.project_dir)
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project_dir):
        return manifest
    env = {**os.environ, **settings.OFFLINE_ENVIRONMENT}
    # Parsing needs a profile, not a database file: any path will do.
    env.setdefault(settings.WAREHOUSE_ENV, str(settings.warehouse_path()))
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt) if dbt.exists() else "dbt", "parse", "--quiet"]
    command += ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    command += ["--target-path", str(manifest.parent)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            "dbt parse failed, so the dbt models cannot be loaded:\n"
            + (completed.stdout + completed.stderr)[-4000:]
        )
    return manifest
