"""Write a contract back as Markdown with its measured baselines, statuses and checkpoints.

The report keeps the layout of an outcome contract document (Mission table,
one Field/Value table per outcome, acceptance criteria, measurement schedule),
so ``import_markdown`` reads it back into the same contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import duckdb

from dagster_project.contract.model import Contract, Outcome

OPERATOR_SIGNS = {">=": "≥", "<=": "≤"}
HOLDING_STATUSES = ("on-track", "at-risk", "baselining")

DAILY_COLUMNS = (
    "outcome_id",
    "metric_date",
    "headline_value",
    "criterion_value",
    "is_criterion_met",
    "margin",
    "status",
    "has_data",
)
CHECKPOINT_COLUMNS = (
    "outcome_id",
    "checkpoint_name",
    "offset_weeks",
    "measured_through_date",
    "is_reached",
    "headline_value",
    "criterion_value",
    "is_criterion_met",
    "status",
    "baseline_headline_value",
)


def format_amount(value: float | None, unit: str) -> str:
    """Return a value in a contract unit as text: ``7.07 deploys/day``, ``1.5%``."""
    if value is None:
        return "no sample"
    number = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{number}%" if unit == "percent" else f"{number} {unit}"


def format_target(outcome: Outcome) -> str:
    """Return a target as a contract document writes it: ``≥ 8 deploys/day``, ``≤ 2%``."""
    return f"{OPERATOR_SIGNS[outcome.operator]} {format_amount(outcome.target, outcome.unit)}"


def read_report_inputs(
    con: duckdb.DuckDBPyConnection, contract_id: str
) -> tuple[dict[str, dict], list[dict]]:
    """Read the latest daily row of each outcome and the checkpoint rows of one contract."""
    latest_rows = con.execute(
        f"""
        select {", ".join(DAILY_COLUMNS)}
        from contract_outcome_daily
        where contract_id = ?
        qualify row_number() over (partition by outcome_id order by metric_date desc) = 1
        """,
        [contract_id],
    ).fetchall()
    checkpoint_rows = con.execute(
        f"""
        select {", ".join(CHECKPOINT_COLUMNS)}
        from contract_checkpoints
        where contract_id = ?
        order by offset_weeks, outcome_id
        """,
        [contract_id],
    ).fetchall()
    latest = {row[0]: dict(zip(DAILY_COLUMNS, row, strict=True)) for row in latest_rows}
    checkpoints = [dict(zip(CHECKPOINT_COLUMNS, row, strict=True)) for row in checkpoint_rows]
    return latest, checkpoints


def _baseline_text(contract: Contract, outcome: Outcome, checkpoints: Sequence[Mapping]) -> str:
    baseline = contract.baseline_checkpoint
    for row in checkpoints:
        is_baseline = row["outcome_id"] == outcome.id and row["checkpoint_name"] == baseline.name
        if is_baseline and row["is_reached"]:
            return format_amount(row["headline_value"], outcome.unit)
    due = baseline.measured_through(contract.start_date)
    return f"not measured yet (measured at the end of {due})"


def _is_ticked(check: str | None, contract: Contract, latest: Mapping[str, Mapping]) -> bool:
    if check is None:
        return False
    if check == "measured":
        return all(latest.get(o.id, {}).get("has_data") for o in contract.outcomes)
    row = latest.get(check)
    if row is None:
        return False
    return row["status"] == "met" or (
        row["status"] in HOLDING_STATUSES and bool(row["is_criterion_met"])
    )


def _outcome_section(
    index: int, contract: Contract, outcome: Outcome, latest: Mapping, checkpoints: Sequence
) -> list[str]:
    row = latest.get(outcome.id)
    status = row["status"] if row else "not-started"
    deadline = outcome.deadline or contract.final_checkpoint.measured_through(contract.start_date)
    fields = [
        ("Description", outcome.description or ""),
        ("Metric", outcome.metric_label or outcome.metric.replace("_", " ")),
        ("Baseline", _baseline_text(contract, outcome, checkpoints)),
        ("Target", format_target(outcome)),
        ("Measurement method", outcome.measurement_method or ""),
        ("Measurement source", outcome.measurement_source or ""),
        ("Deadline", deadline.isoformat()),
        ("Status", status),
    ]
    if outcome.service:
        fields.insert(1, ("Service", outcome.service))
    if row:
        fields.append(("Current value", format_amount(row["headline_value"], outcome.unit)))
        fields.append(("Criterion value", format_amount(row["criterion_value"], outcome.unit)))
        margin = "n/a" if row["margin"] is None else f"{row['margin'] * 100:.1f}%"
        fields.append(("Margin to target", margin))
    title = outcome.title or outcome.metric.replace("_", " ").title()
    lines = [f"### Outcome {index}: {title}", "", "| Field | Value |", "|-------|-------|"]
    lines += [f"| **{name}** | {_cell(value)} |" for name, value in fields]
    return [*lines, ""]


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _checkpoint_results(contract: Contract, checkpoints: Sequence[Mapping]) -> list[str]:
    lines = [
        "## Checkpoint Results",
        "",
        "| Checkpoint | Last day | Outcome | Value | Criterion value | Target | Status |",
        "|------------|----------|---------|-------|-----------------|--------|--------|",
    ]
    for row in checkpoints:
        outcome = contract.outcome(row["outcome_id"])
        if row["is_reached"]:
            value = format_amount(row["headline_value"], outcome.unit)
            criterion = format_amount(row["criterion_value"], outcome.unit)
            status = row["status"]
        else:
            value = criterion = "not reached"
            status = "pending"
        lines.append(
            f"| {_cell(row['checkpoint_name'])} | {row['measured_through_date']} | {outcome.id} "
            f"| {value} | {criterion} | {format_target(outcome)} | {status} |"
        )
    return [*lines, ""]


def render_report(
    contract: Contract,
    latest: Mapping[str, Mapping],
    checkpoints: Sequence[Mapping],
    measured_on: date | None,
    generated_at: datetime,
) -> str:
    """Return the contract as Markdown with baselines, statuses, ticks and checkpoints."""
    title = contract.title or contract.id
    mission = [
        ("Mission ID", contract.mission_id),
        ("Mission brief", contract.mission_brief or ""),
        ("Start date", contract.start_date.isoformat()),
        ("Timezone", contract.timezone),
        ("Calendar", contract.calendar),
    ]
    if contract.holidays:
        mission.append(("Holidays", ", ".join(day.isoformat() for day in contract.holidays)))
    lines = [
        f"# Outcome Contract: {title}",
        "",
        f"> **Mission ID:** {contract.mission_id}",
        f"> **Measured through:** {measured_on or 'no data yet'}"
        f" (report generated {generated_at.isoformat(timespec='seconds')})",
        "",
        "---",
        "",
        "## Mission",
        "",
        "| Field | Value |",
        "|-------|-------|",
        *[f"| **{name}** | {_cell(value)} |" for name, value in mission],
        "",
        "## Outcomes",
        "",
    ]
    for index, outcome in enumerate(contract.outcomes, start=1):
        lines += _outcome_section(index, contract, outcome, latest, checkpoints)
    lines += ["## Acceptance Criteria", ""]
    for criterion in contract.acceptance_criteria:
        mark = "x" if _is_ticked(criterion.check, contract, latest) else " "
        lines.append(f"- [{mark}] {criterion.text}")
    lines += [
        "",
        "## Measurement Schedule",
        "",
        "| Checkpoint | Timing |",
        "|------------|--------|",
    ]
    for checkpoint in contract.schedule:
        weeks = f"{checkpoint.offset_weeks} week" + ("s" if checkpoint.offset_weeks != 1 else "")
        timing = f"{weeks} — {checkpoint.description}" if checkpoint.description else weeks
        lines.append(f"| **{_cell(checkpoint.name)}** | {_cell(timing)} |")
    lines.append("")
    lines += _checkpoint_results(contract, checkpoints)
    return "\n".join(lines)
