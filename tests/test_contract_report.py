"""The contract report and the threshold checks, run through Dagster and real dbt."""

import dataclasses
import json
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from dagster_project.contract import import_markdown, load_contract, load_contracts
from dagster_project.contract.dbt_vars import contract_vars
from dagster_project.contract.report import format_amount, render_report
from dagster_project.defs.contract import build_schedules, contract_report
from dagster_project.defs.resources import WarehouseResource
from dagster_project.project import dbt_project, ensure_manifest
from tests.test_contract_marts import AS_OF, DBT, contract, outcome, write_facts

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECK_NAMES = {
    "contract_deployment_frequency_holds": True,
    "contract_lead_time_holds": False,
    "contract_change_failure_rate_holds": True,
    "contract_time_to_restore_holds": False,
}


def report_contract() -> dict:
    document = contract(
        "report",
        [
            outcome("df", "deployment_frequency", "df", 8, "deploys/day", title="Frequency"),
            outcome("lt", "lead_time", "lt", 2.5, "hours"),
            outcome("cfr", "change_failure_rate", "cfr_16", 2, "percent"),
            outcome("ttr", "time_to_restore", "ttr", 5, "minutes"),
        ],
    )
    document["title"] = "Report test"
    document["acceptance_criteria"] = [
        {"text": "All metrics measured", "check": "measured"},
        {"text": "Deployment frequency of 8 a day", "check": "df"},
        {"text": "Lead time under 2.5 hours", "check": "lt"},
        {"text": "Signed off"},
    ]
    return document


def contract_dbt_assets(contracts):
    variables = {"as_of": AS_OF, "timezone": "UTC", **contract_vars(contracts)}
    translator = DagsterDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    )

    @dbt_assets(
        manifest=ensure_manifest(),
        project=dbt_project,
        select="path:models/marts/contract",
        dagster_dbt_translator=translator,
    )
    def contract_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build", "--vars", json.dumps(variables)], context=context).stream()

    return contract_models


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract_report")
    contracts_dir = folder / "contracts"
    contracts_dir.mkdir()
    (contracts_dir / "report.yml").write_text(yaml.safe_dump(report_contract()))
    warehouse = folder / "warehouse.duckdb"
    write_facts(warehouse)
    reports = folder / "reports"
    mp = pytest.MonkeyPatch()
    mp.setenv("DORA_WAREHOUSE", str(warehouse))
    try:
        result = dg.materialize(
            [contract_dbt_assets(load_contracts(contracts_dir)), contract_report],
            resources={
                "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT)),
                "warehouse": WarehouseResource(path=str(warehouse)),
            },
            run_config={
                "ops": {
                    "contract_report": {
                        "config": {"contracts_path": str(contracts_dir), "output_dir": str(reports)}
                    }
                }
            },
        )
    finally:
        mp.undo()
    return result, reports / "contract_report.md", contracts_dir


def test_threshold_checks_fail_while_off_track(materialized):
    result, _, _ = materialized
    assert result.success
    evaluations = {
        evaluation.check_name: evaluation
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name in CHECK_NAMES
    }
    assert set(evaluations) == set(CHECK_NAMES)
    for name, passed in CHECK_NAMES.items():
        assert evaluations[name].passed is passed, name
        assert evaluations[name].asset_key == dg.AssetKey("contract_outcome_daily")
        if not passed:
            # A failing warn-severity dbt test is a non-blocking warning.
            assert evaluations[name].severity == dg.AssetCheckSeverity.WARN, name
            assert evaluations[name].blocking is False, name


def test_report_fills_baseline_and_status(materialized):
    _, report, _ = materialized
    text = report.read_text()
    assert "| **Baseline** | 9 deploys/day |" in text
    assert "| **Baseline** | 2 hours |" in text
    assert "| **Status** | on-track |" in text
    assert "| **Status** | off-track |" in text
    assert "> **Measured through:** 2026-04-10" in text


def test_report_ticks_criteria_that_hold(materialized):
    _, report, _ = materialized
    text = report.read_text()
    assert "- [x] All metrics measured" in text
    assert "- [x] Deployment frequency of 8 a day" in text
    assert "- [ ] Lead time under 2.5 hours" in text
    assert "- [ ] Signed off" in text


def test_report_lists_checkpoint_results(materialized):
    _, report, _ = materialized
    text = report.read_text()
    assert "| Follow-up | 2026-03-29 | lt | 2.5 hours | 2.5 hours | ≤ 2.5 hours | at-risk |" in text
    assert "| Final evaluation | 2026-04-26 | df | not reached | not reached |" in text


def test_report_imports_back(materialized):
    _, report, contracts_dir = materialized
    original = load_contract(contracts_dir / "report.yml")
    imported = import_markdown(report.read_text(), source=str(report), contract_id="report")
    assert imported.warnings == []
    result = imported.contract
    assert (result.mission_id, result.start_date) == (original.mission_id, original.start_date)
    assert [(o.metric, o.operator, o.target, o.unit, o.service) for o in result.outcomes] == [
        (o.metric, o.operator, o.target, o.unit, o.service) for o in original.outcomes
    ]
    assert result.schedule == original.schedule


def test_render_before_any_data():
    contract_doc = dataclasses.replace(
        load_contract(REPO_ROOT / "contracts" / "default.yml"), start_date=date(2026, 1, 5)
    )
    text = render_report(contract_doc, {}, [], None, datetime(2026, 1, 1, tzinfo=UTC))
    assert text.count("| **Status** | not-started |") == 4
    assert "not measured yet (measured at the end of 2026-01-11)" in text
    assert "- [x]" not in text
    assert "> **Measured through:** no data yet" in text


def test_render_ticks_met_and_not_missed():
    contract_doc = load_contract(REPO_ROOT / "contracts" / "default.yml")
    row = {"has_data": True, "headline_value": 1.0, "criterion_value": 1.0, "margin": 0.6}
    latest = {
        "deployment_frequency": {**row, "status": "missed", "is_criterion_met": True},
        "lead_time": {**row, "status": "met", "is_criterion_met": False},
        "change_failure_rate": {**row, "status": "at-risk", "is_criterion_met": True},
        "time_to_restore": {**row, "status": "off-track", "is_criterion_met": False},
    }
    text = render_report(contract_doc, latest, [], date(2026, 3, 5), datetime.now(UTC))
    assert "- [x] All 4 DORA metrics measured" in text
    assert "- [ ] Deployment frequency" in text
    assert "- [x] Lead time" in text
    assert "- [x] Change failure rate" in text
    assert "- [ ] MTTR" in text


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (7.0714, "deploys/day", "7.07 deploys/day"),
        (2.0, "percent", "2%"),
        (None, "hours", "no sample"),
    ],
)
def test_format_amount(value, unit, text):
    assert format_amount(value, unit) == text


def test_schedules_run_in_contract_zone():
    schedules = {schedule.name: schedule for schedule in build_schedules("Europe/Berlin")}
    assert set(schedules) == {"refresh_incremental_hourly", "refresh_all_daily"}
    assert schedules["refresh_all_daily"].job_name == "refresh_all"
    assert schedules["refresh_incremental_hourly"].job_name == "refresh_incremental"
    for schedule in schedules.values():
        assert schedule.execution_timezone == "Europe/Berlin"
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
