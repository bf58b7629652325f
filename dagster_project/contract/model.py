"""The outcome contract as typed values: outcomes, targets, schedule, notification channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

METRICS = ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")
OPERATORS = (">=", "<=")
CALENDARS = ("all_days", "business_days")
WEBHOOK_FORMATS = ("slack", "json")
CHANNEL_TYPES = ("log", "webhook")

# Units each metric may be stated in, and the factor from the unit to the base
# value the marts compute (deployments per day, seconds, or a 0-1 fraction).
METRIC_UNITS: dict[str, dict[str, float]] = {
    "deployment_frequency": {"deploys/day": 1.0},
    "lead_time": {"hours": 3600.0, "minutes": 60.0},
    "change_failure_rate": {"percent": 0.01},
    "time_to_restore": {"minutes": 60.0, "hours": 3600.0},
}

# The operator each metric's criterion uses: more deployments are better, the
# other three are better when lower.
METRIC_OPERATORS = {
    "deployment_frequency": ">=",
    "lead_time": "<=",
    "change_failure_rate": "<=",
    "time_to_restore": "<=",
}

DEFAULT_WINDOW_DAYS = {
    "deployment_frequency": 14,
    "lead_time": 30,
    "change_failure_rate": 30,
    "time_to_restore": 30,
}
DEFAULT_SUSTAIN_DAYS = {
    "deployment_frequency": 14,
    "lead_time": 1,
    "change_failure_rate": 1,
    "time_to_restore": 1,
}

STATUSES = ("not-started", "baselining", "on-track", "at-risk", "off-track", "met", "missed")

# Margin above which a criterion that holds is on track rather than at risk.
AT_RISK_MARGIN = 0.10


@dataclass(frozen=True)
class Outcome:
    """One outcome: a metric, its target and the windows its criterion reads."""

    id: str
    metric: str
    operator: str
    target: float
    unit: str
    window_days: int
    sustain_days: int
    service: str | None = None
    title: str | None = None
    description: str | None = None
    metric_label: str | None = None
    measurement_method: str | None = None
    measurement_source: str | None = None
    deadline: date | None = None

    @property
    def target_base(self) -> float:
        """The target in the base unit of the marts (per day, seconds, fraction)."""
        return self.target * METRIC_UNITS[self.metric][self.unit]


@dataclass(frozen=True)
class Checkpoint:
    """A measurement checkpoint, a whole number of weeks after the start date."""

    name: str
    offset_weeks: int
    description: str | None = None

    def measured_through(self, start: date) -> date:
        """Return the last local day the checkpoint measures (its eve)."""
        return start + timedelta(days=7 * self.offset_weeks - 1)


@dataclass(frozen=True)
class Channel:
    """A notification channel: the log, or a webhook whose URL is in an env var."""

    type: str
    url_env: str | None = None
    format: str = "slack"


@dataclass(frozen=True)
class AcceptanceCriterion:
    """A line of the acceptance criteria and what ticks it.

    ``check`` is an outcome id (ticked while that criterion holds, or once the
    outcome is met), ``measured`` (ticked when every outcome has data), or None
    (never ticked by the pipeline).
    """

    text: str
    check: str | None = None


@dataclass(frozen=True)
class Contract:
    """An outcome contract: mission, calendar, outcomes, schedule, channels."""

    id: str
    mission_id: str
    start_date: date
    timezone: str
    calendar: str
    outcomes: tuple[Outcome, ...]
    schedule: tuple[Checkpoint, ...]
    holidays: tuple[date, ...] = ()
    notifications: tuple[Channel, ...] = (Channel(type="log"),)
    acceptance_criteria: tuple[AcceptanceCriterion, ...] = ()
    title: str | None = None
    mission_brief: str | None = None
    source_path: str | None = field(default=None, compare=False)

    @property
    def baseline_checkpoint(self) -> Checkpoint:
        """The earliest checkpoint: each outcome's baseline is measured there."""
        return min(self.schedule, key=lambda checkpoint: checkpoint.offset_weeks)

    @property
    def final_checkpoint(self) -> Checkpoint:
        """The latest checkpoint: the final evaluation, met or missed."""
        return max(self.schedule, key=lambda checkpoint: checkpoint.offset_weeks)

    def outcome(self, outcome_id: str) -> Outcome:
        """Return the outcome with this id, or raise KeyError."""
        for outcome in self.outcomes:
            if outcome.id == outcome_id:
                return outcome
        raise KeyError(outcome_id)
