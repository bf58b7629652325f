"""Contract files: the default contract, validation messages, folders of contracts."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from dagster_project.contract import (
    ContractError,
    dump_contract,
    import_markdown_file,
    load_contract,
    load_contracts,
    validate_contract,
)
from dagster_project.contract.dbt_vars import contract_vars

DATA = Path(__file__).parent / "data" / "contracts"
REPO_ROOT = Path(__file__).resolve().parents[1]


def issues_by_path(error: ContractError) -> dict[str, str]:
    return {issue.path: str(issue) for issue in error.issues}


def test_default_contract_states_four_outcomes():
    contract = load_contract(REPO_ROOT / "contracts" / "default.yml")
    by_metric = {outcome.metric: outcome for outcome in contract.outcomes}
    assert set(by_metric) == {
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "time_to_restore",
    }
    frequency = by_metric["deployment_frequency"]
    assert (frequency.operator, frequency.target, frequency.unit) == (">=", 8, "deploys/day")
    assert frequency.sustain_days == 14
    assert by_metric["lead_time"].target_base == 2.5 * 3600
    assert by_metric["lead_time"].window_days == 30
    assert by_metric["change_failure_rate"].target_base == pytest.approx(0.02)
    assert by_metric["time_to_restore"].target_base == 300
    assert [c.offset_weeks for c in contract.schedule] == [1, 4, 8]
    assert contract.baseline_checkpoint.name == "Initial check"
    assert contract.final_checkpoint.name == "Final evaluation"


def test_checkpoint_measures_through_its_eve():
    contract = load_contract(REPO_ROOT / "contracts" / "default.yml")
    start = date(2026, 1, 5)
    assert contract.baseline_checkpoint.measured_through(start) == date(2026, 1, 11)
    assert contract.final_checkpoint.measured_through(start) == date(2026, 3, 1)


def test_log_channel_always_present():
    contract = load_contract(DATA / "good_team_payments.yml")
    kinds = [(channel.type, channel.url_env, channel.format) for channel in contract.notifications]
    assert kinds == [
        ("log", None, "slack"),
        ("webhook", "PAYMENTS_SLACK_WEBHOOK", "slack"),
        ("webhook", "PAYMENTS_EVENTS_URL", "json"),
    ]


def test_team_contract_fields():
    contract = load_contract(DATA / "good_team_payments.yml")
    assert contract.id == "payments"
    assert contract.calendar == "business_days"
    assert contract.holidays == (date(2026, 4, 3), date(2026, 4, 6))
    assert contract.timezone == "Europe/Berlin"
    lead = contract.outcome("payments_lead_time")
    assert (lead.unit, lead.target_base, lead.service) == ("minutes", 5400, "payments-api")
    assert lead.sustain_days == 1
    assert contract.acceptance_criteria[1].check is None


def test_every_invalid_field_is_reported():
    with pytest.raises(ContractError) as caught:
        load_contract(DATA / "broken_fields.yml")
    issues = issues_by_path(caught.value)
    expected = {
        "id": "lower case letters",
        "mission_id": "non-empty string",
        "start_date": "YYYY-MM-DD",
        "timezone": "IANA time zone",
        "calendar": "all_days, business_days",
        "holidays[0]": "YYYY-MM-DD",
        "outcomes[0].metric": "deployment_frequency, lead_time",
        "outcomes[0].target": "number > 0",
        "outcomes[1].operator": "must be <= for metric lead_time",
        "outcomes[1].unit": "hours, minutes for metric lead_time",
        "outcomes[1].window_days": "whole number >= 1",
        "outcomes[2].colour": "not a known field",
        "outcomes[1]": "duplicate outcome id",
        "schedule[1]": "duplicate offset_weeks",
        "notifications[0].url_env": "environment variable",
        "notifications[0].format": "slack, json",
        "notifications[1].type": "log, webhook",
    }
    for path, fragment in expected.items():
        assert path in issues, f"no issue for {path}: {sorted(issues)}"
        assert fragment in issues[path], issues[path]
    assert "'Mars/Olympus'" in issues["timezone"]
    assert "'2026-02-30'" in issues["start_date"]


def test_error_message_lists_all_issues():
    with pytest.raises(ContractError) as caught:
        load_contract(DATA / "broken_fields.yml")
    message = str(caught.value)
    assert message.startswith(f"invalid contract {DATA / 'broken_fields.yml'}")
    assert message.count("\n  - ") == len(caught.value.issues)
    assert len(caught.value.issues) >= 17


def test_missing_required_fields():
    with pytest.raises(ContractError) as caught:
        validate_contract({"id": "x"}, source="inline")
    issues = issues_by_path(caught.value)
    assert set(issues) == {"mission_id", "start_date", "outcomes", "schedule"}


def test_document_must_be_mapping():
    with pytest.raises(ContractError) as caught:
        validate_contract(["not", "a", "mapping"], source="inline")
    assert caught.value.issues[0].path == "(document)"


def test_folder_loads_contracts_side_by_side(tmp_path):
    shutil.copy(REPO_ROOT / "contracts" / "default.yml", tmp_path / "a_default.yml")
    shutil.copy(DATA / "good_team_payments.yml", tmp_path / "b_payments.yaml")
    (tmp_path / "notes.txt").write_text("not a contract")
    contracts = load_contracts(tmp_path)
    assert [contract.id for contract in contracts] == ["default", "payments"]


def test_folder_rejects_duplicate_ids(tmp_path):
    shutil.copy(DATA / "good_team_payments.yml", tmp_path / "one.yml")
    shutil.copy(DATA / "good_team_payments.yml", tmp_path / "two.yml")
    with pytest.raises(ContractError, match="also the id of"):
        load_contracts(tmp_path)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ContractError, match="holds no contract"):
        load_contracts(tmp_path)


def test_id_defaults_to_file_name(tmp_path):
    data = yaml.safe_load((REPO_ROOT / "contracts" / "default.yml").read_text())
    del data["id"]
    path = tmp_path / "team-web.yml"
    path.write_text(yaml.safe_dump(data))
    assert load_contract(path).id == "team_web"


def test_invalid_yaml_is_reported(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text("outcomes: [unclosed\n")
    with pytest.raises(ContractError, match="not valid YAML"):
        load_contract(path)


def test_dump_round_trips(tmp_path):
    contract = load_contract(DATA / "good_team_payments.yml")
    path = tmp_path / "payments.yml"
    path.write_text(dump_contract(contract))
    assert load_contract(path) == contract


def test_import_file_writes_yaml(tmp_path):
    output = tmp_path / "team-web.yml"
    result, text = import_markdown_file(
        DATA / "example.md", output=output, start_date=date(2026, 1, 5)
    )
    assert output.read_text() == text
    loaded = load_contract(output)
    assert loaded.id == "team_web"
    assert loaded == result.contract


def test_dbt_vars_carry_dates_and_base_units():
    contract = load_contract(DATA / "good_team_payments.yml")
    (entry,) = contract_vars([contract])["contracts"]
    assert entry["baseline_date"] == "2026-03-15"
    assert entry["final_date"] == "2026-05-24"
    assert entry["holidays"] == ["2026-04-03", "2026-04-06"]
    lead = entry["outcomes"][1]
    assert (lead["target"], lead["unit_factor"]) == (90, 60.0)
    flags = [(c["is_baseline"], c["is_final"]) for c in entry["checkpoints"]]
    assert flags == [(True, False), (False, True)]
