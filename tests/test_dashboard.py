"""The HTML dashboard, the mart metrics metadata and the published copy, on the real sample.

The refresh job runs once per test session on the bundled sample
(``data/sample/``) into a temporary warehouse. The page is opened in headless
Chromium through the Chrome DevTools Protocol: the tests collect console
messages, exceptions, log entries and network requests, read the DOM, and
drive the filters. A second warehouse gets the contract marts built with a
test contract, so the contract section is checked with statuses whether or not
the refresh loads a contract itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from base64 import b64decode
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from websockets.sync import client as websockets_client

from dagster_project.dashboard import read_dashboard_data, render_dashboard, write_dashboard
from dagster_project.dashboard.render import embed_json

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_EVENTS = REPO_ROOT / "data" / "sample"
TEST_CONTRACT = Path(__file__).resolve().parent / "data" / "dashboard" / "contract.yml"
ARTIFACTS = REPO_ROOT / "test-artifacts"
AS_OF = "2026-11-30T23:59:59+00:00"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1280,2000",
]
REPORT_ASSETS = {"mart_metrics", "dashboard", "published_marts"}
CONTRACT_MODELS = "path:models/marts/contract"
# Safety limit for one DevTools reply, because a healthy page replies within a second.
CDP_TIMEOUT_SECONDS = 120


@dataclass
class SampleBuild:
    warehouse: Path
    dashboard: Path
    published: Path
    materialized: set[str]
    metadata: dict[str, dict[str, Any]]


def _materializations(result) -> tuple[set[str], dict[str, dict[str, Any]]]:
    keys, metadata = set(), {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key.to_user_string()
        keys.add(key)
        metadata[key] = {name: value.value for name, value in materialization.metadata.items()}
    return keys, metadata


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory) -> SampleBuild:
    """Run the refresh job on the bundled sample; return the warehouse and what it wrote."""
    from dagster_project import pipeline
    from dagster_project.cli import _failure_message

    folder = tmp_path_factory.mktemp("dashboard_sample")
    warehouse = folder / "warehouse.duckdb"
    result = pipeline.run_refresh_job(
        str(warehouse), {"events_dir": str(SAMPLE_EVENTS), "as_of": AS_OF}
    )
    if not result.success:
        pytest.fail(_failure_message(result))
    materialized, metadata = _materializations(result)
    if not materialized >= REPORT_ASSETS:
        # The refresh job lacks the reporting assets (definitions.py does not merge
        # defs/dashboard.py yet): run them on the built warehouse so the other tests
        # still check them. test_refresh_runs_reporting_assets reports the gap.
        from dagster_project.defs import dashboard as reports
        from dagster_project.defs.resources import WarehouseResource

        extra = dg.materialize(
            [reports.mart_metrics, reports.dashboard, reports.published_marts],
            resources={"warehouse": WarehouseResource(path=str(warehouse))},
        )
        assert extra.success
        _keys, extra_metadata = _materializations(extra)
        metadata.update(extra_metadata)
    return SampleBuild(
        warehouse, folder / "dashboard.html", folder / "published", materialized, metadata
    )


def _contract_vars(warehouse: Path) -> dict[str, Any]:
    from dagster_project.contract import load_contracts
    from dagster_project.contract.dbt_vars import contract_vars

    with duckdb.connect(str(warehouse), read_only=True) as con:
        timezone = con.execute("select timezone from pipeline_settings").fetchone()[0]
    return {**contract_vars(load_contracts(TEST_CONTRACT)), "as_of": AS_OF, "timezone": timezone}


@pytest.fixture(scope="session")
def contract_build(sample_build, tmp_path_factory) -> Path:
    """Copy the sample warehouse and build the contract marts in it with the test contract."""
    folder = tmp_path_factory.mktemp("dashboard_contract")
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(sample_build.warehouse, warehouse)
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt),
        "build",
        "--select",
        CONTRACT_MODELS,
        "--vars",
        json.dumps(_contract_vars(warehouse)),
        "--target-path",
        str(folder / "target"),
        "--log-path",
        str(folder / "logs"),
    ]
    environment = {**os.environ, "DORA_WAREHOUSE": str(warehouse)}
    completed = subprocess.run(
        command,
        cwd=REPO_ROOT / "dbt_project",
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        write_dashboard(read_dashboard_data(con), folder / "dashboard.html")
    return warehouse


# ---- a small Chrome DevTools Protocol client --------------------------------------


class DevToolsSession:
    """One page of a headless Chromium, driven over the DevTools websocket."""

    def __init__(self, socket, session_id: str) -> None:
        self.socket = socket
        self.session_id = session_id
        self.events: list[dict[str, Any]] = []
        self._next_id = 0

    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session_id
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv(timeout=CDP_TIMEOUT_SECONDS))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def wait_for_event(self, method: str) -> dict:
        for event in self.events:
            if event["method"] == method:
                return event
        while True:
            event = json.loads(self.socket.recv(timeout=CDP_TIMEOUT_SECONDS))
            if "method" in event:
                self.events.append(event)
                if event["method"] == method:
                    return event

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Return every console error or warning, uncaught exception and error log entry."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and params["type"] in {
                "error",
                "warning",
                "assert",
            }:
                found.append(f"console {params['type']}: {params['args']}")
            elif event["method"] == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] in {
                "error",
                "warning",
            }:
                found.append(f"log {params['entry']['level']}: {params['entry']['text']}")
        return found

    def requested_urls(self) -> list[str]:
        """Return the URLs the page requested; ``data:`` URLs load nothing and are left out."""
        urls = [
            event["params"]["request"]["url"]
            for event in self.events
            if event["method"] == "Network.requestWillBeSent"
        ]
        return [url for url in urls if not url.startswith("data:")]


def _drain(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


@contextmanager
def open_page(path: Path):
    """Open ``path`` in a fresh headless Chromium and yield its DevTools session."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `apt-get install -y chromium`")
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    process = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr_lines: list[str] = []
    try:
        endpoint = None
        for line in process.stderr:
            stderr_lines.append(line)
            match = re.search(r"DevTools listening on (ws://127\.0\.0\.1:\d+/\S+)", line)
            if match:
                endpoint = match.group(1)
                break
        assert endpoint, "chromium did not start its DevTools endpoint:\n" + "".join(stderr_lines)
        threading.Thread(target=_drain, args=(process.stderr, stderr_lines), daemon=True).start()
        with websockets_client.connect(endpoint, max_size=None) as socket:
            browser = DevToolsSession(socket, "")
            target = browser.send("Target.createTarget", {"url": "about:blank"}, session=False)
            attached = browser.send(
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
                session=False,
            )
            page = DevToolsSession(socket, attached["sessionId"])
            page._next_id = browser._next_id
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.send(f"{domain}.enable")
            page.send("Page.navigate", {"url": path.resolve().as_uri()})
            page.wait_for_event("Page.loadEventFired")
            yield page
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def save_screenshot(page: DevToolsSession, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    width, height = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    shot = page.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path = ARTIFACTS / name
    path.write_bytes(b64decode(shot["data"]))
    return path


# ---- reading the marts for comparison -------------------------------------------------

DOM_STATE = """JSON.stringify({
  rendered: document.body.getAttribute('data-rendered'),
  charts: Array.from(document.querySelectorAll('svg.chart-svg')).map(function (svg) {
    return {
      metric: svg.getAttribute('data-metric'),
      declared: Number(svg.getAttribute('data-point-count')),
      values: Array.from(svg.querySelectorAll('circle.point')).map(function (c) {
        return [c.getAttribute('data-date'), Number(c.getAttribute('data-value'))];
      }),
      trailing: Number(svg.querySelector('path.trailing').getAttribute('data-point-count')),
      target: svg.querySelector('line.target') ? Number(svg.querySelector('line.target').getAttribute('data-target')) : null
    };
  }),
  tiles: Array.from(document.querySelectorAll('.tile')).map(function (tile) {
    return [tile.getAttribute('data-metric'), tile.querySelector('.value').getAttribute('data-value')];
  }),
  statuses: Array.from(document.querySelectorAll('[data-outcome]')).map(function (span) {
    return [span.getAttribute('data-contract'), span.getAttribute('data-outcome'), span.getAttribute('data-status')];
  }),
  contractState: (document.getElementById('contract-state') || {}).getAttribute ? document.getElementById('contract-state').getAttribute('data-state') : null,
  contractText: document.getElementById('contract-body').textContent,
  incidentRows: Array.from(document.querySelectorAll('#open-incident-table tbody tr')).map(function (row) {
    return row.children[1].textContent;
  }),
  failedRows: Array.from(document.querySelectorAll('#failed-deployment-table tbody tr')).map(function (row) {
    return [row.children[0].textContent.slice(0, 10), row.children[1].textContent];
  }),
  levels: Array.from(document.querySelectorAll('#levels-by-service tbody tr')).map(function (row) {
    return Array.from(row.children).map(function (cell) { return cell.textContent; });
  }),
  history: Array.from(document.querySelectorAll('rect[data-outcome-run]')).map(function (rect) {
    return [rect.getAttribute('data-outcome-run'), rect.getAttribute('data-status')];
  }),
  bars: Array.from(document.querySelectorAll('svg.bars-svg[data-metric="deployments_per_day"] rect.bar')).map(function (bar) {
    return [bar.getAttribute('data-service'), Number(bar.getAttribute('data-value'))];
  }),
  from: document.getElementById('filter-from').value,
  to: document.getElementById('filter-to').value
})"""


def dom_state(page: DevToolsSession) -> dict[str, Any]:
    return json.loads(page.evaluate(DOM_STATE))


def daily_values(warehouse: Path, column: str, service: str, first: str, last: str, scale=1.0):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            f"""
            select cast(metric_date as varchar), {column}
            from dora_daily
            where service = ? and metric_date between ? and ? and {column} is not null
            order by metric_date
            """,
            [service, first, last],
        ).fetchall()
    return [(day, value * scale) for day, value in rows]


def trailing_value(warehouse: Path, column: str, service: str, window: int = 30):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"""
            select {column} from dora_trailing_metrics
            where service = ? and window_days = ?
              and as_of_date = (select max(as_of_date) from dora_trailing_metrics)
            """,
            [service, window],
        ).fetchone()[0]


def contract_statuses(warehouse: Path) -> list[list[str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            """
            select contract_id, outcome_id, status
            from contract_outcome_daily
            qualify row_number() over (
                partition by contract_id, outcome_id order by metric_date desc
            ) = 1
            order by contract_id, outcome_id
            """
        ).fetchall()
    return [list(row) for row in rows]


def assert_values_close(shown: list, expected: list) -> None:
    assert [day for day, _ in shown] == [day for day, _ in expected]
    for (day, value), (_, wanted) in zip(shown, expected, strict=True):
        assert value == pytest.approx(wanted, rel=1e-9), day


# ---- tests ----------------------------------------------------------------------------


def test_embedded_json_cannot_close_script():
    text = embed_json({"note": "</script><script>alert(1)</script> & <!--"})
    assert "<" not in text
    assert ">" not in text
    assert json.loads(text) == {"note": "</script><script>alert(1)</script> & <!--"}


def test_headline_metadata_keys():
    from dagster_project.defs.dashboard import headline_metadata

    metadata = headline_metadata(
        {
            "__all__": {"deployments_per_day": 7.5, "change_failure_rate": None},
            "web": {"deployments_per_day": 2.25, "mttr_minutes": 12.0},
        }
    )

    assert list(metadata) == [
        "deployments_per_day",
        "deployments_per_day.web",
        "mttr_minutes.web",
    ]
    assert metadata["deployments_per_day"] == dg.MetadataValue.float(7.5)
    assert metadata["mttr_minutes.web"] == dg.MetadataValue.float(12.0)


def test_contract_markdown_table():
    from dagster_project.defs.dashboard import contract_markdown

    outcome = {
        "contract_id": "default",
        "outcome_id": "lead_time",
        "status": "at-risk",
        "status_date": "2026-11-30",
        "headline_value": 2.3456,
        "operator": "<=",
        "target_value": 2.5,
        "unit": "hours",
        "baseline_date": "2026-10-07",
    }

    table = contract_markdown({"present": True, "outcomes": [outcome]})

    assert table.splitlines()[2] == (
        "| default | lead_time | at-risk | 2026-11-30 | 2.35 | <= 2.50 hours | 2026-10-07 |"
    )
    assert contract_markdown({"present": False, "reason": "no contract is loaded"}) is None


@pytest.mark.slow
def test_refresh_runs_reporting_assets(sample_build):
    missing = REPORT_ASSETS - sample_build.materialized
    assert not missing, f"refresh_all did not materialize {sorted(missing)}"


@pytest.mark.slow
def test_page_has_no_external_references(sample_build):
    page = sample_build.dashboard.read_text(encoding="utf-8")
    assert "default-src 'none'" in page
    assert re.findall(r"""(?:src|href)\s*=\s*["'](?!#)""", page) == []
    assert re.findall(r"url\(|@import|https?://(?!www\.w3\.org/2000/svg)", page) == []


@pytest.mark.slow
def test_dashboard_loads_offline_without_errors(sample_build):
    with open_page(sample_build.dashboard) as page:
        state = dom_state(page)
        screenshot = save_screenshot(page, "dashboard.png")
        problems = page.problems()
        urls = page.requested_urls()
    assert state["rendered"] == "true"
    assert problems == []
    assert urls == [sample_build.dashboard.resolve().as_uri()]
    assert screenshot.stat().st_size > 10_000


@pytest.mark.slow
def test_dashboard_charts_match_marts(sample_build):
    warehouse = sample_build.warehouse
    with open_page(sample_build.dashboard) as page:
        state = dom_state(page)
    charts = {chart["metric"]: chart for chart in state["charts"]}
    assert set(charts) == {
        "deployments_per_day",
        "median_pr_lead_time_hours",
        "change_failure_rate",
        "mttr_minutes",
        "failed_deployment_recovery_minutes",
        "rework_rate",
    }
    for metric, chart in charts.items():
        assert chart["declared"] > 0, metric
        assert len(chart["values"]) == chart["declared"], metric
        assert chart["trailing"] > 0, metric

    first, last = state["from"], state["to"]
    assert_values_close(
        charts["deployments_per_day"]["values"],
        daily_values(warehouse, "deployment_count", "__all__", first, last),
    )
    assert_values_close(
        charts["median_pr_lead_time_hours"]["values"],
        daily_values(warehouse, "median_pr_lead_time_seconds", "__all__", first, last, 1 / 3600),
    )
    assert_values_close(
        charts["change_failure_rate"]["values"],
        daily_values(warehouse, "change_failure_rate", "__all__", first, last, 100),
    )

    tiles = dict(state["tiles"])
    expected_frequency = trailing_value(warehouse, "deployment_frequency_per_day", "__all__")
    assert float(tiles["deployments_per_day"]) == pytest.approx(expected_frequency)
    expected_restore = trailing_value(warehouse, "mean_restore_seconds", "__all__")
    assert float(tiles["mttr_minutes"]) == pytest.approx(expected_restore / 60)

    bars = dict(state["bars"])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        services = {row[0] for row in con.execute("select service from dim_services").fetchall()}
    assert set(bars) == services
    for service, value in bars.items():
        expected = trailing_value(warehouse, "deployment_frequency_per_day", service)
        assert value == pytest.approx(expected), service
    with duckdb.connect(str(warehouse), read_only=True) as con:
        open_incidents = con.execute("select count(*) from fct_incidents where is_open").fetchone()
        levels = dict(
            con.execute(
                "select metric, coalesce(level, 'no data') from dora_performance_levels "
                "where service = '__all__'"
            ).fetchall()
        )
    assert len(state["incidentRows"]) == open_incidents[0]
    all_services_levels = state["levels"][0]
    assert all_services_levels[0] == "All services"
    assert all_services_levels[1:] == [
        levels["deployment_frequency"],
        levels["lead_time_for_changes"],
        levels["change_failure_rate"],
        levels["time_to_restore"],
        levels["failed_deployment_recovery_time"],
    ]


@pytest.mark.slow
def test_dashboard_filters_by_service_and_date(sample_build):
    warehouse = sample_build.warehouse
    with open_page(sample_build.dashboard) as page:
        page.evaluate(
            "var s = document.getElementById('filter-service'); s.value = 'checkout';"
            "s.dispatchEvent(new Event('change')); true"
        )
        by_service = dom_state(page)
        page.evaluate(
            "var f = document.getElementById('filter-from'); f.value = '2026-11-01';"
            "f.dispatchEvent(new Event('change'));"
            "var t = document.getElementById('filter-to'); t.value = '2026-11-15';"
            "t.dispatchEvent(new Event('change')); true"
        )
        by_date = dom_state(page)
        problems = page.problems()
    assert problems == []
    charts = {chart["metric"]: chart for chart in by_service["charts"]}
    assert_values_close(
        charts["deployments_per_day"]["values"],
        daily_values(
            warehouse, "deployment_count", "checkout", by_service["from"], by_service["to"]
        ),
    )
    tiles = dict(by_service["tiles"])
    expected = trailing_value(warehouse, "deployment_frequency_per_day", "checkout")
    assert float(tiles["deployments_per_day"]) == pytest.approx(expected)
    assert set(by_service["incidentRows"]) <= {"checkout"}
    assert {service for _day, service in by_service["failedRows"]} == {"checkout"}

    assert (by_date["from"], by_date["to"]) == ("2026-11-01", "2026-11-15")
    charts = {chart["metric"]: chart for chart in by_date["charts"]}
    assert_values_close(
        charts["deployments_per_day"]["values"],
        daily_values(warehouse, "deployment_count", "checkout", "2026-11-01", "2026-11-15"),
    )
    assert all("2026-11-01" <= day <= "2026-11-15" for day, _ in by_date["failedRows"])


@pytest.mark.slow
def test_refresh_dashboard_contract_section(sample_build):
    expected = contract_statuses(sample_build.warehouse)
    with open_page(sample_build.dashboard) as page:
        state = dom_state(page)
    if expected:
        assert state["contractState"] == "present"
        assert sorted(state["statuses"]) == expected
    else:
        # The refresh loaded no contract: the page states that in place of statuses.
        assert state["contractState"] == "absent"
        assert "No contract" in state["contractText"]
        assert state["statuses"] == []


@pytest.mark.slow
def test_contract_statuses_match_mart(contract_build):
    expected = contract_statuses(contract_build)
    assert len(expected) == 4
    with open_page(contract_build.parent / "dashboard.html") as page:
        state = dom_state(page)
        save_screenshot(page, "dashboard-contract.png")
        problems = page.problems()
    assert problems == []
    assert state["contractState"] == "present"
    assert sorted(state["statuses"]) == expected
    last_run_status = dict(state["history"])
    assert last_run_status == {outcome: status for _contract, outcome, status in expected}
    with duckdb.connect(str(contract_build), read_only=True) as con:
        status_changes = con.execute(
            """
            select count(*) from (
                select status, lag(status) over (
                    partition by contract_id, outcome_id order by metric_date
                ) as previous_status
                from contract_outcome_daily
            )
            where previous_status is null or previous_status <> status
            """
        ).fetchone()[0]
    assert len(state["history"]) == status_changes
    charts = {chart["metric"]: chart for chart in state["charts"]}
    assert charts["deployments_per_day"]["target"] == 8.0
    assert charts["median_pr_lead_time_hours"]["target"] == 2.5
    assert charts["change_failure_rate"]["target"] == 2.0
    assert charts["mttr_minutes"]["target"] == 5.0
    assert charts["rework_rate"]["target"] is None


@pytest.mark.slow
def test_dashboard_without_contract_marts(sample_build, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_build.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for table in ("contract_outcome_daily", "contract_checkpoints", "contract_outcomes"):
            con.execute(f"drop table if exists {table}")
        data = read_dashboard_data(con)
    assert data["contract"]["present"] is False
    page_path = tmp_path / "dashboard.html"
    page_path.write_text(render_dashboard(data), encoding="utf-8")
    with open_page(page_path) as page:
        state = dom_state(page)
        problems = page.problems()
    assert problems == []
    assert state["contractState"] == "absent"
    assert "contract marts are not built" in state["contractText"]
    charts = {chart["metric"]: chart for chart in state["charts"]}
    # Without a contract the charts show the default targets.
    assert charts["deployments_per_day"]["target"] == 8.0
    assert charts["mttr_minutes"]["target"] == 5.0


@pytest.mark.slow
def test_mart_metrics_metadata(sample_build):
    from dagster_project.dashboard import headline_values

    metadata = sample_build.metadata["mart_metrics"]
    with duckdb.connect(str(sample_build.warehouse), read_only=True) as con:
        expected = headline_values(con)
    overall = expected["__all__"]
    assert metadata["deployments_per_day"] == pytest.approx(overall["deployments_per_day"])
    assert metadata["change_failure_rate"] == pytest.approx(overall["change_failure_rate"])
    assert metadata["mttr_minutes"] == pytest.approx(overall["mttr_minutes"])
    assert metadata["rework_rate"] == pytest.approx(overall["rework_rate"])
    assert metadata["failed_deployment_recovery_minutes"] == pytest.approx(
        overall["failed_deployment_recovery_minutes"]
    )
    assert metadata["median_pr_lead_time_hours"] == pytest.approx(
        overall["median_pr_lead_time_hours"]
    )
    assert metadata["deployments_per_day.checkout"] == pytest.approx(
        expected["checkout"]["deployments_per_day"]
    )
    assert "contract_status" in metadata
    assert "deployments_per_day" in sample_build.metadata["dashboard"]


@pytest.mark.slow
def test_published_marts_after_refresh(sample_build):
    database = sample_build.published / "dora_marts.duckdb"
    with duckdb.connect(str(database), read_only=True) as published:
        tables = {row[0] for row in published.execute("show tables").fetchall()}
        published_rows = published.execute("select count(*) from fct_deployments").fetchone()
    with duckdb.connect(str(sample_build.warehouse), read_only=True) as con:
        warehouse_rows = con.execute("select count(*) from fct_deployments").fetchone()
    assert {"fct_deployments", "dora_daily", "dq_issues", "quarantine_summary"} <= tables
    assert not any(table.startswith(("int_", "raw_", "stg_")) for table in tables)
    assert published_rows == warehouse_rows
    parquet = sample_build.published / "parquet" / "dora_daily" / "dora_daily.parquet"
    assert duckdb.execute(f"select count(*) from read_parquet('{parquet}')").fetchone()[0] > 0


@pytest.mark.slow
def test_dashboard_with_empty_marts(sample_build, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_build.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for table in ("dora_daily", "dora_trailing_metrics", "fct_incidents", "fct_deployments"):
            con.execute(f"delete from {table}")
        data = read_dashboard_data(con)
    page_path = tmp_path / "dashboard.html"
    page_path.write_text(render_dashboard(data), encoding="utf-8")
    with open_page(page_path) as page:
        state = dom_state(page)
        summary = page.evaluate("document.getElementById('filter-summary').textContent")
        problems = page.problems()
    assert problems == []
    assert state["rendered"] == "true"
    assert summary.startswith("No daily data yet")
    assert [chart["declared"] for chart in state["charts"]] == [0] * 6
    assert state["incidentRows"] == []
    assert state["failedRows"] == []
