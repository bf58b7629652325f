"""Source freshness: `dbt source freshness` warns when a raw table's newest load is old.

The raw source in dbt_project/models/sources.yml sets ``loaded_at_field:
_loaded_at`` and ``warn_after: 2 days``. One table gets rows loaded ten days
ago, another rows loaded now; dbt must call the first stale (warn) and the
second fresh (pass).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster_project import settings, warehouse


def _commit(sha: str, loaded_at: datetime) -> dict:
    return {
        "_source": "test",
        "_record_key": sha,
        "_loaded_at": loaded_at,
        "repo": "default",
        "sha": sha,
        "parent_shas": "[]",
        "parent_count": 0,
        "authored_at": loaded_at,
        "committed_at": loaded_at,
        "is_bot": False,
    }


def test_stale_source_warns_and_fresh_source_passes(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    now = datetime.now(UTC)
    with warehouse.open_warehouse(path) as con:
        warehouse.ensure_raw_tables(con)
        warehouse.upsert_rows(con, "raw_files__commits", [_commit("old", now - timedelta(days=10))])
        warehouse.upsert_rows(con, "raw_git__commits", [_commit("new", now)])
    target = tmp_path / "target"
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "source",
            "freshness",
            "--select",
            "source:raw.raw_files__commits source:raw.raw_git__commits",
            "--target-path",
            str(target),
            "--project-dir",
            str(settings.DBT_PROJECT_DIR),
            "--profiles-dir",
            str(settings.DBT_PROJECT_DIR),
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            settings.WAREHOUSE_ENV: str(path),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
            **settings.OFFLINE_ENVIRONMENT,
        },
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads((target / "sources.json").read_text())["results"]
    status = {result["unique_id"].rsplit(".", 1)[-1]: result["status"] for result in results}
    assert status == {"raw_files__commits": "warn", "raw_git__commits": "pass"}
    assert "WARN" in completed.stdout
