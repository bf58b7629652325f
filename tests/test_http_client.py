"""Tests of the shared HTTP session against the fake API server on 127.0.0.1."""

from __future__ import annotations

import logging

import pytest

from dagster_project import warehouse
from dagster_project.clients.http import (
    ApiError,
    ApiSession,
    MemoryEtagStore,
    RetryPolicy,
    TokenMissingError,
    WarehouseEtagStore,
    read_token,
)
from tests.fakes.api_server import FakeApi, Fault, Listing

SECRET = "ghp_secretTokenValue123"


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


class FakeClock:
    """A clock that advances only when the session sleeps."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_session(api: FakeApi, clock: FakeClock, **kwargs) -> ApiSession:
    return ApiSession(api.base_url, token=SECRET, sleep=clock.sleep, clock=clock.time, **kwargs)


@pytest.fixture
def numbers_api():
    with FakeApi(per_page=10) as api:
        api.route(r"/items", lambda m, q: Listing(list(range(25))))
        api.route(r"/echo-auth", lambda m, q: (200, {}))
        yield api


def test_paginate_follows_link_headers(numbers_api):
    clock = FakeClock()
    with make_session(numbers_api, clock) as session:
        pages = list(session.paginate("items", {"per_page": 10}))
    assert [len(p.data) for p in pages] == [10, 10, 5]
    assert [item for p in pages for item in p.data] == list(range(25))
    assert numbers_api.count("/items") == 3


def test_paginate_follows_gitlab_next_page():
    with FakeApi(paging="gitlab", per_page=4) as api:
        api.route(r"/projects/1/things", lambda m, q: Listing(list(range(9))))
        with make_session(api, FakeClock()) as session:
            items = [i for p in session.paginate("projects/1/things") for i in p.data]
    assert items == list(range(9))
    assert api.count("/things") == 3


def test_token_sent_as_bearer_header(numbers_api):
    with make_session(numbers_api, FakeClock()) as session:
        session.get("echo-auth")
    assert numbers_api.requests[-1].headers["authorization"] == f"Bearer {SECRET}"


def test_server_errors_retried_with_backoff(numbers_api):
    clock = FakeClock()
    numbers_api.fail_next(Fault(502), times=2)
    with make_session(numbers_api, clock) as session:
        page = session.get("items", {"per_page": 10})
        assert session.stats.retries == 2
    assert page.data == list(range(10))
    assert clock.sleeps == [1.0, 2.0]


def test_server_errors_bounded(numbers_api):
    clock = FakeClock()
    numbers_api.fail_next(Fault(503), times=4)
    session = make_session(numbers_api, clock, retry=RetryPolicy(max_retries=3))
    with pytest.raises(ApiError, match="returned 503 after 4 attempts"):
        session.get("items")
    assert numbers_api.count("/items") == 4


def test_retry_after_honoured(numbers_api):
    clock = FakeClock()
    numbers_api.fail_next(Fault(429, {"Retry-After": "7"}))
    with make_session(numbers_api, clock) as session:
        session.get("items")
        assert session.stats.rate_limit_waits == 1
    assert clock.sleeps == [7.0]


def test_primary_rate_limit_waits_for_reset(numbers_api):
    clock = FakeClock()
    reset = int(clock.now) + 120
    numbers_api.fail_next(
        Fault(
            403,
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
            '{"message": "API rate limit exceeded"}',
        )
    )
    with make_session(numbers_api, clock) as session:
        page = session.get("items")
    assert page.status == 200
    assert clock.sleeps == [121.0]


def test_exhausted_quota_pauses_next_request(numbers_api):
    clock = FakeClock()
    numbers_api.rate_limit_remaining = 0
    numbers_api.rate_limit_reset = int(clock.now) + 30
    with make_session(numbers_api, clock) as session:
        session.get("items")
        assert clock.sleeps == []
        session.get("echo-auth")
    assert clock.sleeps == [30.0]


def test_gitlab_ratelimit_reset_header():
    clock = FakeClock()
    with FakeApi(paging="gitlab") as api:
        api.route(r"/x", lambda m, q: (200, {"ok": True}))
        api.fail_next(
            Fault(429, {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(clock.now) + 5)})
        )
        with make_session(api, clock) as session:
            assert session.get("x").data == {"ok": True}
    assert clock.sleeps == [6.0]


def test_rate_limit_wait_bounded(numbers_api):
    clock = FakeClock()
    numbers_api.fail_next(Fault(429, {"Retry-After": "7200"}))
    session = make_session(numbers_api, clock, retry=RetryPolicy(max_rate_limit_wait=600))
    with pytest.raises(ApiError, match="rate limit still exceeded"):
        session.get("items")
    assert clock.sleeps == []


def test_connection_errors_retried_then_raised():
    clock = FakeClock()
    with FakeApi() as api:
        dead_url = api.base_url
    session = ApiSession(
        dead_url,
        token=SECRET,
        sleep=clock.sleep,
        clock=clock.time,
        retry=RetryPolicy(max_retries=2),
        timeout=2,
    )
    with pytest.raises(ApiError, match="failed after 3 attempts") as raised:
        session.get("items")
    assert SECRET not in str(raised.value)
    assert clock.sleeps == [1.0, 2.0]


def test_etag_304_reuses_stored_page(numbers_api):
    store = MemoryEtagStore()
    with make_session(numbers_api, FakeClock(), etag_store=store) as session:
        first = [p.data for p in session.paginate("items", {"per_page": 10})]
        second_pages = list(session.paginate("items", {"per_page": 10}))
        assert session.stats.not_modified == 3
    assert [p.data for p in second_pages] == first
    assert all(p.from_cache for p in second_pages)
    assert numbers_api.count("/items", status=304) == 3
    sent = [r.headers.get("if-none-match") for r in numbers_api.requests[-3:]]
    assert all(sent)


def test_etags_stored_in_warehouse(tmp_path, numbers_api):
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        store = WarehouseEtagStore(con, "github:o/r")
        with make_session(numbers_api, FakeClock(), etag_store=store) as session:
            session.get("items")
        rows = con.execute("select _source, url, etag from http_cache").fetchall()
    assert len(rows) == 1
    assert rows[0][0] == "github:o/r"
    assert rows[0][1].endswith("/items")
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        store = WarehouseEtagStore(con, "github:o/r")
        with make_session(numbers_api, FakeClock(), etag_store=store) as session:
            page = session.get("items")
    assert page.status == 304
    assert page.data == list(range(10))


def test_token_never_in_errors_or_logs(numbers_api, caplog):
    numbers_api.fail_next(Fault(401, body=f'{{"message": "bad credentials {SECRET}"}}'))
    numbers_api.fail_next(Fault(500), times=1)
    caplog.set_level(logging.DEBUG)
    with make_session(numbers_api, FakeClock()) as session:
        with pytest.raises(ApiError) as raised:
            session.get("items")
        session.get("items")
    assert "returned 401" in str(raised.value)
    assert SECRET not in str(raised.value)
    assert "***" in str(raised.value)
    assert SECRET not in caplog.text
    assert "retry 1 of 5" in caplog.text


def test_missing_token_variable_named(monkeypatch):
    monkeypatch.delenv("DORA_TEST_TOKEN", raising=False)
    with pytest.raises(TokenMissingError, match="DORA_TEST_TOKEN is not set"):
        read_token("DORA_TEST_TOKEN")
    monkeypatch.setenv("DORA_TEST_TOKEN", SECRET)
    assert read_token("DORA_TEST_TOKEN") == SECRET
    assert read_token(None) is None


def test_error_page_not_json(numbers_api):
    numbers_api.route(r"/html", lambda m, q: (200, None))
    numbers_api.fail_next(Fault(200, {"Content-Type": "text/html"}, "<html>login</html>"))
    with (
        make_session(numbers_api, FakeClock()) as session,
        pytest.raises(ApiError, match="not JSON"),
    ):
        session.get("html")
