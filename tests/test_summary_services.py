"""The refresh summary lists every service of the overall row, deployed or not."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster_project import metrics, summary
from dagster_project.warehouse import open_warehouse
from tests.conftest import write_events

AS_OF = "2024-04-10T00:00:00+00:00"


def test_service_with_incidents_only_has_a_row(tmp_path: Path, refresh) -> None:
    deployments = [
        {
            "id": f"d{day}",
            "service": "api",
            "environment": "production",
            "sha": f"a{day}",
            "status": "success",
            "started_at": f"2024-04-0{day}T07:50:00+00:00",
            "finished_at": f"2024-04-0{day}T08:00:00+00:00",
        }
        for day in (1, 2, 3)
    ]
    incidents = [
        {
            "id": "i1",
            "service": "billing",
            "opened_at": "2024-04-04T10:00:00+00:00",
            "resolved_at": "2024-04-04T10:30:00+00:00",
        }
    ]
    events = write_events(tmp_path / "events", deployments=deployments, incidents=incidents)
    warehouse = refresh(events, as_of=AS_OF)

    with open_warehouse(warehouse, read_only=True) as con:
        window, rows = summary.summary_rows(con)
        by_service = {row["service"]: row for row in rows}
        zone = ZoneInfo(window["timezone"])
        start = datetime.combine(window["start"], time.min, zone)
        end = datetime.combine(window["end"] + timedelta(days=1), time.min, zone)
        billing = metrics.window_metrics(con, start, end, service="billing")
    assert list(by_service) == ["api", "billing", summary.ALL_SERVICES]
    assert by_service["billing"]["deployments_per_day"] == 0
    assert by_service["billing"]["mttr_minutes"] == billing["mttr_minutes"] == 30
    assert by_service[summary.ALL_SERVICES]["mttr_minutes"] == 30


def test_summary_equals_window_metrics_of_history(tmp_path: Path, refresh) -> None:
    # Deployments and incidents on both sides of the 30-day window's start.
    deployments = [
        {
            "id": f"d{index}",
            "service": service,
            "environment": "production",
            "sha": f"{service}{index}",
            "status": "failure" if index % 3 == 0 else "success",
            "started_at": f"{day}T07:50:00+00:00",
            "finished_at": f"{day}T08:00:00+00:00",
        }
        for index, (service, day) in enumerate(
            [("api", "2024-02-20"), ("api", "2024-03-05"), ("api", "2024-03-20"),
             ("web", "2024-02-25"), ("web", "2024-04-02"), ("api", "2024-04-08")]
        )
    ]  # fmt: skip
    incidents = [
        {
            "id": f"i{index}",
            "service": service,
            "opened_at": f"{day}T10:00:00+00:00",
            "resolved_at": f"{day}T10:{minutes:02}:00+00:00",
        }
        for index, (service, day, minutes) in enumerate(
            [("api", "2024-03-01", 40), ("api", "2024-03-25", 20), ("web", "2024-04-05", 10)]
        )
    ]
    events = write_events(tmp_path / "events", deployments=deployments, incidents=incidents)
    warehouse = refresh(events, as_of=AS_OF)

    with open_warehouse(warehouse, read_only=True) as con:
        window, rows = summary.summary_rows(con)
        temporary = con.execute("select count(*) from duckdb_tables() where temporary").fetchone()
        zone = ZoneInfo(window["timezone"])
        start = datetime.combine(window["start"], time.min, zone)
        end = datetime.combine(window["end"] + timedelta(days=1), time.min, zone)
        expected = {
            name: metrics.window_metrics(con, start, end, service=service)
            for name, service in (("api", "api"), ("web", "web"), (summary.ALL_SERVICES, None))
        }
        with summary._window_rows_only(con, start, end):
            shadowed = con.execute("select count(*) from fct_incidents").fetchone()
        stored = con.execute("select count(*) from fct_incidents").fetchone()
    by_service = {row["service"]: row for row in rows}
    assert list(by_service) == ["api", "web", summary.ALL_SERVICES]
    for name, values in expected.items():
        row = by_service[name]
        assert row["deployments_per_day"] == values["deployments_per_day_avg"], name
        assert row["median_pr_lead_time_hours"] == values["median_pr_lead_time_hours"], name
        assert row["change_failure_rate"] == values["change_failure_rate"], name
        assert row["mttr_minutes"] == values["mttr_minutes"], name
    # The window (2024-03-12 to 2024-04-10) contains two of the three incidents.
    assert by_service[summary.ALL_SERVICES]["mttr_minutes"] == 15
    assert temporary == (0,)
    assert shadowed == (2,)
    assert stored == (3,)
