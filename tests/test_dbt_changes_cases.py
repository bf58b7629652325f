"""Lead-time cases run through real dbt and the containment step on a DuckDB file.

Each case is loaded into the raw file-source tables under its own repo, service
and deployment-id prefix, so cases that share the dbt vars (measurement time,
time zone) share one warehouse and one pair of dbt builds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from dagster_project import containment, warehouse

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO_ROOT / "dbt_project"
CASES = json.loads((Path(__file__).parent / "test_dbt_changes_data" / "cases.json").read_text())
DBT = Path(sys.executable).parent / "dbt"
# The models of the second dbt step that these cases read, with their parents.
AFTER_CONTAINMENT_MODELS = ["+fct_changes", "+fct_change_commits", "+int_deployment_shipments"]


def _commit_rows(case_id: str, changes: list[dict]) -> list[dict]:
    rows = []
    for change in changes:
        rows.append(
            {
                "_source": "files",
                "_record_key": f"{case_id}:{change['sha']}",
                "repo": case_id,
                "sha": change["sha"],
                "parent_shas": json.dumps(change["parent_shas"]),
                "parent_count": len(change["parent_shas"]),
                "authored_at": change["authored_at"],
                "committed_at": change["committed_at"],
                "is_bot": False,
                "pr_number": change.get("pr_number"),
                "pr_opened_at": change.get("pr_opened_at"),
                "pr_merged_at": change.get("pr_merged_at"),
                "pr_ready_for_review_at": change.get("pr_ready_for_review_at"),
                "pr_reopened_at": change.get("pr_reopened_at"),
                "pr_closed_at": change.get("pr_closed_at"),
                "pr_created_as_draft": change.get("pr_created_as_draft"),
            }
        )
    return rows


def _status_rows(case_id: str, deployments: list[dict]) -> list[dict]:
    """One row per status_history entry, else one row timed at finished_at or started_at."""
    rows = []
    for index, deployment in enumerate(deployments):
        common = {
            "_source": "files",
            "deployment_id": f"{case_id}:{deployment['id']}",
            "repo": case_id,
            "service": f"{case_id}:{deployment['service']}",
            "environment": deployment["environment"],
            "sha": deployment["sha"],
            "started_at": deployment.get("started_at"),
            "pipeline_status": deployment.get("pipeline_status"),
        }
        history = deployment.get("status_history") or [
            {
                "state": deployment["status"],
                "at": deployment.get("finished_at") or deployment.get("started_at"),
            }
        ]
        for position, entry in enumerate(history):
            record_index = index * 100 + position
            rows.append(
                {
                    **common,
                    "_record_key": f"{case_id}:{record_index}",
                    "state": entry["state"],
                    "state_at": entry["at"],
                    "record_index": record_index,
                }
            )
    return rows


def _run_dbt(warehouse_path: Path, tmp_path: Path, dbt_vars: dict, *selection: str) -> None:
    env = {
        **os.environ,
        "DORA_WAREHOUSE": str(warehouse_path),
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    command = [
        str(DBT),
        "build",
        "--project-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(tmp_path / "target"),
        "--log-path",
        str(tmp_path / "logs"),
        "--vars",
        json.dumps(dbt_vars),
        *selection,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def build_cases(cases: list[dict], tmp_path: Path, dbt_vars: dict) -> Path:
    """Load the cases into a new warehouse and run both dbt steps and containment."""
    warehouse_path = tmp_path / "warehouse.duckdb"
    with warehouse.open_warehouse(warehouse_path) as con:
        warehouse.ensure_raw_tables(con)
        for case in cases:
            case_input = case["input"]
            warehouse.upsert_rows(
                con, "raw_files__commits", _commit_rows(case["id"], case_input["changes"])
            )
            warehouse.upsert_rows(
                con,
                "raw_files__deployment_statuses",
                _status_rows(case["id"], case_input["deployments"]),
            )
    _run_dbt(warehouse_path, tmp_path, dbt_vars, "--select", "tag:before_containment")
    with warehouse.open_warehouse(warehouse_path) as con:
        containment.build_containment_table(con)
    _run_dbt(
        warehouse_path,
        tmp_path,
        dbt_vars,
        "--select",
        *AFTER_CONTAINMENT_MODELS,
        "--exclude",
        "tag:before_containment",
    )
    return warehouse_path


def _case_groups() -> dict[tuple[str | None, str], list[dict]]:
    groups: dict[tuple[str | None, str], list[dict]] = defaultdict(list)
    for case in CASES:
        case_input = case["input"]
        key = (case_input.get("measurement_time"), case_input.get("bucket_timezone", "UTC"))
        groups[key].append(case)
    return groups


def _hours(seconds: list[float]) -> list[float]:
    return sorted(round(value / 3600, 4) for value in seconds)


def _window(case: dict) -> tuple[datetime, datetime]:
    window = case["input"]["window"]
    return datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])


def _observed(con, case: dict) -> dict:
    start, end = _window(case)
    window = [case["id"], start, end]
    commit_seconds = con.execute(
        "select commit_lead_time_seconds from fct_change_commits "
        "where repo = ? and deployed_at >= ? and deployed_at < ? "
        "and commit_lead_time_seconds is not null and not is_negative_lead_time",
        window,
    ).fetchall()
    pr_seconds = con.execute(
        "select pr_lead_time_seconds from fct_changes "
        "where repo = ? and deployed_at >= ? and deployed_at < ? "
        "and pr_lead_time_seconds is not null and not is_negative_lead_time",
        window,
    ).fetchall()
    per_day = con.execute(
        "select cast(deployed_date as varchar), count(*) from int_production_deployments "
        "where repo = ? and deployed_at >= ? and deployed_at < ? and is_counted "
        "group by deployed_date",
        window,
    ).fetchall()
    return {
        "lead_time_samples_hours": _hours([row[0] for row in commit_seconds]),
        "pr_lead_time_samples_hours": _hours([row[0] for row in pr_seconds]),
        "deployments_per_day": dict(per_day),
        "deployments_total": sum(count for _, count in per_day),
    }


@pytest.fixture(scope="module")
def observed_by_case(tmp_path_factory) -> dict[str, dict]:
    mapping = {}
    for case in CASES:
        mapping.update(case["input"].get("environment_mapping", {}))
    observed = {}
    for (as_of, timezone), cases in _case_groups().items():
        tmp_path = tmp_path_factory.mktemp("cases")
        dbt_vars = {"as_of": as_of, "timezone": timezone, "environment_mapping": mapping}
        warehouse_path = build_cases(cases, tmp_path, dbt_vars)
        with warehouse.open_warehouse(warehouse_path, read_only=True) as con:
            for case in cases:
                observed[case["id"]] = _observed(con, case)
    return observed


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case_lead_time_and_deployments(case, observed_by_case):
    expected = case["expected"]
    observed = observed_by_case[case["id"]]
    if "lead_time_samples_hours" in expected:
        assert observed["lead_time_samples_hours"] == expected["lead_time_samples_hours"]
    if "pr_lead_time_samples_hours" in expected:
        assert observed["pr_lead_time_samples_hours"] == expected["pr_lead_time_samples_hours"]
    if "deployments_per_day" in expected:
        nonzero = {day: count for day, count in expected["deployments_per_day"].items() if count}
        assert observed["deployments_per_day"] == nonzero
    if "deployments_total" in expected:
        assert observed["deployments_total"] == expected["deployments_total"]
