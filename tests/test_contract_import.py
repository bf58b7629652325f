"""Markdown outcome contracts imported into the contract model."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dagster_project.contract import (
    ContractImportError,
    dump_contract,
    import_markdown,
    load_contract,
)
from dagster_project.contract.markdown_import import Line, _Importer

DATA = Path(__file__).parent / "data" / "contracts"


def import_file(name: str, **options):
    path = DATA / name
    return import_markdown(path.read_text(encoding="utf-8"), source=name, **options)


def test_example_document_imports():
    result = import_file("example.md", start_date=date(2026, 1, 5))
    contract = result.contract
    assert result.warnings == []
    assert contract.mission_id == "MISSION-2026-003"
    assert contract.title == "DORA Metrics Excellence"
    targets = [(o.id, o.operator, o.target, o.unit) for o in contract.outcomes]
    assert targets == [
        ("deployment_frequency", ">=", 8, "deploys/day"),
        ("lead_time", "<=", 2.5, "hours"),
        ("change_failure_rate", "<=", 2, "percent"),
        ("time_to_restore", "<=", 5, "minutes"),
    ]
    assert contract.outcome("deployment_frequency").sustain_days == 14
    assert contract.outcome("lead_time").window_days == 30
    assert contract.outcome("time_to_restore").metric_label == "MTTR (minutes)"
    assert [(c.name, c.offset_weeks) for c in contract.schedule] == [
        ("Initial check", 1),
        ("Follow-up", 4),
        ("Final evaluation", 8),
    ]
    assert contract.schedule[0].description == "baseline metrics established"
    checks = [criterion.check for criterion in contract.acceptance_criteria]
    assert checks == [
        "measured",
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "time_to_restore",
    ]


def test_example_without_start_date_warns():
    result = import_file("example.md")
    assert len(result.warnings) == 1
    assert "no Start date row" in result.warnings[0]


def test_imported_yaml_loads(tmp_path):
    result = import_file("example.md", start_date=date(2026, 1, 5))
    path = tmp_path / "example.yml"
    path.write_text(dump_contract(result.contract))
    assert load_contract(path) == result.contract


def test_minimal_document_reads_mission_and_windows():
    contract = import_file("good_minimal.md", contract_id="checkout").contract
    assert contract.id == "checkout"
    assert contract.start_date == date(2026, 5, 4)
    assert contract.timezone == "America/New_York"
    assert contract.calendar == "business_days"
    assert contract.holidays == (date(2026, 5, 25), date(2026, 7, 3))
    lead = contract.outcome("lead_time")
    assert (lead.operator, lead.target, lead.unit) == ("<=", 90, "minutes")
    assert lead.window_days == 14
    assert lead.service == "checkout"
    assert lead.deadline == date(2026, 6, 29)
    frequency = contract.outcome("deployment_frequency")
    assert (frequency.target, frequency.unit) == (3, "deploys/day")
    assert (frequency.sustain_days, frequency.window_days) == (10, 10)
    restore = contract.outcome("time_to_restore")
    assert (restore.target, restore.unit, restore.target_base) == (0.5, "hours", 1800)
    assert [(c.name, c.offset_weeks, c.description) for c in contract.schedule] == [
        ("Baseline", 2, "first numbers"),
        ("Final", 8, None),
    ]
    assert contract.acceptance_criteria[2].check is None


def test_broken_document_names_each_line():
    with pytest.raises(ContractImportError) as caught:
        import_file("broken_targets.md")
    errors = {number: (text, message) for number, text, message in caught.value.errors}
    expected = {
        8: "start date",
        17: "target must read like",
        24: "unknown unit",
        25: "deadline must be a date",
        32: "needs a <= target",
        33: "status must be one of",
        35: "cannot tell the metric",
        47: "does not fit metric time_to_restore",
        52: "checklist item",
        58: "number of weeks",
        59: "whole number of weeks",
    }
    for number, fragment in expected.items():
        assert number in errors, f"no error on line {number}: {sorted(errors)}"
        assert fragment in errors[number][1], errors[number]
    assert errors[17][0] == "| **Target** | lots of deploys |"
    assert "broken_targets.md:17:" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("≥ 8 deploys/day", (">=", 8.0, "deploys/day")),
        (">= 8 deploys/day", (">=", 8.0, "deploys/day")),
        ("at least 8 deployments per day", (">=", 8.0, "deploys/day")),
        ("≤ 2.5 hours", ("<=", 2.5, "hours")),
        ("<= 2.5h", ("<=", 2.5, "hours")),
        ("at most 150 minutes", ("<=", 150.0, "minutes")),
        ("≤ 2%", ("<=", 2.0, "percent")),
        ("<= 2 percent", ("<=", 2.0, "percent")),
        ("≤ 5 minutes", ("<=", 5.0, "minutes")),
        ("AT MOST 5 min", ("<=", 5.0, "minutes")),
    ],
)
def test_target_forms_parse(text, expected):
    importer = _Importer("inline")
    assert importer.target(Line(3, text), text, None) == expected
    assert importer.errors == []


@pytest.mark.parametrize(
    "text", ["8 deploys/day", "≥ eight deploys/day", "≥ 8 furlongs", "≈ 2 hours", "≤ -2%", ""]
)
def test_target_forms_rejected(text):
    importer = _Importer("inline")
    assert importer.target(Line(7, f"| **Target** | {text} |"), text, None) is None
    assert [number for number, _, _ in importer.errors] == [7]


def test_missing_sections_are_errors():
    with pytest.raises(ContractImportError) as caught:
        import_markdown("# Outcome Contract: Empty\n\nNothing here.\n", source="empty.md")
    messages = " ".join(message for _, _, message in caught.value.errors)
    assert "Mission ID" in messages
    assert "no outcome found" in messages
    assert "no checkpoint found" in messages


def test_validate_reads_markdown(capsys):
    from dagster_project.cli import main

    assert main(["contract", "validate", str(DATA / "example.md")]) == 0
    out = capsys.readouterr().out
    contract = import_file("example.md", contract_id="example").contract
    assert f"{contract.id}: valid Markdown contract, {len(contract.outcomes)} outcomes" in out
    assert "dora contract import" in out


def test_validate_markdown_names_bad_lines(capsys):
    from dagster_project.cli import main

    assert main(["contract", "validate", str(DATA / "broken_targets.md")]) == 1
    err = capsys.readouterr().err
    assert "broken_targets.md:17:" in err
    assert "not valid YAML" not in err
