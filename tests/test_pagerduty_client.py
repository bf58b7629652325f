"""The PagerDuty client against a fake PagerDuty API serving the recorded fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dagster_project.clients.http import ApiError, RetryPolicy
from dagster_project.clients.pagerduty import PagerDutyClient
from tests.fakes.incident_servers import FakePagerDuty, load_pagerduty_fixtures

TOKEN = "pd-test-token-0123456789"
SINCE = datetime(2022, 11, 1, tzinfo=UTC)
UNTIL = datetime(2022, 11, 10, tzinfo=UTC)


@pytest.fixture
def server():
    incidents, entries = load_pagerduty_fixtures()
    with FakePagerDuty(incidents, entries, TOKEN) as fake:
        yield fake


def make_client(server: FakePagerDuty, sleeps: list[float], page_size: int = 1) -> PagerDutyClient:
    return PagerDutyClient(TOKEN, server.base_url, page_size=page_size, sleep=sleeps.append)


def test_incidents_paginated_by_offset(server):
    client = make_client(server, [])
    incidents = list(client.list_incidents(SINCE, UNTIL))
    assert [incident["incident_number"] for incident in incidents] == [4, 5, 6]
    offsets = [request.query["offset"][0] for request in server.requests_to("/incidents")]
    assert offsets == ["0", "1", "2"]


def test_server_page_cap_followed():
    incidents, entries = load_pagerduty_fixtures()
    with FakePagerDuty(incidents, entries, TOKEN, max_limit=2) as capped:
        client = make_client(capped, [], page_size=100)
        assert len(list(client.list_incidents(SINCE, UNTIL))) == 3
        offsets = [request.query["offset"][0] for request in capped.requests_to("/incidents")]
    assert offsets == ["0", "2"]


def test_incident_request_carries_window_and_auth(server):
    client = make_client(server, [], page_size=100)
    list(client.list_incidents(SINCE, UNTIL, ["PIKL83L", "POTHER1"]))
    request = server.requests_to("/incidents")[0]
    assert request.query["since"] == ["2022-11-01T00:00:00Z"]
    assert request.query["until"] == ["2022-11-10T00:00:00Z"]
    assert request.query["service_ids[]"] == ["PIKL83L", "POTHER1"]
    assert request.headers["authorization"] == f"Token token={TOKEN}"
    assert request.headers["accept"] == "application/vnd.pagerduty+json;version=2"


def test_service_filter_excludes_other_services(server):
    client = make_client(server, [], page_size=100)
    assert list(client.list_incidents(SINCE, UNTIL, ["PNOSUCH"])) == []


def test_log_entries_paginated(server):
    client = make_client(server, [], page_size=2)
    entries = client.list_log_entries("Q3YON8WNWTZMRQ")
    assert len(entries) == 31
    assert len(server.requests_to("/incidents/Q3YON8WNWTZMRQ/log_entries")) == 16


def test_rate_limit_honours_retry_after(server):
    sleeps: list[float] = []
    client = make_client(server, sleeps, page_size=100)
    server.fail_next(429, count=2, path_prefix="/incidents", Retry_After="7")
    incidents = list(client.list_incidents(SINCE, UNTIL))
    assert len(incidents) == 3
    assert sleeps == [7.0, 7.0]
    statuses = [request.status for request in server.requests_to("/incidents")]
    assert statuses == [429, 429, 200]


def test_server_error_retried_with_backoff(server):
    sleeps: list[float] = []
    client = make_client(server, sleeps, page_size=100)
    server.fail_next(503, count=2, path_prefix="/incidents")
    assert len(list(client.list_incidents(SINCE, UNTIL))) == 3
    assert sleeps == [1.0, 2.0]


def test_retries_give_up_with_clear_error(server):
    client = PagerDutyClient(
        TOKEN, server.base_url, sleep=lambda _: None, retry=RetryPolicy(max_retries=1)
    )
    server.fail_next(503, count=5, path_prefix="/incidents")
    with pytest.raises(ApiError) as failure:
        list(client.list_incidents(SINCE, UNTIL))
    assert "503" in str(failure.value)
    assert "/incidents" in str(failure.value)


def test_unknown_incident_returns_none(server):
    client = make_client(server, [])
    assert client.get_incident("QNOSUCHINCIDENT") is None
    assert client.get_incident("Q1OHFWFP3GPXOG")["status"] == "resolved"


def test_wrong_token_error_hides_token(server):
    wrong = "pd-wrong-token-secret-987"
    client = PagerDutyClient(wrong, server.base_url, sleep=lambda _: None)
    with pytest.raises(ApiError) as failure:
        list(client.list_incidents(SINCE, UNTIL))
    assert failure.value.status == 401
    assert wrong not in str(failure.value)
    assert wrong not in repr(failure.value)


def test_long_range_split_into_windows(server):
    client = make_client(server, [], page_size=100)
    since = datetime(2021, 1, 1, tzinfo=UTC)
    incidents = list(client.list_incidents(since, UNTIL))
    assert len(incidents) == 3
    requests = server.requests_to("/incidents")
    windows = [(request.query["since"][0], request.query["until"][0]) for request in requests]
    assert len(windows) == 4
    assert windows[0][0] == "2021-01-01T00:00:00Z"
    assert windows[-1][1] == "2022-11-10T00:00:00Z"
    assert all(windows[i][1] == windows[i + 1][0] for i in range(len(windows) - 1))
