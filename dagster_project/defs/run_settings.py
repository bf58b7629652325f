"""The run settings resource: which configuration, sources, measurement time and zone to use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from dagster_project.config import GitRepoConfig, PipelineConfig, TagRuleConfig, load_config
from dagster_project.contract.loading import load_contracts
from dagster_project.contract.model import Contract
from dagster_project.timeparse import parse_timestamp


class RunSettingsResource(dg.ConfigurableResource):
    """Overrides for one refresh; empty values fall back to the configuration file.

    ``as_of`` is the measurement time (ISO 8601 with an offset); empty means the
    time the run was created, so every step of one run measures at the same instant.
    """

    config_path: str = ""
    events_dir: str = ""
    git_repo: str = ""
    as_of: str = ""
    timezone: str = ""
    contracts_path: str = ""

    def load(self) -> PipelineConfig:
        """Return the configuration with this run's overrides applied."""
        config = load_config(self.config_path or None)
        if self.events_dir:
            config.events_dir = Path(self.events_dir).expanduser().resolve()
        if self.git_repo:
            path = Path(self.git_repo).expanduser().resolve()
            repo = path.name.removesuffix(".git")
            config.git_repos = [
                GitRepoConfig(path=path, repo=repo, tag_rules=(TagRuleConfig("v*", repo),))
            ]
            if not self.events_dir and config.path is None:
                config.events_dir = None
        if self.timezone:
            config.timezone = self.timezone
        return config

    def load_contracts(self) -> list[Contract]:
        """Return the outcome contracts: this run's file or folder, else $DORA_CONTRACTS or contracts/."""
        return load_contracts(self.contracts_path or None)

    def resolve_as_of(self, context: dg.AssetExecutionContext) -> datetime:
        """Return the measurement time of this run in UTC."""
        if self.as_of:
            parsed = parse_timestamp(self.as_of, "as_of")
            assert parsed is not None
            return parsed
        record = context.instance.get_run_record_by_id(context.run_id)
        if record is not None and record.create_timestamp is not None:
            return record.create_timestamp.astimezone(UTC).replace(microsecond=0)
        return datetime.now(UTC).replace(microsecond=0)
