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
