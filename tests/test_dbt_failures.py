"""Deployment failures, incident links and recovery, built by the real refresh job.

The scenario in ``test_dbt_failures_data/scenario.json`` is loaded through the
file source and built by dbt and the containment step into one DuckDB file,
shared by the tests of this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagster_project import pipeline, warehouse
from tests.conftest import write_events

SCENARIO = json.loads(
    (Path(__file__).parent / "test_dbt_failures_data" / "scenario.json").read_text()
)


def build_scenario(folder: Path) -> Path:
    """Write the scenario's event files, run the refresh job, return the warehouse file."""
    events = write_events(
        folder / "events",
        commits=SCENARIO["commits"],
        pull_requests=SCENARIO["pull_requests"],
        deployments=SCENARIO["deployments"],
        incidents=SCENARIO["incidents"],
    )
    warehouse_file = folder / "warehouse.duckdb"
    result = pipeline.run_refresh_job(
        str(warehouse_file),
        {"events_dir": str(events), "as_of": SCENARIO["as_of"], "timezone": SCENARIO["timezone"]},
    )
    assert result.success, "the refresh job failed; run it with log_level='INFO' to see why"
    return warehouse_file


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    warehouse_file = build_scenario(tmp_path_factory.mktemp("failures"))
    with warehouse.open_warehouse(warehouse_file, read_only=True) as connection:
        yield connection


def deployment_ids(con, where: str) -> set[str]:
    rows = con.execute(f"select deployment_id from fct_deployments where {where}").fetchall()
    return {row[0] for row in rows}


def test_failure_reasons(con) -> None:
    rows = con.execute(
        """
        select failed.deployment_id, failures.failure_reason, restoring.deployment_id
        from int_deployment_failures as failures
        inner join fct_deployments as failed using (deployment_key)
        left join fct_deployments as restoring
            on failures.restoring_deployment_key = restoring.deployment_key
        """
    ).fetchall()
    assert set(rows) == {
        ("d1", "revert", "d3"),
        ("d2", "incident", None),
        ("e1", "incident", None),
        ("e2", "rollback", "e3"),
        ("j1", "hotfix", "j2"),
    }


def test_revert_in_same_deployment_fails_nothing(con) -> None:
    assert "d4" not in deployment_ids(con, "is_failed")


def test_hotfix_outside_window_fails_nothing(con) -> None:
    assert "j2" not in deployment_ids(con, "is_failed")
    assert deployment_ids(con, "is_hotfix_deployment") == {"j2", "j3"}


def test_attempts_kept_but_not_counted(con) -> None:
    rows = dict(
        con.execute(
            "select deployment_id, (status, is_production, is_counted, is_redeploy) "
            "from fct_deployments where deployment_id in ('d3-failed', 's3', 'e3-again')"
        ).fetchall()
    )
    assert rows["d3-failed"] == ("failure", True, False, False)
    assert rows["s3"] == ("success", False, False, False)
    assert rows["e3-again"] == ("success", True, False, True)


def test_cfr_eligibility(con) -> None:
    assert deployment_ids(con, "is_counted and not is_cfr_eligible") == {"e3"}
    assert deployment_ids(con, "is_unplanned") == {"e3", "j2", "j3"}


def test_recovery_seconds(con) -> None:
    rows = dict(
        con.execute(
            "select deployment_id, recovery_seconds from fct_deployments where is_failed"
        ).fetchall()
    )
    assert rows == {
        "d1": 48 * 3600,
        "d2": 2 * 3600,
        "e1": 45 * 60,
        "e2": 20 * 60,
        "j1": 6 * 3600,
    }


def test_incidents_collapsed_and_merged(con) -> None:
    rows = {
        row[0]: row[1:]
        for row in con.execute(
            "select incident_id, strftime(alert_at, '%d %H:%M'), is_open, restore_seconds, "
            "merged_incident_count from fct_incidents"
        ).fetchall()
    }
    assert set(rows) == {"i1", "i3", "i4"}
    assert rows["i1"] == ("03 10:30", False, 90 * 60, 1)
    assert rows["i3"] == ("09 12:00", True, 12 * 3600, 0)
    assert rows["i4"] == ("05 09:30", False, 15 * 60, 0)


def test_incident_link_methods(con) -> None:
    rows = con.execute(
        """
        select incidents.incident_id, deployments.deployment_id, links.link_method
        from int_incident_deployment_links as links
        inner join fct_incidents as incidents using (incident_key)
        inner join fct_deployments as deployments using (deployment_key)
        """
    ).fetchall()
    assert set(rows) == {("i1", "d2", "explicit_deployment_id"), ("i4", "e1", "root_cause_sha")}


def test_daily_counts(con) -> None:
    rows = con.execute(
        "select strftime(metric_date, '%d'), deployment_count, failed_deployment_count "
        "from dora_daily where service = '__all__' order by metric_date"
    ).fetchall()
    assert rows == [
        ("01", 3, 0),
        ("02", 1, 1),
        ("03", 1, 1),
        ("04", 1, 0),
        ("05", 3, 2),
        ("06", 3, 1),
        ("07", 0, 0),
        ("08", 1, 0),
        ("09", 0, 0),
        ("10", 0, 0),
    ]


def test_trailing_change_failure_rate(con) -> None:
    row = con.execute(
        "select eligible_deployment_count, failed_deployment_count, change_failure_rate "
        "from dora_trailing_metrics "
        "where service = '__all__' and window_days = 30 and as_of_date = date '2024-05-10'"
    ).fetchone()
    assert row[0] == 12
    assert row[1] == 5
    assert row[2] == pytest.approx(5 / 12)


def test_performance_levels_cover_every_slice(con) -> None:
    rows = con.execute(
        "select service, count(*) from dora_performance_levels group by service order by service"
    ).fetchall()
    assert rows == [("__all__", 5), ("api", 5), ("jobs", 5), ("web", 5)]
    level = con.execute(
        "select level from dora_performance_levels "
        "where service = '__all__' and metric = 'change_failure_rate'"
    ).fetchone()
    assert level == ("low",)


def test_dq_issues_unmapped_environment(con) -> None:
    rows = con.execute(
        "select entity_key, observed_value from dq_issues where issue_type = 'unmapped_environment'"
    ).fetchall()
    assert rows == [("staging", 1.0)]
