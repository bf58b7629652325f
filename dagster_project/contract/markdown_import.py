"""Import an outcome contract written as Markdown into the contract model.

The document has a Mission table, one ``### Outcome N: Title`` section with a
Field/Value table per outcome, an ``## Acceptance Criteria`` checklist and an
``## Measurement Schedule`` table. Every value the importer cannot read is an
error naming its line number and text; all of them are reported together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from dagster_project.contract.model import (
    DEFAULT_SUSTAIN_DAYS,
    DEFAULT_WINDOW_DAYS,
    METRIC_OPERATORS,
    METRIC_UNITS,
    STATUSES,
    Contract,
)
from dagster_project.contract.validation import ContractError, validate_contract

COMMENT = re.compile(r"<!--.*?-->")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
OUTCOME_HEADING = re.compile(r"^outcome\s*\d*\s*[:.-]?\s*(.*)$", re.IGNORECASE)
CHECKBOX = re.compile(r"^\s*[-*]\s+\[([ xX])\]\s+(.*?)\s*$")
SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")
NUMBER = r"(\d+(?:\.\d+)?)"
TARGET = re.compile(
    rf"^(≥|>=|=>|at least|min(?:imum)?|≤|<=|=<|at most|max(?:imum)?)\s*{NUMBER}\s*(.*?)\.?$",
    re.IGNORECASE,
)
WEEKS = re.compile(rf"\b{NUMBER}\s*(weeks?|wks?|days?)\b", re.IGNORECASE)
SUSTAIN = re.compile(rf"\bsustained\s+(?:for|over)\s+{NUMBER}\s*(weeks?|days?)\b", re.IGNORECASE)
WINDOW = re.compile(
    rf"\b(?:over|trailing|rolling|in)\s+(?:a\s+|the\s+)?(?:trailing\s+|rolling\s+)?"
    rf"{NUMBER}[- ]?(days?|weeks?)",
    re.IGNORECASE,
)

OPERATOR_WORDS = {
    "≥": ">=",
    ">=": ">=",
    "=>": ">=",
    "at least": ">=",
    "min": ">=",
    "minimum": ">=",
    "≤": "<=",
    "<=": "<=",
    "=<": "<=",
    "at most": "<=",
    "max": "<=",
    "maximum": "<=",
}
UNIT_WORDS = {
    "deploys/day": "deploys/day",
    "deploy/day": "deploys/day",
    "deployments/day": "deploys/day",
    "deploys per day": "deploys/day",
    "deployments per day": "deploys/day",
    "/day": "deploys/day",
    "per day": "deploys/day",
    "/ day": "deploys/day",
    "hours": "hours",
    "hour": "hours",
    "hrs": "hours",
    "hr": "hours",
    "h": "hours",
    "minutes": "minutes",
    "minute": "minutes",
    "mins": "minutes",
    "min": "minutes",
    "m": "minutes",
    "%": "percent",
    "percent": "percent",
    "per cent": "percent",
}
# Keywords that identify an outcome's metric, tried in this order on the
# heading, the Metric row and the Description row.
METRIC_KEYWORDS = (
    ("change_failure_rate", ("change failure", "failure rate", "failed deployments")),
    ("time_to_restore", ("mttr", "time to recover", "time to restore", "recovery", "restore")),
    ("lead_time", ("lead time",)),
    ("deployment_frequency", ("deployment frequency", "deploys per day", "deployments per day")),
)


@dataclass(frozen=True)
class Line:
    """A line of the source document with its 1-based number."""

    number: int
    text: str


@dataclass
class ImportResult:
    """The imported contract and what the importer filled in or skipped."""

    contract: Contract
    warnings: list[str] = field(default_factory=list)


class ContractImportError(ValueError):
    """A Markdown contract with values the importer cannot read."""

    def __init__(self, source: str, errors: list[tuple[int, str, str]]):
        self.source = source
        self.errors = errors
        lines = "\n".join(
            f"  {source}:{number}: {message}: {text!r}" for number, text, message in errors
        )
        super().__init__(f"cannot import {source}: {len(errors)} error(s)\n{lines}")


def _clean(text: str) -> str:
    text = COMMENT.sub("", text).strip()
    return text.replace("**", "").replace("__", "").strip()


def _cells(line: Line) -> list[str] | None:
    stripped = line.text.strip()
    if not stripped.startswith("|"):
        return None
    cells = [_clean(cell) for cell in stripped.strip("|").split("|")]
    if all(SEPARATOR_CELL.match(cell.replace(" ", "")) for cell in cells if cell):
        return []
    return cells


def _sections(lines: list[Line]) -> list[tuple[Line, list[Line]]]:
    """Split the document at every heading; the first section has a dummy heading."""
    sections: list[tuple[Line, list[Line]]] = [(Line(0, ""), [])]
    for line in lines:
        if HEADING.match(line.text):
            sections.append((line, []))
        else:
            sections[-1][1].append(line)
    return sections


def _heading_text(line: Line) -> str:
    match = HEADING.match(line.text)
    return _clean(match.group(2)) if match else ""


def _table_rows(body: list[Line]) -> list[tuple[Line, list[str]]]:
    rows = []
    for line in body:
        cells = _cells(line)
        if cells:
            rows.append((line, cells))
    return rows


class _Importer:
    def __init__(self, source: str):
        self.source = source
        self.errors: list[tuple[int, str, str]] = []
        self.warnings: list[str] = []

    def error(self, line: Line, message: str) -> None:
        self.errors.append((line.number, line.text.strip(), message))

    def field_rows(self, body: list[Line]) -> dict[str, tuple[Line, str]]:
        """Return the Field/Value rows of a table by lower-case field name."""
        fields: dict[str, tuple[Line, str]] = {}
        for line, cells in _table_rows(body):
            if len(cells) < 2:
                self.error(line, "table row needs a field and a value")
                continue
            name = cells[0].lower()
            if name in ("field", "checkpoint"):
                continue
            fields[name] = (line, cells[1])
        return fields

    def target(self, line: Line, text: str, metric: str | None) -> tuple[str, float, str] | None:
        match = TARGET.match(text.strip())
        if not match:
            self.error(
                line, "target must read like '≥ 8 deploys/day', '<= 2.5 hours', 'at most 2%'"
            )
            return None
        operator = OPERATOR_WORDS[match.group(1).lower()]
        value = float(match.group(2))
        unit = UNIT_WORDS.get(match.group(3).strip().lower())
        if unit is None:
            self.error(line, "unknown unit: use deploys/day, hours, minutes or %")
            return None
        if metric and unit not in METRIC_UNITS[metric]:
            allowed = ", ".join(METRIC_UNITS[metric])
            self.error(line, f"unit {unit} does not fit metric {metric}: use {allowed}")
            return None
        if metric and operator != METRIC_OPERATORS[metric]:
            self.error(line, f"metric {metric} needs a {METRIC_OPERATORS[metric]} target")
            return None
        if value <= 0:
            self.error(line, "target must be a number > 0")
            return None
        return operator, value, unit

    def metric(self, heading: Line, fields: dict[str, tuple[Line, str]]) -> str | None:
        candidates = [_heading_text(heading)]
        candidates += [fields[name][1] for name in ("metric", "description") if name in fields]
        for text in candidates:
            lowered = text.lower()
            for metric, words in METRIC_KEYWORDS:
                if any(word in lowered for word in words):
                    return metric
        self.error(
            heading,
            "cannot tell the metric: name deployment frequency, lead time, "
            "change failure rate or time to restore in the heading or Metric row",
        )
        return None

    def deadline(self, fields: dict[str, tuple[Line, str]]) -> date | None:
        if "deadline" not in fields or not fields["deadline"][1]:
            return None
        line, text = fields["deadline"]
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.error(line, "deadline must be a date written YYYY-MM-DD, or left empty")
            return None

    def outcome(self, heading: Line, body: list[Line]) -> dict | None:
        fields = self.field_rows(body)
        metric = self.metric(heading, fields)
        if "target" not in fields or not fields["target"][1]:
            self.error(heading, "outcome has no Target row")
            return None
        target = self.target(*fields["target"], metric)
        if "status" in fields and fields["status"][1] and fields["status"][1] not in STATUSES:
            line, _ = fields["status"]
            self.error(line, "status must be one of " + ", ".join(STATUSES))
        deadline = self.deadline(fields)
        if metric is None or target is None:
            return None
        operator, value, unit = target
        title_match = OUTCOME_HEADING.match(_heading_text(heading))
        outcome = {
            "id": metric,
            "title": (title_match.group(1) if title_match else _heading_text(heading)) or None,
            "description": fields.get("description", (None, None))[1] or None,
            "metric": metric,
            "metric_label": fields.get("metric", (None, None))[1] or None,
            "operator": operator,
            "target": int(value) if value.is_integer() else value,
            "unit": unit,
            "window_days": DEFAULT_WINDOW_DAYS[metric],
            "sustain_days": DEFAULT_SUSTAIN_DAYS[metric],
            "service": fields.get("service", (None, None))[1] or None,
            "measurement_method": fields.get("measurement method", (None, None))[1] or None,
            "measurement_source": fields.get("measurement source", (None, None))[1] or None,
            "deadline": deadline.isoformat() if deadline else None,
        }
        return {key: value for key, value in outcome.items() if value is not None}

    def checkpoint(self, line: Line, cells: list[str]) -> dict | None:
        if len(cells) < 2 or not cells[0]:
            self.error(line, "schedule row needs a checkpoint name and a timing")
            return None
        match = WEEKS.search(cells[1])
        if not match:
            self.error(line, "timing must start with a number of weeks, such as '4 weeks'")
            return None
        amount = float(match.group(1))
        days = amount * 7 if match.group(2).lower().startswith("w") else amount
        if not days.is_integer() or days % 7 or days <= 0:
            self.error(line, "timing must be a whole number of weeks (or days divisible by 7)")
            return None
        description = re.sub(r"^[\s\u2014\u2013:-]+", "", cells[1][match.end() :]).strip() or None
        checkpoint = {"name": cells[0], "offset_weeks": int(days // 7)}
        if description:
            checkpoint["description"] = description
        return checkpoint


def _days(amount: str, unit: str) -> int:
    value = float(amount) * (7 if unit.lower().startswith("w") else 1)
    return int(value)


def _criterion(text: str, outcomes: list[dict]) -> dict:
    """Link a checklist line to the outcome it checks, and apply its windows."""
    lowered = text.lower()
    if "measured" in lowered and ("all" in lowered or "metrics" in lowered):
        return {"text": text, "check": "measured"}
    for metric, words in METRIC_KEYWORDS:
        if not any(word in lowered for word in words):
            continue
        for outcome in outcomes:
            if outcome["metric"] != metric:
                continue
            sustain = SUSTAIN.search(text)
            if sustain:
                outcome["sustain_days"] = _days(*sustain.groups())
                if metric == "deployment_frequency":
                    outcome["window_days"] = outcome["sustain_days"]
            window = WINDOW.search(text)
            if window and not sustain:
                outcome["window_days"] = _days(*window.groups())
            return {"text": text, "check": outcome["id"]}
    return {"text": text}


def _mission_fields(importer: _Importer, sections) -> dict[str, tuple[Line, str]]:
    for heading, body in sections:
        if _heading_text(heading).lower() == "mission":
            return importer.field_rows(body)
    return {}


def import_markdown(
    text: str,
    source: str = "<document>",
    contract_id: str = "default",
    start_date: date | None = None,
) -> ImportResult:
    """Read a Markdown outcome contract; raise ContractImportError naming each bad line."""
    lines = [Line(number, line) for number, line in enumerate(text.splitlines(), start=1)]
    importer = _Importer(source)
    sections = _sections(lines)
    title = next((_heading_text(h) for h, _ in sections if h.text.startswith("# ")), None)
    if title and ":" in title:
        title = title.split(":", 1)[1].strip()
    mission = _mission_fields(importer, sections)

    outcomes, schedule, criteria_lines = [], [], []
    current_h2 = ""
    for heading, body in sections:
        level = len(HEADING.match(heading.text).group(1)) if heading.number else 0
        if level == 2:
            current_h2 = _heading_text(heading).lower()
        if level == 3 and current_h2 == "outcomes":
            outcome = importer.outcome(heading, body)
            if outcome:
                outcomes.append(outcome)
        elif level == 2 and current_h2 in ("measurement schedule", "schedule"):
            for line, cells in _table_rows(body):
                if cells[0].lower() != "checkpoint":
                    checkpoint = importer.checkpoint(line, cells)
                    if checkpoint:
                        schedule.append(checkpoint)
        elif level == 2 and current_h2 == "acceptance criteria":
            criteria_lines += [(line, CHECKBOX.match(line.text)) for line in body]

    _deduplicate_ids(outcomes)
    criteria = []
    for line, match in criteria_lines:
        if match:
            criteria.append(_criterion(_clean(match.group(2)), outcomes))
        elif line.text.strip().startswith(("-", "*")):
            importer.error(line, "acceptance criterion must be a checklist item '- [ ] text'")

    data = _contract_data(importer, mission, title, contract_id, start_date)
    data.update(outcomes=outcomes, schedule=schedule, acceptance_criteria=criteria)
    if not outcomes and not any("Target" in message for _, _, message in importer.errors):
        importer.errors.append(
            (0, "", "no outcome found under '## Outcomes' ('### Outcome N: Title')")
        )
    if not schedule:
        importer.errors.append(
            (0, "", "no checkpoint found in the '## Measurement Schedule' table")
        )
    if importer.errors:
        raise ContractImportError(source, importer.errors)
    try:
        contract = validate_contract(data, source=source)
    except ContractError as error:
        raise ContractImportError(
            source, [(0, str(i.value), str(i)) for i in error.issues]
        ) from error
    return ImportResult(contract=contract, warnings=importer.warnings)


def _deduplicate_ids(outcomes: list[dict]) -> None:
    seen: dict[str, int] = {}
    for outcome in outcomes:
        base = outcome["id"]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            outcome["id"] = f"{base}_{seen[base]}"


def _contract_data(importer: _Importer, mission, title, contract_id, start_date) -> dict:
    mission_id = mission.get("mission id", (None, None))[1]
    if not mission_id:
        importer.errors.append((0, "", "the Mission table has no Mission ID row"))
    data = {"id": contract_id, "mission_id": mission_id, "title": title or None}
    brief = mission.get("mission brief", (None, None))[1]
    if brief:
        data["mission_brief"] = brief
    for name, key in (("timezone", "timezone"), ("calendar", "calendar")):
        if name in mission and mission[name][1]:
            data[key] = mission[name][1]
    if "holidays" in mission and mission["holidays"][1]:
        data["holidays"] = [day.strip() for day in mission["holidays"][1].split(",")]
    if "start date" in mission and mission["start date"][1]:
        line, text = mission["start date"]
        try:
            data["start_date"] = date.fromisoformat(text).isoformat()
        except ValueError:
            importer.error(line, "start date must be written YYYY-MM-DD")
    elif start_date is not None:
        data["start_date"] = start_date.isoformat()
    else:
        today = datetime.now(UTC).date()
        data["start_date"] = today.isoformat()
        importer.warnings.append(
            f"the Mission table has no Start date row: start_date set to {today}; edit it"
        )
    return {key: value for key, value in data.items() if value is not None}


def import_markdown_file(
    path: str | Path,
    output: str | Path | None = None,
    contract_id: str | None = None,
    start_date: date | None = None,
) -> tuple[ImportResult, str]:
    """Import a Markdown contract file and return the result and its YAML text.

    Writes the YAML to ``output`` when given. The contract id defaults to the
    output file's name, else the document's name, without the extension.
    """
    from dagster_project.contract.loading import dump_contract

    source = Path(path)
    default_id = Path(output).stem if output else source.stem
    result = import_markdown(
        source.read_text(encoding="utf-8"),
        source=str(source),
        contract_id=contract_id or default_id.replace("-", "_").lower(),
        start_date=start_date,
    )
    text = dump_contract(result.contract)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    return result, text
