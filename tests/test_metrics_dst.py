"""Daily buckets of the window-metrics reader across a daylight-saving change.

The fact tables are written directly into a DuckDB file with the columns the
reader uses, so the test pins the reader's date arithmetic on its own.
Europe/Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 2024-03-31, so that
local day is 23 hours long.
"""

from __future__ import annotations

import pytest

from dagster_project import metrics, warehouse

DEPLOYMENTS = [
    # 23:30 UTC on 03-30 is 00:30 on 03-31 in Berlin (winter time).
    ("k1", "api", "2024-03-30 23:30:00+00"),
    # 21:59 UTC on 03-31 is 23:59 on 03-31 in Berlin (summer time).
    ("k2", "api", "2024-03-31 21:59:00+00"),
    # 22:00 UTC on 03-31 is midnight: 04-01 in Berlin.
    ("k3", "web", "2024-03-31 22:00:00+00"),
]


@pytest.fixture
def con(tmp_path):
    connection = warehouse.connect(tmp_path / "warehouse.duckdb")
    connection.execute(
        "create table fct_deployments (deployment_key varchar, service varchar, "
        "deployed_at timestamptz, is_counted boolean default true, "
        "is_cfr_eligible boolean default true, is_failed boolean default false, "
        "is_unplanned boolean default false, recovery_seconds double, "
        "failure_reasons varchar, incidents_resolved_at timestamptz)"
    )
    connection.executemany(
        "insert into fct_deployments (deployment_key, service, deployed_at) values (?, ?, ?)",
        DEPLOYMENTS,
    )
    connection.execute(
        "create table fct_change_commits (service varchar, deployment_key varchar, "
        "deployed_at timestamptz, is_baseline_shipment boolean, is_negative_lead_time boolean, "
        "commit_lead_time_seconds double)"
    )
    connection.execute(
        "create table fct_changes (service varchar, is_shipped boolean, deployed_at timestamptz, "
        "is_baseline_shipment boolean, is_negative_lead_time boolean, pr_lead_time_seconds double)"
    )
    connection.execute(
        "create table fct_incidents (service varchar, alert_at timestamptz, "
        "restore_seconds double, is_open boolean)"
    )
    connection.execute("create table pipeline_settings as select 'Europe/Berlin' as timezone")
    yield connection
    connection.close()


def test_short_local_day_holds_its_deployments(con) -> None:
    result = metrics.window_metrics(con, "2024-03-31T00:00:00+01:00", "2024-04-01T00:00:00+02:00")
    assert result["deployments_per_day"] == {"2024-03-31": 2}
    assert result["deployments_total"] == 2
    assert result["deployments_per_day_avg"] == 2.0


def test_local_midnight_starts_next_day(con) -> None:
    result = metrics.window_metrics(con, "2024-03-31T00:00:00+01:00", "2024-04-02T00:00:00+02:00")
    assert result["deployments_per_day"] == {"2024-03-31": 2, "2024-04-01": 1}
    assert result["deployments_per_day_by_service"] == {
        "api": {"2024-03-31": 2, "2024-04-01": 0},
        "web": {"2024-03-31": 0, "2024-04-01": 1},
    }


def test_utc_buckets_differ(con) -> None:
    result = metrics.window_metrics(
        con, "2024-03-30T00:00:00+00:00", "2024-04-01T00:00:00+00:00", timezone="UTC"
    )
    assert result["deployments_per_day"] == {"2024-03-30": 1, "2024-03-31": 2}


def test_partial_day_window_uses_its_length(con) -> None:
    result = metrics.window_metrics(con, "2024-03-31T12:00:00+02:00", "2024-04-01T00:00:00+02:00")
    assert result["deployments_total"] == 1
    assert result["deployments_per_day_avg"] == 2.0
