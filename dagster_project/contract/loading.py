"""Read contracts from YAML files and write them back.

Several contracts (one per team or service) live side by side as the YAML
files of one folder; each file contains one contract, whose id defaults to the
file name without its extension.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from dagster_project import settings
from dagster_project.contract.model import Contract, Outcome
from dagster_project.contract.validation import ContractError, ContractIssue, validate_contract

CONTRACTS_ENV = "DORA_CONTRACTS"
DEFAULT_CONTRACTS_DIR = settings.PROJECT_ROOT / "contracts"


class _ContractLoader(yaml.SafeLoader):
    """A safe YAML loader that keeps dates as text, so validation reports a bad date."""


_ContractLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def contracts_path() -> Path:
    """Return ``$DORA_CONTRACTS`` (a file or a folder) or the repository's ``contracts/``."""
    return Path(os.environ.get(CONTRACTS_ENV) or DEFAULT_CONTRACTS_DIR).resolve()


def load_contract(path: str | os.PathLike[str]) -> Contract:
    """Read and validate one contract file; raise ContractError with every issue."""
    file = Path(path)
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_ContractLoader)
    except yaml.YAMLError as error:
        issue = ContractIssue("(document)", None, f"is not valid YAML: {error}")
        raise ContractError(str(file), [issue]) from error
    default_id = file.stem.replace("-", "_").lower()
    return validate_contract(data, source=str(file), default_id=default_id)


def load_contracts(path: str | os.PathLike[str] | None = None) -> list[Contract]:
    """Load one contract file, or every ``*.yml``/``*.yaml`` file of a folder, sorted by name.

    Raises ContractError for the first invalid file, listing all of its issues,
    and for two contracts with the same id.
    """
    root = Path(path) if path is not None else contracts_path()
    files = sorted([*root.glob("*.yml"), *root.glob("*.yaml")]) if root.is_dir() else [root]
    if not files:
        issue = ContractIssue("(folder)", str(root), "holds no contract: add a .yml file")
        raise ContractError(str(root), [issue])
    contracts = [load_contract(file) for file in files]
    seen: dict[str, str] = {}
    for contract in contracts:
        if contract.id in seen:
            issue = ContractIssue("id", contract.id, f"is also the id of {seen[contract.id]}")
            raise ContractError(str(contract.source_path), [issue])
        seen[contract.id] = str(contract.source_path)
    return contracts


def _outcome_dict(outcome: Outcome) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": outcome.id,
        "title": outcome.title,
        "description": outcome.description,
        "metric": outcome.metric,
        "metric_label": outcome.metric_label,
        "operator": outcome.operator,
        "target": _plain_number(outcome.target),
        "unit": outcome.unit,
        "window_days": outcome.window_days,
        "sustain_days": outcome.sustain_days,
        "service": outcome.service,
        "measurement_method": outcome.measurement_method,
        "measurement_source": outcome.measurement_source,
        "deadline": outcome.deadline.isoformat() if outcome.deadline else None,
    }
    return {key: value for key, value in data.items() if value is not None}


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def contract_to_dict(contract: Contract) -> dict[str, Any]:
    """Return the contract as the plain mapping its YAML file holds."""
    data: dict[str, Any] = {
        "id": contract.id,
        "title": contract.title,
        "mission_id": contract.mission_id,
        "mission_brief": contract.mission_brief,
        "start_date": contract.start_date.isoformat(),
        "timezone": contract.timezone,
        "calendar": contract.calendar,
        "holidays": [day.isoformat() for day in contract.holidays] or None,
        "outcomes": [_outcome_dict(outcome) for outcome in contract.outcomes],
        "schedule": [
            {
                key: value
                for key, value in {
                    "name": checkpoint.name,
                    "offset_weeks": checkpoint.offset_weeks,
                    "description": checkpoint.description,
                }.items()
                if value is not None
            }
            for checkpoint in contract.schedule
        ],
        "notifications": [
            {"type": "log"}
            if channel.type == "log"
            else {"type": "webhook", "url_env": channel.url_env, "format": channel.format}
            for channel in contract.notifications
        ],
        "acceptance_criteria": [
            {"text": criterion.text, "check": criterion.check}
            if criterion.check
            else {"text": criterion.text}
            for criterion in contract.acceptance_criteria
        ]
        or None,
    }
    return {key: value for key, value in data.items() if value is not None}


def dump_contract(contract: Contract) -> str:
    """Return the contract as YAML text, in the field order of the schema."""
    return yaml.safe_dump(
        contract_to_dict(contract), sort_keys=False, allow_unicode=True, width=100
    )
