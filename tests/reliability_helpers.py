"""Shared pieces of the reliability tests: a tiny event folder, mart snapshots, the CLI."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from tests.conftest import write_events

AS_OF = "2024-03-20T00:00:00+00:00"
DORA = [sys.executable, "-m", "dagster_project.cli"]
# Every table a refresh builds after the raw load: dbt models and the containment step.
BUILT_PREFIXES = ("int_", "containment__", "fct_", "dim_", "dora_", "dq_", "contract_")
BUILT_NAMES = ("pipeline_settings",)
# Columns that hold the wall-clock time of the build, not a value derived from the data.
WALL_CLOCK_COLUMNS = {"built_at", "loaded_at", "_loaded_at"}


def _commit(sha: str, parents: list[str], at: str, **extra: Any) -> dict[str, Any]:
    return {"sha": sha, "parent_shas": parents, "authored_at": at, "committed_at": at, **extra}


def _deployment(
    deployment_id: str, sha: str, status: str, finished_at: str, environment: str = "production"
) -> dict[str, Any]:
    return {
        "id": deployment_id,
        "service": "api",
        "environment": environment,
        "sha": sha,
        "status": status,
        "started_at": finished_at.replace(":40:", ":30:"),
        "finished_at": finished_at,
    }


def tiny_events(folder: Path) -> Path:
    """Write a small history: six commits, a pull request, a failed and a rolled-back deploy."""
    commits = [
        _commit("a0", [], "2024-03-01T09:00:00+00:00"),
        _commit("a1", ["a0"], "2024-03-04T09:00:00+00:00"),
        _commit("a2", ["a1"], "2024-03-05T09:00:00+00:00", pr_number=7),
        _commit("a3", ["a2"], "2024-03-06T09:00:00+00:00"),
        _commit(
            "a4", ["a3"], "2024-03-07T09:00:00+00:00", message="Revert\n\nThis reverts commit a3."
        ),
        _commit("a5", ["a4"], "2024-03-08T09:00:00+00:00"),
    ]
    pull_requests = [
        {
            "number": 7,
            "opened_at": "2024-03-04T12:00:00+00:00",
            "merged_at": "2024-03-05T09:00:00+00:00",
            "merge_commit_sha": "a2",
            "title": "Add the thing",
        }
    ]
    deployments = [
        _deployment("d0", "a0", "success", "2024-03-01T11:40:00+00:00"),
        _deployment("d1", "a2", "success", "2024-03-05T11:40:00+00:00"),
        _deployment("d2", "a3", "failure", "2024-03-06T11:40:00+00:00"),
        _deployment("d3", "a3", "success", "2024-03-06T12:40:00+00:00"),
        _deployment("d4", "a5", "success", "2024-03-08T11:40:00+00:00"),
        _deployment("s1", "a5", "success", "2024-03-08T10:40:00+00:00", environment="staging"),
    ]
    incidents = [
        {
            "id": "i1",
            "service": "api",
            "opened_at": "2024-03-06T13:00:00+00:00",
            "resolved_at": "2024-03-07T10:00:00+00:00",
            "caused_by_deployment_id": "d3",
        }
    ]
    return write_events(
        folder,
        commits=commits,
        pull_requests=pull_requests,
        deployments=deployments,
        incidents=incidents,
    )


def built_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Return every table the refresh builds from the raw tables (marts and intermediates)."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_schema = 'main'"
    ).fetchall()
    return sorted(
        name for (name,) in rows if name.startswith(BUILT_PREFIXES) or name in BUILT_NAMES
    )


def snapshot_marts(warehouse: Path) -> dict[str, list[tuple]]:
    """Return every row of every built table as sorted text, without wall-clock columns."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        snapshot = {}
        for table in built_tables(con):
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'main' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if name not in WALL_CLOCK_COLUMNS
            ]
            select_list = ", ".join(f'cast("{name}" as varchar)' for name in columns)
            rows = con.execute(f'select {select_list} from main."{table}"').fetchall()
            snapshot[table] = sorted(rows, key=repr)
        return snapshot
    finally:
        con.close()


def dora_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DORA_PROGRESS": "1"}
    env.pop("DAGSTER_HOME", None)
    env.pop("DORA_CONFIG", None)
    return {**env, **extra}


def refresh_command(events: Path, warehouse: Path) -> list[str]:
    return [
        *DORA,
        "refresh",
        "--events",
        str(events),
        "--warehouse",
        str(warehouse),
        "--as-of",
        AS_OF,
    ]


def run_refresh(events: Path, warehouse: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run ``dora refresh`` to completion in a subprocess with its own Dagster home."""
    return subprocess.run(
        refresh_command(events, warehouse),
        capture_output=True,
        text=True,
        env=dora_env(DAGSTER_HOME=str(home)),
        timeout=900,
        check=False,
    )


@functools.cache
def built_baseline() -> tuple[Path, Path, dict[str, list[tuple]]]:
    """One uninterrupted refresh of the tiny history, built once per test process.

    Returns (events folder, warehouse, snapshot of the built tables). Callers
    copy the warehouse before writing to it.
    """
    root = Path(tempfile.mkdtemp(prefix="dora-baseline-"))
    events = tiny_events(root / "events")
    warehouse = root / "warehouse.duckdb"
    completed = run_refresh(events, warehouse, root / "home")
    assert completed.returncode == 0, completed.stderr
    snapshot = snapshot_marts(warehouse)
    assert snapshot["fct_deployments"], "the baseline built no deployments"
    assert snapshot["fct_changes"], "the baseline built no changes"
    return events, warehouse, snapshot
