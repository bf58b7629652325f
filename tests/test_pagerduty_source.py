"""PagerDuty incidents loaded into a real DuckDB file from the fake PagerDuty API."""

from __future__ import annotations

import copy
import itertools
import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from dagster_project import warehouse
from dagster_project.clients.pagerduty import PagerDutyClient
from dagster_project.config import ConfigError
from dagster_project.sources import incidents_pagerduty as pagerduty
from tests.fakes.incident_servers import (
    FakePagerDuty,
    load_constructed_pagerduty,
    load_pagerduty_fixtures,
)

TOKEN = "pd-planted-secret-token-5f3a9c"
NOW = datetime(2022, 11, 5, tzinfo=UTC)


def all_incidents():
    incidents, entries = load_pagerduty_fixtures()
    extra, extra_entries = load_constructed_pagerduty()
    return incidents + extra, {**entries, **extra_entries}


def settings(**section) -> pagerduty.PagerDutySettings:
    section.setdefault("since", "2022-11-01T00:00:00Z")
    parsed = pagerduty.parse_settings(section)
    assert parsed is not None
    return parsed


def load_into(path, server, config, now=NOW):
    client = PagerDutyClient(TOKEN, server.base_url, page_size=2, sleep=lambda _: None)
    with warehouse.open_warehouse(path) as con:
        return pagerduty.load(con, client, config, now)


def rows(path, sql, params=()):
    with warehouse.open_warehouse(path, read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def incident(path, incident_id):
    with warehouse.open_warehouse(path, read_only=True) as con:
        cursor = con.execute(
            "select * from raw_pagerduty__incidents where incident_id = ?", [incident_id]
        )
        names = [column[0] for column in cursor.description]
        found = cursor.fetchall()
    assert len(found) == 1, f"expected one row for {incident_id}, found {len(found)}"
    return dict(zip(names, found[0], strict=True))


@pytest.fixture
def server():
    incidents, entries = all_incidents()
    with FakePagerDuty(incidents, entries, TOKEN) as fake:
        yield fake


def test_recorded_incidents_loaded(tmp_path, server):
    path = tmp_path / "w.duckdb"
    summary = load_into(path, server, settings())
    assert summary.incidents == 7
    triggered = incident(path, "Q3YON8WNWTZMRQ")
    assert triggered["resolved_at"] is None
    assert triggered["alert_at"] == datetime(2022, 11, 3, 6, 23, 6, tzinfo=UTC)
    assert triggered["acknowledged_at"] == datetime(2022, 11, 3, 6, 23, 7, tzinfo=UTC)
    assert triggered["service"] == "DevService"
    assert triggered["urgency"] == "high"


def test_resolved_from_resolve_log_entry(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings())
    resolved = incident(path, "Q1OHFWFP3GPXOG")
    assert resolved["resolved_at"] == datetime(2022, 11, 3, 6, 51, 44, tzinfo=UTC)
    assert resolved["resolved_from"] == "resolve_log_entry"
    assert resolved["resolution_reason"] == "resolved"


def test_resolved_from_status_change_without_log(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings(fetch_log_entries=False))
    resolved = incident(path, "Q1OHFWFP3GPXOG")
    assert resolved["resolved_at"] == datetime(2022, 11, 3, 6, 51, 44, tzinfo=UTC)
    assert resolved["resolved_from"] == "last_status_change_at"
    assert rows(path, "select count(*) from raw_pagerduty__log_entries") == [(0,)]


def test_reopened_incident_is_open(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings())
    reopened = incident(path, "QCONSTRUCTED1")
    assert reopened["resolved_at"] is None
    assert reopened["reopen_count"] == 1
    assert reopened["acknowledged_at"] == datetime(2022, 11, 4, 9, 5, tzinfo=UTC)


def test_resolved_status_with_later_trigger_is_open(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings())
    reopened = incident(path, "QCONSTRUCTED4")
    assert reopened["status"] == "resolved"
    assert reopened["resolved_at"] is None
    assert reopened["reopen_count"] == 1


def test_resolved_twice_uses_last_resolve(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings())
    twice = incident(path, "QCONSTRUCTED2")
    assert twice["resolved_at"] == datetime(2022, 11, 4, 12, 10, tzinfo=UTC)
    assert twice["reopen_count"] == 1


def test_merged_incident_names_target(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings())
    merged = incident(path, "QCONSTRUCTED3")
    assert merged["merged_into"] == "QCONSTRUCTED2"
    assert merged["resolution_reason"] == "merged"
    assert merged["resolved_from"] == "resolved_at"
    assert merged["resolved_at"] == datetime(2022, 11, 4, 11, 15, tzinfo=UTC)


def test_log_entries_stored_with_payload(tmp_path, server):
    path = tmp_path / "w.duckdb"
    summary = load_into(path, server, settings())
    count = rows(path, "select count(*) from raw_pagerduty__log_entries")[0][0]
    assert count == 44 + 5 + 5 + 2 + 3
    assert summary.extra["log_entries_loaded"] == count
    kinds = rows(
        path,
        "select entry_type, json_extract_string(_payload, '$.type') "
        "from raw_pagerduty__log_entries where log_entry_id = 'R9YCUW9415E8RMKPGRX149JZYI'",
    )
    assert kinds == [("resolve_log_entry", "resolve_log_entry")]


def test_production_rule_marks_low_urgency(tmp_path, server):
    path = tmp_path / "w.duckdb"
    summary = load_into(path, server, settings(production={"urgencies": ["high"]}))
    low = incident(path, "Q1OHFWFP3GPXOG")
    assert low["is_production"] is False
    assert "urgency 'low'" in low["production_reason"]
    assert incident(path, "Q3YON8WNWTZMRQ")["is_production"] is True
    assert summary.incidents == 7
    assert summary.production_incidents == 6


def test_production_rule_by_priority(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings(production={"priorities": ["P1"]}))
    assert incident(path, "QCONSTRUCTED1")["is_production"] is True
    assert incident(path, "Q3YON8WNWTZMRQ")["is_production"] is False
    assert "priority none" in incident(path, "Q3YON8WNWTZMRQ")["production_reason"]


def test_service_mapping_and_service_rule(tmp_path, server):
    path = tmp_path / "w.duckdb"
    config = settings(services={"PIKL83L": "checkout"}, production={"services": ["checkout"]})
    load_into(path, server, config)
    row = incident(path, "Q3YON8WNWTZMRQ")
    assert row["service"] == "checkout"
    assert row["service_id"] == "PIKL83L"
    assert row["is_production"] is True


def test_service_ids_sent_as_filter(tmp_path, server):
    path = tmp_path / "w.duckdb"
    summary = load_into(path, server, settings(service_ids=["PNOSUCH"]))
    assert summary.incidents == 0
    assert server.requests_to("/incidents")[0].query["service_ids[]"] == ["PNOSUCH"]


def test_cursor_stored_and_reused(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings(refresh_days=1))
    assert rows(path, "select cursor_value from pipeline_cursors") == [
        ("2022-11-05T00:00:00+00:00",)
    ]
    later = datetime(2022, 11, 20, tzinfo=UTC)
    summary = load_into(path, server, settings(refresh_days=1), now=later)
    assert summary.window_start == datetime(2022, 11, 4, tzinfo=UTC)
    listing = [r for r in server.requests_to("/incidents") if r.path == "/incidents"]
    assert listing[-1].query["since"] == ["2022-11-04T00:00:00Z"]
    assert listing[-1].query["until"] == ["2022-11-20T00:00:00Z"]


def test_open_incidents_refetched_by_id(tmp_path):
    incidents, entries = all_incidents()
    path = tmp_path / "w.duckdb"
    with FakePagerDuty(copy.deepcopy(incidents), entries, TOKEN) as fake:
        load_into(path, fake, settings(refresh_days=1))
    # Incident 4 is resolved after the first load, outside the next window.
    changed = copy.deepcopy(incidents)
    target = next(item for item in changed if item["id"] == "Q3YON8WNWTZMRQ")
    target["status"] = "resolved"
    target["last_status_change_at"] = "2022-11-18T08:00:00Z"
    target["resolved_at"] = "2022-11-18T08:00:00Z"
    with FakePagerDuty(changed, entries, TOKEN) as fake:
        summary = load_into(
            path, fake, settings(refresh_days=1), now=datetime(2022, 11, 20, tzinfo=UTC)
        )
        assert [r.path for r in fake.requests if r.path == "/incidents/Q3YON8WNWTZMRQ"]
    assert summary.refreshed_open >= 1
    row = incident(path, "Q3YON8WNWTZMRQ")
    assert row["resolved_at"] == datetime(2022, 11, 18, 8, tzinfo=UTC)
    assert row["resolved_from"] == "resolved_at"


def test_rerun_does_not_duplicate(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings())
    load_into(path, server, settings())
    assert rows(
        path, "select count(*), count(distinct incident_id) from raw_pagerduty__incidents"
    ) == [(7, 7)]


def test_timestamp_without_offset_quarantined(tmp_path):
    incidents, entries = all_incidents()
    broken = copy.deepcopy(incidents)
    broken[0]["last_status_change_at"] = "2022-11-03T07:02:36"
    path = tmp_path / "w.duckdb"
    with FakePagerDuty(broken, entries, TOKEN) as fake:
        summary = load_into(path, fake, settings())
    assert summary.quarantined == 1
    assert summary.incidents == 6
    ((location, reason),) = rows(path, "select location, reason from quarantine")
    assert location.endswith("/incidents/Q3YON8WNWTZMRQ")
    assert "2022-11-03T07:02:36" in reason
    assert "no UTC offset" in reason


def test_invalid_settings_listed():
    with pytest.raises(ConfigError) as failure:
        pagerduty.parse_settings(
            {"service_ids": {"a": 1}, "production": {"urgency": ["high"]}, "since": "2022-01-01"}
        )
    message = str(failure.value)
    assert "sources.pagerduty.service_ids" in message
    assert "sources.pagerduty.production.urgency: unknown setting" in message
    assert "sources.pagerduty.since" in message


def test_absent_or_disabled_section():
    assert pagerduty.parse_settings(None) is None
    assert pagerduty.parse_settings({"enabled": False}) is None


def test_token_never_stored_or_logged(tmp_path, server, caplog):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "w.duckdb"
    server.fail_next(429, path_prefix="/incidents", Retry_After="1")
    server.fail_next(500, path_prefix="/incidents")
    load_into(path, server, settings())
    assert TOKEN not in caplog.text
    assert caplog.text  # the retries were logged
    assert TOKEN.encode() not in path.read_bytes()
    with warehouse.open_warehouse(path, read_only=True) as con:
        for (table,) in con.execute("select table_name from information_schema.tables").fetchall():
            dump = str(con.execute(f"select * from {table}").fetchall())
            assert TOKEN not in dump, f"token found in table {table}"


STATE_KINDS = [
    "trigger_log_entry",
    "acknowledge_log_entry",
    "resolve_log_entry",
    "notify_log_entry",
]


@settings_hypothesis(max_examples=200, deadline=None)
@given(
    entries=st.lists(
        st.tuples(st.sampled_from(STATE_KINDS), st.integers(min_value=0, max_value=600)),
        max_size=12,
    ),
    status=st.sampled_from(["triggered", "acknowledged", "resolved"]),
)
def test_resolution_follows_last_state_entry(entries, status):
    start = datetime(2022, 11, 3, tzinfo=UTC)
    log = [
        {"id": f"E{i}", "type": kind, "created_at": (start + timedelta(minutes=m)).isoformat()}
        for i, (kind, m) in enumerate(entries)
    ]
    incident = {
        "id": "QPROPERTY",
        "status": status,
        "created_at": start.isoformat(),
        "last_status_change_at": (start + timedelta(minutes=700)).isoformat(),
    }
    result = pagerduty.resolve_incident(incident, log)

    rank = {"trigger_log_entry": 0, "acknowledge_log_entry": 1, "resolve_log_entry": 2}
    changes = sorted((m, rank[k], k) for k, m in entries if k in rank)
    resolves = [m for m, _, k in changes if k == "resolve_log_entry"]
    reopened_at_end = bool(resolves) and changes[-1][2] != "resolve_log_entry"
    if status != "resolved" or reopened_at_end:
        assert result.resolved_at is None
    elif resolves:
        assert result.resolved_at == start + timedelta(minutes=max(resolves))
        assert result.resolved_from == "resolve_log_entry"
    else:
        assert result.resolved_at == start + timedelta(minutes=700)
        assert result.resolved_from == "last_status_change_at"
    reopenings = sum(
        1
        for before, after in itertools.pairwise(changes)
        if before[2] == "resolve_log_entry" and after[2] != "resolve_log_entry"
    )
    assert result.reopen_count == reopenings
