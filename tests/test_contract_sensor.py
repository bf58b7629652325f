"""The breach sensor: each breach and recovery recorded and notified once.

The contract models are built once with real dbt on the hand-made fact
tables of test_contract_marts. Each test works on its own copy of that
warehouse, with a webhook server on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from dagster_project.contract import load_contracts
from dagster_project.contract.notifications import deliver_pending, record_breaches
from dagster_project.defs.contract import (
    BREACH_EVENTS_KEY,
    contract_breach_sensor,
    process_breach_tick,
)
from dagster_project.defs.resources import WarehouseResource
from tests.test_contract_marts import contract, outcome, run_dbt, write_facts

WEBHOOK_ENV = "TEST_CONTRACT_WEBHOOK_URL"


def sensor_contract(fmt: str = "slack") -> dict:
    document = contract(
        "team",
        [
            outcome("df", "deployment_frequency", "df", 8, "deploys/day"),
            outcome("ttr", "time_to_restore", "ttr", 5, "minutes"),
        ],
    )
    document["notifications"] = [
        {"type": "log"},
        {"type": "webhook", "url_env": WEBHOOK_ENV, "format": fmt},
    ]
    return document


# breach of df on 2026-03-20, its recovery on 2026-04-03, breach of ttr on 2026-03-18
EXPECTED_EVENTS = 3


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("contract_sensor")
    contracts_dir = folder / "contracts"
    contracts_dir.mkdir()
    (contracts_dir / "team.yml").write_text(yaml.safe_dump(sensor_contract()))
    warehouse = folder / "warehouse.duckdb"
    write_facts(warehouse)
    run_dbt(warehouse, folder / "target", load_contracts(contracts_dir), command="run")
    return warehouse


@pytest.fixture
def warehouse(built_warehouse, tmp_path) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, copy)
    return copy


@pytest.fixture
def contracts_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "team.yml").write_text(yaml.safe_dump(sensor_contract()))
    monkeypatch.setenv("DORA_CONTRACTS", str(folder))
    return folder


class WebhookServer:
    """A webhook on 127.0.0.1 that responds with the queued status codes, then 200."""

    def __init__(self, statuses: list[int] | None = None):
        self.statuses = list(statuses or [])
        self.requests: list[tuple[int, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = server.statuses.pop(0) if server.statuses else 200
                server.requests.append((status, body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook?token=secret-token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def delivered_texts(self) -> list[str]:
        return [body["text"] for status, body in self.requests if status == 200]


@pytest.fixture
def webhook(monkeypatch):
    def start(statuses=None):
        server = WebhookServer(statuses)
        monkeypatch.setenv(WEBHOOK_ENV, server.url)
        return server

    return start


def tick(instance, warehouse: Path, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
    )
    result = contract_breach_sensor(context)
    return context.cursor, result


def refresh_happened(instance) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=BREACH_EVENTS_KEY))


def table_rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_breach_notified_once_across_ticks(warehouse, contracts_dir, webhook):
    instance = dg.DagsterInstance.ephemeral()
    with webhook() as server:
        refresh_happened(instance)
        cursor, _ = tick(instance, warehouse, None)
        assert len(server.delivered_texts()) == EXPECTED_EVENTS
        cursor, result = tick(instance, warehouse, cursor)
        assert "no new refresh" in result.skip_message
        # A second refresh with the same data has no new change to notify.
        refresh_happened(instance)
        cursor, _ = tick(instance, warehouse, cursor)
        texts = server.delivered_texts()
    assert len(texts) == EXPECTED_EVENTS
    assert len(set(texts)) == EXPECTED_EVENTS
    assert any("outcome df breached on 2026-03-20" in text for text in texts)
    assert any("outcome df recovered on 2026-04-03" in text for text in texts)
    assert any("outcome ttr breached on 2026-03-18" in text for text in texts)
    assert json.loads(cursor)["pending"] == 0


def test_breaches_table_records_each_change(warehouse, contracts_dir, webhook):
    instance = dg.DagsterInstance.ephemeral()
    with webhook():
        refresh_happened(instance)
        tick(instance, warehouse, None)
    rows = table_rows(
        warehouse,
        "select outcome_id, cast(event_date as varchar), status_change, criterion_value, "
        "target_value from contract_breaches order by event_date",
    )
    assert rows == [
        ("ttr", "2026-03-18", "breach", 6.0, 5.0),
        ("df", "2026-03-20", "breach", 7.0, 8.0),
        ("df", "2026-04-03", "recovery", 9.0, 8.0),
    ]


def test_restart_with_stored_cursor_sends_nothing(warehouse, contracts_dir, webhook):
    with webhook() as server:
        first = dg.DagsterInstance.ephemeral()
        refresh_happened(first)
        cursor, _ = tick(first, warehouse, None)
        # A restarted daemon: a new process state, the stored cursor, a new refresh.
        restarted = dg.DagsterInstance.ephemeral()
        refresh_happened(restarted)
        refresh_happened(restarted)
        tick(restarted, warehouse, cursor)
        # A lost cursor: the breaches table still stores what was recorded.
        tick(restarted, warehouse, None)
        assert len(server.requests) == EXPECTED_EVENTS
    assert table_rows(warehouse, "select count(*) from contract_breaches") == [(EXPECTED_EVENTS,)]


def test_failing_webhook_retried_next_tick(warehouse, contracts_dir, webhook):
    instance = dg.DagsterInstance.ephemeral()
    with webhook(statuses=[500]) as server:
        refresh_happened(instance)
        cursor, result = tick(instance, warehouse, None)
        assert "1 failed, 1 pending" in result.skip_message
        assert json.loads(cursor)["pending"] == 1
        assert len(server.delivered_texts()) == EXPECTED_EVENTS - 1
        failed_text = server.requests[0][1]["text"]

        cursor, result = tick(instance, warehouse, cursor)
        assert "delivered 1 notification(s), 0 failed, 0 pending" in result.skip_message
        cursor, result = tick(instance, warehouse, cursor)
        assert "no new refresh and nothing pending" in result.skip_message
        statuses = [status for status, _ in server.requests]
        texts = server.delivered_texts()
    assert statuses == [500, 200, 200, 200]
    assert texts.count(failed_text) == 1
    assert len(set(texts)) == EXPECTED_EVENTS
    attempts = table_rows(
        warehouse,
        "select attempts from contract_notification_outbox where channel like 'webhook%' "
        "order by attempts",
    )
    assert attempts == [(1,), (1,), (2,)]


def test_missing_webhook_variable_stays_pending(warehouse, contracts_dir, webhook, monkeypatch):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    contracts = load_contracts(contracts_dir)
    log = logging.getLogger("test.contract")
    first = process_breach_tick(str(warehouse), contracts, None, 1, log)
    assert (first.recorded, first.failed, first.pending) == (EXPECTED_EVENTS, 3, 3)
    errors = table_rows(
        warehouse,
        "select distinct last_error from contract_notification_outbox where delivered_at is null",
    )
    assert errors == [
        (f"environment variable {WEBHOOK_ENV} is not set: set it to the webhook URL",)
    ]
    with webhook() as server:
        second = process_breach_tick(str(warehouse), contracts, first.cursor, 1, log)
        assert (second.recorded, second.delivered, second.pending) == (0, 3, 0)
        assert len(server.requests) == EXPECTED_EVENTS


def test_webhook_error_hides_url(warehouse, contracts_dir, monkeypatch):
    # Nothing listens on port 9 of 127.0.0.1: the connection is refused.
    monkeypatch.setenv(WEBHOOK_ENV, "http://127.0.0.1:9/hook?token=secret-token")
    contracts = load_contracts(contracts_dir)
    result = process_breach_tick(str(warehouse), contracts, None, 1, logging.getLogger("t"))
    assert result.failed == EXPECTED_EVENTS
    errors = table_rows(
        warehouse,
        "select distinct last_error from contract_notification_outbox where last_error is not null",
    )
    assert errors == [(f"webhook {WEBHOOK_ENV} failed: ConnectionError",)]


def test_log_line_once_per_change(warehouse, contracts_dir, caplog):
    contracts = load_contracts(contracts_dir)
    log = logging.getLogger("test.contract.log")
    contracts = [
        contract.__class__(**{**contract.__dict__, "notifications": contract.notifications[:1]})
        for contract in contracts
    ]
    with caplog.at_level(logging.INFO, logger="test.contract.log"):
        first = process_breach_tick(str(warehouse), contracts, None, 1, log)
        process_breach_tick(str(warehouse), contracts, first.cursor, 2, log)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Contract team")]
    assert len(lines) == EXPECTED_EVENTS
    assert len(set(lines)) == EXPECTED_EVENTS


def test_json_webhook_payload(warehouse, contracts_dir, webhook):
    (contracts_dir / "team.yml").write_text(yaml.safe_dump(sensor_contract(fmt="json")))
    contracts = load_contracts(contracts_dir)
    with webhook() as server:
        process_breach_tick(str(warehouse), contracts, None, 1, logging.getLogger("t"))
        bodies = [body for _, body in server.requests]
    first = min(bodies, key=lambda body: body["event_date"])
    assert first["contract_id"] == "team"
    assert first["outcome_id"] == "ttr"
    assert first["event_date"] == "2026-03-18"
    assert first["status_change"] == "breach"
    assert "criterion value 6.00 minutes, target <= 5 minutes" in first["message"]


def test_locked_warehouse_keeps_cursor(warehouse, contracts_dir, webhook):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        contracts = load_contracts(contracts_dir)
        locked = process_breach_tick(str(warehouse), contracts, None, 5, logging.getLogger("t"))
        assert locked.skipped_reason is not None
        assert "lock" in locked.skipped_reason.lower()
        assert locked.cursor == "{}"
    finally:
        holder.stdin.close()
        holder.wait()
    with webhook() as server:
        result = process_breach_tick(
            str(warehouse), contracts, locked.cursor, 5, logging.getLogger("t")
        )
        assert result.recorded == EXPECTED_EVENTS
        assert len(server.requests) == EXPECTED_EVENTS


def test_record_then_deliver_directly(warehouse, contracts_dir, monkeypatch):
    contracts = load_contracts(contracts_dir)
    sent = []

    class Response:
        status_code = 204

    def post(url, json, timeout):
        sent.append(json["text"])
        return Response()

    monkeypatch.setenv(WEBHOOK_ENV, "http://127.0.0.1:1/unused")
    with duckdb.connect(str(warehouse)) as con:
        assert len(record_breaches(con, contracts)) == EXPECTED_EVENTS
        assert record_breaches(con, contracts) == []
        report = deliver_pending(con, post=post, log=logging.getLogger("t"))
        assert (report.delivered, report.pending) == (2 * EXPECTED_EVENTS, 0)
        assert deliver_pending(con, post=post).delivered == 0
    assert len(sent) == EXPECTED_EVENTS


def test_record_before_first_refresh(tmp_path, contracts_dir):
    empty = tmp_path / "empty.duckdb"
    with duckdb.connect(str(empty)) as con:
        assert record_breaches(con, load_contracts(contracts_dir)) == []
        assert deliver_pending(con).pending == 0
