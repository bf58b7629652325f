"""Statuspage incident history loaded from the recorded githubstatus.com file and a fake URL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dagster_project import warehouse
from dagster_project.config import ConfigError
from dagster_project.sources import incidents_statuspage as statuspage
from tests.fakes.incident_servers import FIXTURES, FakeStatuspage

HISTORY = FIXTURES / "statuspage" / "incidents.jsonl"


def history() -> list[dict]:
    return [json.loads(line) for line in HISTORY.read_text().splitlines() if line.strip()]


def settings(location=HISTORY, **section) -> statuspage.StatuspageSettings:
    parsed = statuspage.parse_settings({"location": str(location), **section})
    assert parsed is not None
    return parsed


def load_into(path, config, **options):
    with warehouse.open_warehouse(path) as con:
        return statuspage.load(con, config, **options)


def row_of(path, incident_id):
    with warehouse.open_warehouse(path, read_only=True) as con:
        cursor = con.execute(
            "select * from raw_statuspage__incidents where incident_id = ?", [incident_id]
        )
        names = [column[0] for column in cursor.description]
        found = cursor.fetchall()
    assert len(found) == 1, f"expected one row for {incident_id}, found {len(found)}"
    return dict(zip(names, found[0], strict=True))


def test_history_file_loaded(tmp_path):
    path = tmp_path / "w.duckdb"
    summary = load_into(path, settings())
    assert summary.incidents == 443
    assert summary.quarantined == 0
    assert summary.open_incidents == 0
    first = row_of(path, "sx4ctyf65d2y")
    assert first["alert_at"] == datetime(2019, 1, 9, 16, 33, 23, 159000, tzinfo=UTC)
    assert first["resolved_at"] == datetime(2019, 1, 9, 21, 54, 47, 395000, tzinfo=UTC)
    assert first["resolved_from"] == "resolved_at"
    assert first["record_index"] == 1


def test_alert_time_is_earlier_of_created_and_started(tmp_path):
    path = tmp_path / "w.duckdb"
    load_into(path, settings())
    # started_at is set 8 hours after the post was created: the post is the first alert.
    late_start = row_of(path, "6tcfpztf6j9m")
    assert late_start["alert_at"] == datetime(2020, 5, 22, 16, 41, 53, 142000, tzinfo=UTC)
    # started_at is 8 ms before created_at here.
    early_start = row_of(path, "6ymdc4q774v8")
    assert early_start["alert_at"] == datetime(2020, 10, 26, 11, 54, 1, 157000, tzinfo=UTC)


def test_components_mapped_to_services(tmp_path):
    path = tmp_path / "w.duckdb"
    config = settings(
        components={"Pull Requests": "pulls", "Issues": "issues"},
        production={"services": ["pulls"]},
    )
    summary = load_into(path, config)
    both = row_of(path, "6ymdc4q774v8")
    # Issues comes first in the list, but only Pull Requests is a production service.
    assert both["service"] == "pulls"
    assert both["is_production"] is True
    assert json.loads(both["components"]) == ["Issues", "Pull Requests"]
    with warehouse.open_warehouse(path, read_only=True) as con:
        pulls = con.execute(
            "select count(*) from raw_statuspage__incidents where is_production"
        ).fetchone()[0]
    assert pulls == 54
    assert summary.production_incidents == 54


def test_unmapped_component_keeps_its_name(tmp_path):
    path = tmp_path / "w.duckdb"
    load_into(path, settings(production={"services": ["pulls"]}))
    first = row_of(path, "sx4ctyf65d2y")
    assert first["is_production"] is False
    assert "is not in the production services" in first["production_reason"]


def test_impact_rule(tmp_path):
    path = tmp_path / "w.duckdb"
    summary = load_into(path, settings(production={"impacts": ["major", "critical"]}))
    # Incidents naming no component have no service, so they are not production.
    expected = [
        item["id"]
        for item in history()
        if item["impact"] in ("major", "critical") and item["components"]
    ]
    assert len(expected) == 52
    assert summary.production_incidents == len(expected)
    assert summary.incidents == 443


def test_no_component_without_default_is_not_production(tmp_path):
    incidents = [item for item in history() if not item["components"]][:1]
    file = tmp_path / "one.json"
    file.write_text(json.dumps({"page": {}, "incidents": incidents}))
    path = tmp_path / "w.duckdb"
    load_into(path, settings(file))
    row = row_of(path, incidents[0]["id"])
    assert row["service"] is None
    assert row["is_production"] is False
    load_into(path, settings(file, default_service="github"))
    assert row_of(path, incidents[0]["id"])["service"] == "github"
    assert row_of(path, incidents[0]["id"])["is_production"] is True


def test_open_incident_and_update_fallback(tmp_path):
    items = history()[:2]
    items[0] = {**items[0], "status": "monitoring", "resolved_at": None}
    items[1] = {**items[1], "resolved_at": None}
    file = tmp_path / "two.jsonl"
    file.write_text("\n".join(json.dumps(item) for item in items))
    path = tmp_path / "w.duckdb"
    summary = load_into(path, settings(file))
    assert summary.open_incidents == 1
    assert row_of(path, items[0]["id"])["resolved_at"] is None
    fallback = row_of(path, items[1]["id"])
    assert fallback["resolved_from"] == "incident_update"
    resolved_updates = [
        u["created_at"] for u in items[1]["incident_updates"] if u["status"] == "resolved"
    ]
    assert fallback["resolved_at"].isoformat().startswith(max(resolved_updates)[:19])


def test_bad_lines_quarantined(tmp_path):
    items = history()[:3]
    items[1] = {**items[1], "created_at": "2019-01-11 20:02:26"}
    lines = [json.dumps(items[0]), "{not json", json.dumps(items[1]), json.dumps(items[2])]
    file = tmp_path / "bad.jsonl"
    file.write_text("\n".join(lines) + "\n")
    path = tmp_path / "w.duckdb"
    summary = load_into(path, settings(file))
    assert summary.incidents == 2
    assert summary.quarantined == 2
    with warehouse.open_warehouse(path, read_only=True) as con:
        found = con.execute("select location, reason from quarantine order by location").fetchall()
    assert found[0][0] == "bad.jsonl:2"
    assert "invalid JSON" in found[0][1]
    assert found[1][0] == "bad.jsonl:3"
    assert "2019-01-11 20:02:26" in found[1][1]


def test_url_envelope_loaded_and_history_kept(tmp_path):
    items = history()
    path = tmp_path / "w.duckdb"
    with FakeStatuspage(items[:50]) as fake:
        url = f"{fake.base_url}/api/v2/incidents.json"
        assert load_into(path, settings(url), sleep=lambda _: None).incidents == 50
    with FakeStatuspage(items[40:90]) as fake:
        url = f"{fake.base_url}/api/v2/incidents.json"
        load_into(path, settings(url), sleep=lambda _: None)
    with warehouse.open_warehouse(path, read_only=True) as con:
        assert con.execute("select count(*) from raw_statuspage__incidents").fetchone() == (90,)


def test_url_rate_limit_waits(tmp_path):
    sleeps: list[float] = []
    with FakeStatuspage(history()[:5]) as fake:
        fake.fail_next(429, Retry_After="4")
        url = f"{fake.base_url}/api/v2/incidents.json"
        summary = load_into(tmp_path / "w.duckdb", settings(url), sleep=sleeps.append)
    assert summary.incidents == 5
    assert sleeps == [4.0]


def test_missing_file_names_path(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        load_into(tmp_path / "w.duckdb", settings(missing))


def test_location_required():
    with pytest.raises(ConfigError, match="location: missing"):
        statuspage.parse_settings({"components": {}})


def test_relative_location_resolved_against_base(tmp_path):
    parsed = statuspage.parse_settings({"location": "history.jsonl"}, base=tmp_path)
    assert parsed is not None
    assert parsed.location == str(tmp_path / "history.jsonl")


def test_url_rejection_kept_after_window_moves(tmp_path):
    items = history()[:3]
    broken = {**items[0], "resolved_at": "2019-01-09 21:54"}
    path = tmp_path / "w.duckdb"
    with FakeStatuspage([broken, *items[1:]]) as fake:
        url = f"{fake.base_url}/api/v2/incidents.json"
        assert load_into(path, settings(url), sleep=lambda _: None).quarantined == 1
    with FakeStatuspage(items[1:]) as fake:
        url = f"{fake.base_url}/api/v2/incidents.json"
        assert load_into(path, settings(url), sleep=lambda _: None).quarantined == 0
    with warehouse.open_warehouse(path, read_only=True) as con:
        kept = con.execute("select location, reason from quarantine").fetchall()
    assert len(kept) == 1
    assert kept[0][0].endswith(f"/api/v2/incidents.json#{items[0]['id']}")
    assert "2019-01-09 21:54" in kept[0][1]
