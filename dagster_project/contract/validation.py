"""Validate a contract read from YAML: every invalid field is reported, not only the first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster_project.contract.model import (
    CALENDARS,
    CHANNEL_TYPES,
    DEFAULT_SUSTAIN_DAYS,
    DEFAULT_WINDOW_DAYS,
    METRIC_OPERATORS,
    METRIC_UNITS,
    METRICS,
    OPERATORS,
    WEBHOOK_FORMATS,
    AcceptanceCriterion,
    Channel,
    Checkpoint,
    Contract,
    Outcome,
)

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_MISSING = object()

TOP_LEVEL_KEYS = {
    "id",
    "title",
    "mission_id",
    "mission_brief",
    "start_date",
    "timezone",
    "calendar",
    "holidays",
    "outcomes",
    "schedule",
    "notifications",
    "acceptance_criteria",
}
OUTCOME_KEYS = {
    "id",
    "title",
    "description",
    "metric",
    "metric_label",
    "operator",
    "target",
    "unit",
    "window_days",
    "sustain_days",
    "service",
    "measurement_method",
    "measurement_source",
    "deadline",
}
CHECKPOINT_KEYS = {"name", "offset_weeks", "description"}
CHANNEL_KEYS = {"type", "url_env", "format"}
CRITERION_KEYS = {"text", "check"}


@dataclass(frozen=True)
class ContractIssue:
    """An invalid field: its path, its value and what is allowed."""

    path: str
    value: Any
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} (got {self.value!r})"


class ContractError(ValueError):
    """A contract that failed validation, with one issue per invalid field."""

    def __init__(self, source: str, issues: list[ContractIssue]):
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"invalid contract {source}: {len(issues)} error(s)\n{lines}")


class _Collector:
    def __init__(self) -> None:
        self.issues: list[ContractIssue] = []

    def add(self, path: str, value: Any, message: str) -> None:
        self.issues.append(ContractIssue(path, value, message))

    def unknown_keys(self, path: str, data: Mapping[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(data) - allowed, key=str):
            self.add(f"{path}.{key}" if path else str(key), data[key], _allowed_keys(allowed))

    def text(self, path: str, value: Any, required: bool = True) -> str | None:
        if value is _MISSING or value is None:
            if required:
                self.add(path, None, "is required: a non-empty string")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(path, value, "must be a non-empty string")
            return None
        return value.strip()

    def identifier(self, path: str, value: Any) -> str | None:
        text = self.text(path, value)
        if text is not None and not IDENTIFIER.match(text):
            self.add(path, value, "must be lower case letters, digits and _ starting with a letter")
            return None
        return text

    def day(self, path: str, value: Any, required: bool = True) -> date | None:
        if value is _MISSING or value is None:
            if required:
                self.add(path, None, "is required: a date written YYYY-MM-DD")
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.add(path, value, "must be a date written YYYY-MM-DD")
        return None

    def whole(self, path: str, value: Any, minimum: int, default: int | None = None) -> int | None:
        if value is _MISSING or value is None:
            if default is None:
                self.add(path, None, f"is required: a whole number >= {minimum}")
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.add(path, value, f"must be a whole number >= {minimum}")
            return None
        return value

    def choice(self, path: str, value: Any, allowed: tuple[str, ...], default: str | None = None):
        if (value is _MISSING or value is None) and default is not None:
            return default
        if value not in allowed:
            self.add(path, value, "must be one of " + ", ".join(allowed))
            return None
        return value

    def mapping_list(self, path: str, value: Any, required: bool = True) -> list[Any]:
        if value is _MISSING or value is None:
            if required:
                self.add(path, None, "is required: a non-empty list")
            return []
        if not isinstance(value, list) or (required and not value):
            self.add(path, value, "must be a non-empty list" if required else "must be a list")
            return []
        return value


def _allowed_keys(allowed: set[str]) -> str:
    return "is not a known field; allowed: " + ", ".join(sorted(allowed))


def _get(data: Mapping[str, Any], key: str) -> Any:
    return data.get(key, _MISSING)


def _timezone(collect: _Collector, value: Any) -> str | None:
    if value is _MISSING or value is None:
        return "UTC"
    if isinstance(value, str):
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError):
            pass
    collect.add("timezone", value, "must be an IANA time zone name such as UTC or Europe/Berlin")
    return None


def _target(collect: _Collector, path: str, value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        collect.add(path, None if value is _MISSING else value, "must be a number > 0")
        return None
    return float(value)


def _outcome(collect: _Collector, path: str, data: Any) -> Outcome | None:
    if not isinstance(data, Mapping):
        collect.add(path, data, "must be a mapping of outcome fields")
        return None
    collect.unknown_keys(path, data, OUTCOME_KEYS)

    outcome_id = collect.identifier(f"{path}.id", _get(data, "id"))
    metric = collect.choice(f"{path}.metric", _get(data, "metric"), METRICS)
    operator = collect.choice(
        f"{path}.operator", _get(data, "operator"), OPERATORS, METRIC_OPERATORS.get(metric or "")
    )
    if metric and operator and operator != METRIC_OPERATORS[metric]:
        collect.add(
            f"{path}.operator", operator, f"must be {METRIC_OPERATORS[metric]} for metric {metric}"
        )
        operator = None

    target = _target(collect, f"{path}.target", _get(data, "target"))
    unit = _get(data, "unit")
    if metric and unit not in METRIC_UNITS[metric]:
        allowed = ", ".join(METRIC_UNITS[metric])
        value = None if unit is _MISSING else unit
        collect.add(f"{path}.unit", value, f"must be one of {allowed} for metric {metric}")
        unit = None

    window = collect.whole(
        f"{path}.window_days", _get(data, "window_days"), 1, DEFAULT_WINDOW_DAYS.get(metric or "")
    )
    sustain = collect.whole(
        f"{path}.sustain_days",
        _get(data, "sustain_days"),
        1,
        DEFAULT_SUSTAIN_DAYS.get(metric or ""),
    )
    service = collect.text(f"{path}.service", _get(data, "service"), required=False)
    deadline = collect.day(f"{path}.deadline", _get(data, "deadline"), required=False)
    optional = {
        key: collect.text(f"{path}.{key}", _get(data, key), required=False)
        for key in ("title", "description", "metric_label", "measurement_method")
    }
    source = collect.text(f"{path}.measurement_source", _get(data, "measurement_source"), False)

    required = (outcome_id, metric, operator, target, unit, window, sustain)
    if any(value is None for value in required):
        return None
    return Outcome(
        id=outcome_id,
        metric=metric,
        operator=operator,
        target=target,
        unit=unit,
        window_days=window,
        sustain_days=sustain,
        service=service,
        deadline=deadline,
        measurement_source=source,
        **optional,
    )


def _checkpoint(collect: _Collector, path: str, data: Any) -> Checkpoint | None:
    if not isinstance(data, Mapping):
        collect.add(path, data, "must be a mapping with name and offset_weeks")
        return None
    collect.unknown_keys(path, data, CHECKPOINT_KEYS)
    name = collect.text(f"{path}.name", _get(data, "name"))
    weeks = collect.whole(f"{path}.offset_weeks", _get(data, "offset_weeks"), 1)
    description = collect.text(f"{path}.description", _get(data, "description"), required=False)
    if name is None or weeks is None:
        return None
    return Checkpoint(name=name, offset_weeks=weeks, description=description)


def _channel(collect: _Collector, path: str, data: Any) -> Channel | None:
    if not isinstance(data, Mapping):
        collect.add(path, data, "must be a mapping with a type (log or webhook)")
        return None
    collect.unknown_keys(path, data, CHANNEL_KEYS)
    kind = collect.choice(f"{path}.type", _get(data, "type"), CHANNEL_TYPES)
    if kind == "log":
        return Channel(type="log")
    url_env = collect.text(f"{path}.url_env", _get(data, "url_env"))
    if url_env is not None and not ENV_NAME.match(url_env):
        collect.add(
            f"{path}.url_env", url_env, "must name an environment variable (A-Z, 0-9, _), not a URL"
        )
        url_env = None
    fmt = collect.choice(f"{path}.format", _get(data, "format"), WEBHOOK_FORMATS, "slack")
    if kind is None or url_env is None or fmt is None:
        return None
    return Channel(type="webhook", url_env=url_env, format=fmt)


def _criterion(
    collect: _Collector, path: str, data: Any, outcome_ids: set[str]
) -> AcceptanceCriterion | None:
    if isinstance(data, str):
        data = {"text": data}
    if not isinstance(data, Mapping):
        collect.add(path, data, "must be a string or a mapping with text and check")
        return None
    collect.unknown_keys(path, data, CRITERION_KEYS)
    text = collect.text(f"{path}.text", _get(data, "text"))
    check = _get(data, "check")
    check = None if check is _MISSING else check
    allowed = {"measured", *outcome_ids}
    if check is not None and check not in allowed:
        collect.add(
            f"{path}.check",
            check,
            "must be measured or an outcome id: " + ", ".join(sorted(allowed)),
        )
        return None
    return AcceptanceCriterion(text=text, check=check) if text else None


def _unique(collect: _Collector, path: str, values: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for index, value in enumerate(values):
        if value in seen:
            collect.add(f"{path}[{index}]", value, f"duplicate {what}: each must be unique")
        seen.add(value)


def validate_contract(data: Any, source: str, default_id: str | None = None) -> Contract:
    """Build a Contract from parsed YAML, or raise ContractError listing every issue."""
    collect = _Collector()
    if not isinstance(data, Mapping):
        collect.add("(document)", data, "must be a mapping of contract fields")
        raise ContractError(source, collect.issues)
    collect.unknown_keys("", data, TOP_LEVEL_KEYS)
    raw_id = _get(data, "id")
    contract_id = collect.identifier("id", default_id if raw_id is _MISSING else raw_id)
    mission_id = collect.text("mission_id", _get(data, "mission_id"))
    start = collect.day("start_date", _get(data, "start_date"))
    timezone = _timezone(collect, _get(data, "timezone"))
    calendar = collect.choice("calendar", _get(data, "calendar"), CALENDARS, "all_days")
    holidays = [
        collect.day(f"holidays[{index}]", value)
        for index, value in enumerate(
            collect.mapping_list("holidays", _get(data, "holidays"), False)
        )
    ]

    outcomes = [
        _outcome(collect, f"outcomes[{index}]", item)
        for index, item in enumerate(collect.mapping_list("outcomes", _get(data, "outcomes")))
    ]
    _unique(collect, "outcomes", [o.id if o else None for o in outcomes], "outcome id")
    schedule = [
        _checkpoint(collect, f"schedule[{index}]", item)
        for index, item in enumerate(collect.mapping_list("schedule", _get(data, "schedule")))
    ]
    _unique(collect, "schedule", [c.offset_weeks if c else None for c in schedule], "offset_weeks")
    _unique(collect, "schedule", [c.name if c else None for c in schedule], "checkpoint name")
    raw_channels = _get(data, "notifications")
    channels = [
        _channel(collect, f"notifications[{index}]", item)
        for index, item in enumerate(collect.mapping_list("notifications", raw_channels, False))
    ]
    outcome_ids = {o.id for o in outcomes if o}
    criteria = [
        _criterion(collect, f"acceptance_criteria[{index}]", item, outcome_ids)
        for index, item in enumerate(
            collect.mapping_list("acceptance_criteria", _get(data, "acceptance_criteria"), False)
        )
    ]
    title = collect.text("title", _get(data, "title"), required=False)
    brief = collect.text("mission_brief", _get(data, "mission_brief"), required=False)
    if collect.issues:
        raise ContractError(source, collect.issues)

    # The log channel is always on, whether or not the file lists it.
    channel_tuple = tuple(c for c in channels if c and c.type == "webhook")
    return Contract(
        id=contract_id,
        mission_id=mission_id,
        title=title,
        mission_brief=brief,
        start_date=start,
        timezone=timezone,
        calendar=calendar,
        holidays=tuple(sorted(set(holidays))),
        outcomes=tuple(outcomes),
        schedule=tuple(sorted(schedule, key=lambda checkpoint: checkpoint.offset_weeks)),
        notifications=(Channel(type="log"), *channel_tuple),
        acceptance_criteria=tuple(criteria),
        source_path=source,
    )
