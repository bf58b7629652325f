"""Pass contracts to dbt as the ``contracts`` var.

The contract marts read this var (a list of plain mappings) and turn it into
rows with a ``values`` list, so no seed file is written and two refreshes with
different contracts never share a file. The dates of the schedule are worked
out here, in Python, so the SQL only compares dates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dagster_project.contract.model import METRIC_UNITS, Contract

CONTRACTS_VAR = "contracts"


def contract_var_entry(contract: Contract) -> dict[str, Any]:
    """Return one contract as the mapping the contract marts read."""
    baseline = contract.baseline_checkpoint
    final = contract.final_checkpoint
    return {
        "id": contract.id,
        "mission_id": contract.mission_id,
        "start_date": contract.start_date.isoformat(),
        "timezone": contract.timezone,
        "calendar": contract.calendar,
        "holidays": [day.isoformat() for day in contract.holidays],
        "baseline_date": baseline.measured_through(contract.start_date).isoformat(),
        "final_date": final.measured_through(contract.start_date).isoformat(),
        "outcomes": [
            {
                "id": outcome.id,
                "metric": outcome.metric,
                "operator": outcome.operator,
                "target": outcome.target,
                "unit": outcome.unit,
                "unit_factor": METRIC_UNITS[outcome.metric][outcome.unit],
                "window_days": outcome.window_days,
                "sustain_days": outcome.sustain_days,
                "service": outcome.service,
            }
            for outcome in contract.outcomes
        ],
        "checkpoints": [
            {
                "name": checkpoint.name,
                "offset_weeks": checkpoint.offset_weeks,
                "measured_through": checkpoint.measured_through(contract.start_date).isoformat(),
                "is_baseline": checkpoint == baseline,
                "is_final": checkpoint == final,
            }
            for checkpoint in contract.schedule
        ],
    }


def contract_vars(contracts: Iterable[Contract]) -> dict[str, Any]:
    """Return the dbt vars that carry these contracts: ``{"contracts": [...]}``."""
    return {CONTRACTS_VAR: [contract_var_entry(contract) for contract in contracts]}


def contract_vars_json(contracts: Iterable[Contract]) -> str:
    """Return the contract vars as JSON text for ``dbt --vars``."""
    return json.dumps(contract_vars(contracts))
