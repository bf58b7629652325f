"""The outcome contract: model, validation, YAML and Markdown input, report, notifications."""

from dagster_project.contract.loading import (
    contract_to_dict,
    contracts_path,
    dump_contract,
    load_contract,
    load_contracts,
)
from dagster_project.contract.markdown_import import (
    ContractImportError,
    ImportResult,
    import_markdown,
    import_markdown_file,
)
from dagster_project.contract.model import Contract, Outcome
from dagster_project.contract.validation import ContractError, validate_contract

__all__ = [
    "Contract",
    "ContractError",
    "ContractImportError",
    "ImportResult",
    "Outcome",
    "contract_to_dict",
    "contracts_path",
    "dump_contract",
    "import_markdown",
    "import_markdown_file",
    "load_contract",
    "load_contracts",
    "validate_contract",
]
