"""Planted secrets never leave the environment: not in logs, errors, metadata or the warehouse.

A token is planted in the token variable of GitHub, GitLab and PagerDuty, and
each source's assets run twice against its fake server on 127.0.0.1: once
accepting the token, once refusing it (so the error path runs). Then every
captured log record, every Dagster event (message, metadata, failure text)
and every column of every table of the DuckDB file and of each landing file,
cast to text, is searched for the token. A webhook URL with a secret path is checked the same way.

One GitHub extraction run and one whole ``refresh_all`` run with a contract whose webhook URL is
planted is searched further: the dashboard HTML, the published DuckDB copy
and Parquet files, the contract reports and every file the run wrote.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests
import yaml

from dagster_project.contract import notifications
from dagster_project.defs import github as github_defs
from dagster_project.defs import gitlab as gitlab_defs
from dagster_project.defs import incidents
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.partitions import GITHUB, GITLAB, PAGERDUTY
from dagster_project.pipeline import RefreshResult
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.incident_servers import (
    FakePagerDuty,
    load_constructed_pagerduty,
    load_pagerduty_fixtures,
)
from tests.partition_runs import materialize_source

GITHUB_TOKEN = "ghp_PLANTEDgithubSecret0123456789abcdefXYZ"
GITLAB_TOKEN = "glpat-PLANTEDgitlabSecret0123456789"
PAGERDUTY_TOKEN = "PLANTEDpagerdutySecret0123456789"
WEBHOOK_SECRET = "T0PLANTED/B0SECRET/webhookPathSecret123"
SECRETS = (GITHUB_TOKEN, GITLAB_TOKEN, PAGERDUTY_TOKEN, WEBHOOK_SECRET)


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


def _event_texts(result: RefreshResult) -> list[str]:
    """Messages, metadata values and failure texts of every Dagster event of a run."""
    texts = []
    for event in result.all_events:
        texts.append(event.message or "")
        data = event.event_specific_data
        materialization = getattr(data, "materialization", None)
        if materialization is not None:
            texts += [f"{key}={value.value!r}" for key, value in materialization.metadata.items()]
        error = getattr(data, "error", None)
        if error is not None:
            texts.append(error.to_string())
    return texts


def _warehouse_texts(path: Path) -> list[str]:
    """Every value of every column of every table, cast to text."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        texts = []
        tables = con.execute(
            "select table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            columns = [row[0] for row in con.execute(f'describe "{table}"').fetchall()]
            for column in columns:
                values = con.execute(
                    f'select cast("{column}" as varchar) from "{table}"'
                ).fetchall()
                texts += [value for (value,) in values if value is not None]
        return texts
    finally:
        con.close()


def _assert_clean(texts: list[str], where: str) -> None:
    for secret in SECRETS:
        leaked = [text[:200] for text in texts if secret in text]
        assert not leaked, f"{secret[:12]}... found in {where}: {leaked[:2]}"


def _config(tmp_path: Path, sources: dict) -> str:
    path = tmp_path / "dora.yml"
    path.write_text(yaml.safe_dump({"sources": sources}))
    return str(path)


def _run(source, assets, tmp_path: Path, config: str, **resources) -> RefreshResult:
    return materialize_source(
        source,
        assets,
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
            "run_settings": RunSettingsResource(config_path=config),
            **resources,
        },
    )


def _assert_files_clean(tmp_path: Path) -> None:
    """Search the warehouse and every landing file beside it."""
    landing_files = sorted((tmp_path / "w.landing").rglob("*.duckdb"))
    assert landing_files, "the extraction must have written a landing file"
    for path in [tmp_path / "w.duckdb", *landing_files]:
        _assert_clean(_warehouse_texts(path), str(path.relative_to(tmp_path)))


def test_github_token_not_leaked_on_success_or_failure(tmp_path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DORA_TEST_PLANTED_GITHUB", GITHUB_TOKEN)
    results = []
    with FakeGitHub() as server:
        server.api.expected_auth = f"Bearer {GITHUB_TOKEN}"
        section = {
            "base_url": server.base_url,
            "token_env": "DORA_TEST_PLANTED_GITHUB",
            "repos": [{"repo": "acme/ants", "services": ["ants"], "branch": "master"}],
        }
        config = _config(tmp_path, {"github": section})
        resources = {"github": github_defs.GitHubResource()}
        results.append(_run(GITHUB, github_defs.GITHUB_ASSETS, tmp_path, config, **resources))
        server.api.expected_auth = "Bearer another-token"
        results.append(_run(GITHUB, github_defs.GITHUB_ASSETS, tmp_path, config, **resources))
        sent = {request.headers.get("authorization") for request in server.api.requests}
    assert results[0].success and not results[1].success
    assert f"Bearer {GITHUB_TOKEN}" in sent, "the token must reach the server"
    for result in results:
        _assert_clean(_event_texts(result), "Dagster events")
    _assert_clean([record.getMessage() for record in caplog.records], "logs")
    _assert_files_clean(tmp_path)


def test_gitlab_token_not_leaked_on_success_or_failure(tmp_path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DORA_TEST_PLANTED_GITLAB", GITLAB_TOKEN)
    results = []
    with FakeGitLab() as server:
        server.api.expected_auth = GITLAB_TOKEN
        section = {
            "base_url": server.base_url,
            "token_env": "DORA_TEST_PLANTED_GITLAB",
            "projects": [
                {"project": "acme/app", "services": ["app"], "deploy_pipeline_ref": "master"}
            ],
        }
        config = _config(tmp_path, {"gitlab": section})
        resources = {"gitlab": gitlab_defs.GitLabResource()}
        results.append(_run(GITLAB, gitlab_defs.GITLAB_ASSETS, tmp_path, config, **resources))
        server.api.expected_auth = "another-token"
        results.append(_run(GITLAB, gitlab_defs.GITLAB_ASSETS, tmp_path, config, **resources))
    assert results[0].success and not results[1].success
    for result in results:
        _assert_clean(_event_texts(result), "Dagster events")
    _assert_clean([record.getMessage() for record in caplog.records], "logs")
    _assert_files_clean(tmp_path)


def test_pagerduty_token_not_leaked_on_success_or_failure(tmp_path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DORA_TEST_PLANTED_PAGERDUTY", PAGERDUTY_TOKEN)
    fixtures, entries = load_pagerduty_fixtures()
    extra, extra_entries = load_constructed_pagerduty()
    results = []
    with FakePagerDuty(fixtures + extra, {**entries, **extra_entries}, PAGERDUTY_TOKEN) as server:
        section = {
            "base_url": server.base_url,
            "token_env": "DORA_TEST_PLANTED_PAGERDUTY",
            "since": "2022-11-01T00:00:00Z",
        }
        config = _config(tmp_path, {"pagerduty": section})
        resources = {
            "pagerduty_api": incidents.PagerDutyResource(),
            "opsgenie_api": incidents.OpsgenieResource(),
            "statuspage_source": incidents.StatuspageResource(),
        }
        pagerduty_assets = [incidents.extract_pagerduty, incidents.raw_pagerduty]
        results.append(_run(PAGERDUTY, pagerduty_assets, tmp_path, config, **resources))
        server.expected_auth = "Token token=another-token"
        results.append(_run(PAGERDUTY, pagerduty_assets, tmp_path, config, **resources))
    assert results[0].success and not results[1].success
    for result in results:
        _assert_clean(_event_texts(result), "Dagster events")
    _assert_clean([record.getMessage() for record in caplog.records], "logs")
    _assert_files_clean(tmp_path)


@pytest.mark.parametrize("status", [None, 500], ids=["unreachable", "server-error"])
def test_webhook_url_not_in_delivery_errors(monkeypatch, caplog, status) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:9/hooks/{WEBHOOK_SECRET}"
    monkeypatch.setenv("DORA_TEST_PLANTED_WEBHOOK", url)

    def post(target: str, **_: object) -> requests.Response:
        assert target == url
        if status is None:
            raise requests.ConnectionError(f"cannot connect to {target}")
        response = requests.Response()
        response.status_code = status
        response._content = f"error for {target}".encode()
        return response

    row = {"channel": "webhook:DORA_TEST_PLANTED_WEBHOOK:slack", "message": "breach"}
    with pytest.raises(RuntimeError) as raised:
        notifications._send(row, post, logging.getLogger("test"))
    assert "DORA_TEST_PLANTED_WEBHOOK" in str(raised.value)
    _assert_clean([str(raised.value), repr(raised.value)], "the delivery error")
    _assert_clean([record.getMessage() for record in caplog.records], "logs")


# Paths from configuration and data ----------------------------------------------------------
#
# Policy: the configuration is written by the operator. An absolute events
# folder is honoured as written; a relative one must stay inside the folder
# of the configuration file. Files inside the events folder are data: a file
# that is a link to somewhere outside the folder is not read, and the refusal
# is recorded in quarantine with the reason.


def test_relative_events_folder_may_not_leave_the_config_folder(tmp_path: Path) -> None:
    from dagster_project.config import ConfigError, load_config

    config = tmp_path / "conf" / "dora.yml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({"sources": {"files": {"path": "../../etc"}}}))
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert "sources.files.path: '../../etc' leaves the folder of the configuration" in str(
        raised.value
    )


def test_relative_and_absolute_events_folders_inside_rules_load(tmp_path: Path) -> None:
    from dagster_project.config import load_config

    config = tmp_path / "dora.yml"
    config.write_text(yaml.safe_dump({"sources": {"files": {"path": "events/../events"}}}))
    assert load_config(config).events_dir == (tmp_path / "events").resolve()
    outside = tmp_path.parent / "shared-events"
    config.write_text(yaml.safe_dump({"sources": {"files": {"path": str(outside)}}}))
    assert load_config(config).events_dir == outside.resolve()


def test_link_out_of_the_events_folder_is_quarantined_not_read(tmp_path: Path) -> None:
    from dagster_project.config import PipelineConfig
    from dagster_project.sources import files

    secret = tmp_path / "private" / "commits.json"
    secret.parent.mkdir()
    secret.write_text('[{"sha": "SECRET-CONTENT"}]')
    events = tmp_path / "events"
    events.mkdir()
    (events / "commits.json").symlink_to(secret)
    (events / "real.json").write_text("[]")
    (events / "pull_requests.json").symlink_to(events / "real.json")  # inside: allowed

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        extract = files.load_events(con, events, PipelineConfig(events_dir=events))
        stored = con.execute("select reason, raw_content from quarantine").fetchall()
    [(reason, raw)] = stored
    assert "commits.json is a link to" in reason and "outside the events folder" in reason
    assert raw is None
    assert extract.rows["commits"] == []
    assert str(events / "pull_requests.json") in extract.files
    assert all("SECRET-CONTENT" not in str(row) for row in extract.rows.values())


# Every output of a whole refresh ---------------------------------------------------------------


def _parquet_texts(folder: Path) -> list[str]:
    """Return every value of every Parquet file under ``folder`` (links followed) as text."""
    texts = []
    files = sorted(path for path in folder.rglob("*.parquet"))
    if (folder / "parquet").is_symlink():
        files += sorted((folder / "parquet").resolve().rglob("*.parquet"))
    with duckdb.connect() as con:
        for path in files:
            columns = [
                row[0]
                for row in con.execute(
                    "describe select * from read_parquet(?)", [str(path)]
                ).fetchall()
            ]
            for column in columns:
                rows = con.execute(
                    f'select cast("{column}" as varchar) from read_parquet(?)', [str(path)]
                ).fetchall()
                texts += [value for (value,) in rows if value is not None]
    assert files, f"no Parquet file under {folder}"
    return texts


def _file_texts(root: Path) -> list[str]:
    """Return the bytes of every file under ``root``, decoded with replacement."""
    return [
        path.read_bytes().decode("utf-8", "replace")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]


def _contract_with_webhook(folder: Path, url_env: str) -> Path:
    """Copy the default contract, starting in the tiny history, with a webhook channel."""
    from dagster_project import settings

    contract = yaml.safe_load((settings.PROJECT_ROOT / "contracts" / "default.yml").read_text())
    contract["start_date"] = "2024-03-01"
    contract["notifications"] = [
        {"type": "log"},
        {"type": "webhook", "url_env": url_env, "format": "slack"},
    ]
    folder.mkdir()
    (folder / "default.yml").write_text(yaml.safe_dump(contract, sort_keys=False))
    return folder


def test_secrets_absent_from_refresh_outputs(tmp_path, monkeypatch, caplog, capfd) -> None:
    """The GitHub extraction run and a whole refresh_all run, with a webhook contract channel.

    The job runs as the daemon runs it, then the breach sensor's tick
    records breaches and fails to deliver them to the planted webhook URL,
    and the marts are published again. Searched: log records, captured
    output, Dagster events, every table of the warehouse and of the
    published DuckDB file, every Parquet file, the dashboard HTML, the
    contract reports, and the bytes of every file the run wrote.
    """
    from dagster_project import publish
    from dagster_project.contract import load_contracts
    from dagster_project.definitions import REFRESH_ALL, defs
    from dagster_project.defs.contract import process_breach_tick
    from tests.reliability_helpers import AS_OF, tiny_events

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DORA_TEST_PLANTED_GITHUB", GITHUB_TOKEN)
    monkeypatch.setenv("DORA_TEST_PLANTED_WEBHOOK", f"http://127.0.0.1:9/hooks/{WEBHOOK_SECRET}")
    out = tmp_path / "out"
    warehouse_path = out / "w.duckdb"
    monkeypatch.setenv("DORA_WAREHOUSE", str(warehouse_path))
    events = tiny_events(tmp_path / "events")
    contracts = _contract_with_webhook(tmp_path / "contracts", "DORA_TEST_PLANTED_WEBHOOK")
    dashboard_file = out / "dashboard.html"
    published = out / "published"
    reports = out / "reports"
    with FakeGitHub() as server:
        server.api.expected_auth = f"Bearer {GITHUB_TOKEN}"
        section = {
            "base_url": server.base_url,
            "token_env": "DORA_TEST_PLANTED_GITHUB",
            "repos": [{"repo": "acme/ants", "services": ["ants"], "branch": "master"}],
        }
        config = _config(tmp_path, {"github": section})
        run_config = {
            "resources": {
                "warehouse": {"config": {"path": str(warehouse_path)}},
                "run_settings": {
                    "config": {
                        "config_path": config,
                        "events_dir": str(events),
                        "as_of": AS_OF,
                        "contracts_path": str(contracts),
                    }
                },
            },
            "ops": {
                "contract_report": {
                    "config": {"contracts_path": str(contracts), "output_dir": str(reports)}
                },
                "dashboard": {"config": {"output_path": str(dashboard_file)}},
                "published_marts": {"config": {"published_dir": str(published)}},
            },
        }
        # As the daemon does: the repository's extraction run, then the refresh job.
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(GITHUB.partitions.name, ["github:acme/ants"])
        extraction = defs.resolve_job_def(GITHUB.job_name).execute_in_process(
            run_config={"resources": run_config["resources"]},
            instance=instance,
            partition_key="github:acme/ants",
            raise_on_error=False,
        )
        refresh = defs.resolve_job_def(REFRESH_ALL).execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False
        )
        result = RefreshResult([extraction, refresh])
        sent = {request.headers.get("authorization") for request in server.api.requests}
    assert result.success, [event.message for event in result.all_events if event.is_failure]
    assert f"Bearer {GITHUB_TOKEN}" in sent, "the token must reach the server"
    tick = process_breach_tick(
        str(warehouse_path), load_contracts(str(contracts)), None, 1, logging.getLogger("test")
    )
    publish.publish_marts(warehouse_path, published)

    assert tick.failed > 0, "the webhook delivery must be attempted and fail"
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from raw_github__pull_requests").fetchone()[0] > 0
        attempts = con.execute(
            "select count(*) from contract_notification_outbox where channel like 'webhook%'"
        ).fetchone()[0]
        assert attempts > 0
    report_files = sorted(reports.glob("*.md"))
    assert report_files, "the contract report must be written"
    assert dashboard_file.is_file()
    captured = capfd.readouterr()

    _assert_clean([record.getMessage() for record in caplog.records], "logs")
    _assert_clean([captured.out, captured.err], "captured output")
    _assert_clean(_event_texts(result), "Dagster events")
    _assert_clean(_warehouse_texts(warehouse_path), "the warehouse")
    _assert_clean(_warehouse_texts(published / publish.DATABASE_NAME), "the published DuckDB file")
    _assert_clean(_parquet_texts(published), "the published Parquet files")
    _assert_clean([dashboard_file.read_text(encoding="utf-8")], "the dashboard")
    _assert_clean([path.read_text(encoding="utf-8") for path in report_files], "the reports")
    _assert_clean(_file_texts(out), "the files the run wrote")


def test_contract_id_stays_in_reports(tmp_path: Path) -> None:
    """The report of a contract is written to ``<reports>/contract_<id>.md``."""
    from dagster_project import settings
    from dagster_project.contract import load_contracts
    from dagster_project.contract.validation import ContractError

    contract = yaml.safe_load((settings.PROJECT_ROOT / "contracts" / "default.yml").read_text())
    contract["id"] = "../../outside"
    path = tmp_path / "escape.yml"
    path.write_text(yaml.safe_dump(contract))
    with pytest.raises(ContractError) as raised:
        load_contracts(str(path))
    assert "id" in str(raised.value)
    assert "must be lower case letters, digits and _ starting with a letter" in str(raised.value)
