"""The window-metrics reader on a warehouse built by the real refresh job.

The scenario is the one of ``test_dbt_failures.py``; the expected values are
worked out by hand from its events.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from dagster_project import metrics, warehouse
from tests.test_dbt_failures import build_scenario

START = "2024-05-01T00:00:00+00:00"
END = "2024-05-10T00:00:00+00:00"


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    warehouse_file = build_scenario(tmp_path_factory.mktemp("metrics"))
    with warehouse.open_warehouse(warehouse_file, read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def result(con):
    return metrics.window_metrics(con, START, END)


def test_deployment_frequency(result) -> None:
    assert result["deployments_per_day"] == {
        "2024-05-01": 3,
        "2024-05-02": 1,
        "2024-05-03": 1,
        "2024-05-04": 1,
        "2024-05-05": 3,
        "2024-05-06": 3,
        "2024-05-07": 0,
        "2024-05-08": 1,
        "2024-05-09": 0,
    }
    assert result["deployments_total"] == 13
    assert result["deployments_per_day_avg"] == round(13 / 9, 4)


def test_deployments_by_service(result) -> None:
    by_service = result["deployments_per_day_by_service"]
    assert sorted(by_service) == ["api", "jobs", "web"]
    assert sum(by_service["web"].values()) == 4
    assert by_service["web"]["2024-05-05"] == 3


def test_change_failure_rate(result) -> None:
    assert result["change_failure_rate"] == round(5 / 12, 4)
    assert result["change_failure_rate_by_service"] == {
        "api": 0.4,
        "jobs": 0.25,
        "web": round(2 / 3, 4),
    }


def test_rework_rate(result) -> None:
    assert result["rework_rate"] == round(3 / 13, 4)


def test_recovery_times(result) -> None:
    assert result["failed_deployment_recovery_minutes"] == 685.0
    assert result["recovery_from_deployment_minutes"] == 82.5


def test_restore_times(result) -> None:
    assert result["incident_count"] == 3
    assert result["open_incidents"] == 1
    assert result["mttr_minutes"] == 275.0
    assert result["median_restore_minutes"] == 90.0
    assert result["p90_restore_minutes"] == 594.0
    assert result["max_restore_minutes"] == 720.0
    assert result["mttr_minutes_resolved_only"] == 52.5


def test_service_filter(con) -> None:
    web = metrics.window_metrics(con, START, END, service="web")
    assert web["deployments_total"] == 4
    assert web["change_failure_rate"] == round(2 / 3, 4)
    assert web["incident_count"] == 1
    assert web["mttr_minutes"] == 15.0
    assert list(web["deployments_per_day_by_service"]) == ["web"]


def test_empty_window_gives_none(con) -> None:
    empty = metrics.window_metrics(con, "2024-05-07T00:00:00+00:00", "2024-05-08T00:00:00+00:00")
    assert empty["deployments_total"] == 0
    assert empty["deployments_per_day"] == {"2024-05-07": 0}
    assert empty["change_failure_rate"] is None
    assert empty["rework_rate"] is None
    assert empty["mttr_minutes"] is None
    assert empty["median_lead_time_hours"] is None
    assert empty["lead_time_samples_hours"] == []
    assert empty["failed_deployment_recovery_minutes"] is None


def test_timezone_shifts_local_days(con) -> None:
    # The window is 05-03 15:00 to 05-05 15:00 UTC. The deployment at 05-04
    # 10:00 UTC is 19:00 on 05-04 in Tokyo; the three between 09:00 and 10:20
    # UTC on 05-05 are on 05-05. The one at 05-03 10:00 UTC is before the window.
    tokyo = metrics.window_metrics(
        con, "2024-05-04T00:00:00+09:00", "2024-05-06T00:00:00+09:00", timezone="Asia/Tokyo"
    )
    assert tokyo["deployments_per_day"] == {"2024-05-04": 1, "2024-05-05": 3}


def test_default_timezone_is_the_build_zone(con) -> None:
    assert con.execute("select timezone from pipeline_settings").fetchone() == ("UTC",)
    default = metrics.window_metrics(con, START, END)
    explicit = metrics.window_metrics(con, START, END, timezone="UTC")
    assert default == explicit


def test_accepts_datetime_objects(con, result) -> None:
    parsed = metrics.window_metrics(con, datetime.fromisoformat(START), datetime.fromisoformat(END))
    assert parsed == result


def test_naive_timestamp_rejected(con) -> None:
    with pytest.raises(ValueError, match="has no UTC offset"):
        metrics.window_metrics(con, "2024-05-01T00:00:00", END)


def test_empty_window_rejected(con) -> None:
    with pytest.raises(ValueError, match="is not after start"):
        metrics.window_metrics(con, END, START)


def test_unknown_timezone_rejected(con) -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        metrics.window_metrics(con, START, END, timezone="Mars/Base")
