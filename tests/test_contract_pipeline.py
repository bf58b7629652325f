"""The contract marts on a real refresh: one repository of the sample data.

The contract's headline values must agree with the trailing-window mart
(``dora_trailing_metrics``) that the rest of the pipeline publishes.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli import main as dora
from dagster_project.contract import load_contract
from tests.test_contract_marts import run_dbt

REPO_ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-12-01T00:00:00+00:00"
REPO = "accounts"


def write_repository_slice(sample: Path, events: Path) -> None:
    """Copy the commits, pull requests, deployments and incidents of one repository."""
    events.mkdir()
    deployments = [json.loads(line) for line in (sample / "deployments.jsonl").open()]
    deployments = [row for row in deployments if row["repo"] == REPO]
    services = {row["service"] for row in deployments}
    commits = [json.loads(line) for line in (sample / "commits.jsonl").open()]
    (events / "deployments.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in deployments)
    )
    (events / "commits.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in commits if row["repo"] == REPO)
    )
    pulls = json.loads((sample / "pull_requests.json").read_text())
    (events / "pull_requests.json").write_text(
        json.dumps([row for row in pulls if row["repo"] == REPO])
    )
    incidents = json.loads((sample / "incidents.json").read_text())
    (events / "incidents.json").write_text(
        json.dumps([row for row in incidents if row["service"] in services])
    )


@pytest.fixture(scope="module")
def pipeline_warehouse(tmp_path_factory, refresh):
    folder = tmp_path_factory.mktemp("contract_pipeline")
    assert dora(["sample", "--out", str(folder / "sample")]) == 0
    write_repository_slice(folder / "sample", folder / "events")
    warehouse = refresh(folder / "events", as_of=AS_OF)
    contract = load_contract(REPO_ROOT / "contracts" / "default.yml")
    results = run_dbt(warehouse, folder / "target", [contract], as_of=AS_OF)
    return warehouse, results


@pytest.fixture(scope="module")
def refresh(tmp_path_factory):
    """A module-wide refresh into one warehouse (the conftest fixture is per test)."""
    from dagster_project import pipeline

    def run(events_dir: Path, **run_settings: str) -> Path:
        warehouse = tmp_path_factory.mktemp("refresh") / "warehouse.duckdb"
        run_settings["events_dir"] = str(events_dir)
        result = pipeline.run_refresh_job(str(warehouse), run_settings)
        if not result.success:
            from dagster_project.cli import _failure_message

            pytest.fail(_failure_message(result))
        return warehouse

    return run


@pytest.fixture(scope="module")
def con(pipeline_warehouse):
    warehouse, _ = pipeline_warehouse
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection
    connection.close()


CHECKPOINT_DATES = ("2026-09-13", "2026-10-04", "2026-11-01")
TRAILING_COLUMNS = {
    "lead_time": "median_pr_lead_time_seconds / 3600.0",
    "change_failure_rate": "100 * change_failure_rate",
    "time_to_restore": "mean_restore_seconds / 60.0",
}


@pytest.mark.slow
@pytest.mark.parametrize("day", CHECKPOINT_DATES)
@pytest.mark.parametrize("outcome_id", sorted(TRAILING_COLUMNS))
def test_headline_matches_trailing_mart(con, outcome_id, day):
    trailing = con.execute(
        f"select {TRAILING_COLUMNS[outcome_id]} from dora_trailing_metrics "
        "where as_of_date = ? and window_days = 30 and service = '__all__'",
        [day],
    ).fetchone()
    headline = con.execute(
        "select headline_value from contract_outcome_daily "
        "where contract_id = 'default' and outcome_id = ? and metric_date = ?",
        [outcome_id, day],
    ).fetchone()
    assert trailing is not None
    assert headline is not None
    if trailing[0] is None:
        assert headline[0] is None
    else:
        assert headline[0] == pytest.approx(trailing[0])


@pytest.mark.slow
@pytest.mark.parametrize("day", CHECKPOINT_DATES)
def test_frequency_matches_counted_deployments(con, day):
    counted = con.execute(
        "select count(*) / 14.0 from fct_deployments where is_counted "
        "and deployed_date > cast(? as date) - 14 and deployed_date <= cast(? as date)",
        [day, day],
    ).fetchone()[0]
    lowest = con.execute(
        "with days as (select cast(? as date) - cast(offset_days as integer) as day from range(14) as t(offset_days)) "
        "select min(coalesce(daily.count, 0)) from days left join ("
        "  select deployed_date, count(*) as count from fct_deployments where is_counted "
        "  group by deployed_date) as daily on daily.deployed_date = days.day",
        [day],
    ).fetchone()[0]
    row = con.execute(
        "select headline_value, criterion_value from contract_outcome_daily "
        "where contract_id = 'default' and outcome_id = 'deployment_frequency' "
        "and metric_date = ?",
        [day],
    ).fetchone()
    assert row[0] == pytest.approx(counted)
    assert row[1] == lowest


@pytest.mark.slow
def test_threshold_tests_ran(pipeline_warehouse, con):
    _, results = pipeline_warehouse
    failing = {
        result["unique_id"].split(".")[2]: result["failures"]
        for result in results["results"]
        if "_holds" in result["unique_id"]
    }
    off_track = dict(
        con.execute(
            "select 'contract_' || metric || '_holds', count(*) from contract_outcome_daily "
            "where metric_date = (select max(metric_date) from contract_outcome_daily) "
            "and status in ('off-track', 'missed') group by metric"
        ).fetchall()
    )
    assert len(failing) == 4
    for name, failures in failing.items():
        assert failures == off_track.get(name, 0), name
