"""Dynamic partitions of the extraction assets: one key per configured item.

A partition key is the ``_source`` value of the item's rows, so it names the
source instance and the item and stays the same across runs:

- ``github_repositories``: ``github:<owner>/<repo>``, one per ``sources.github.repos`` entry;
- ``gitlab_projects``: ``gitlab:<group>/<project>``, one per ``sources.gitlab.projects`` entry;
- ``pagerduty_sources``, ``opsgenie_sources``, ``statuspage_pages``: the section's
  ``source_name`` (default ``pagerduty``, ``opsgenie``, ``statuspage``), one key
  when the section is configured and enabled.

A PagerDuty or Opsgenie section is one partition, not one per service or
team, because all its rows share one ``_source`` and one cursor, and a merge
replaces rows by ``_source``. Also, with ``service_ids`` empty PagerDuty
returns every service of the account, which the configuration does not list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from dagster_project.config import ConfigError, PipelineConfig
from dagster_project.sources import github, gitlab
from dagster_project.sources import incidents_opsgenie as opsgenie
from dagster_project.sources import incidents_pagerduty as pagerduty
from dagster_project.sources import incidents_statuspage as statuspage


@dataclass(frozen=True)
class PartitionedSource:
    """One kind of extracted item: its partitions, landing folder and configured keys."""

    # Folder of the kind's landing files and the suffix of its job, ``extract_<kind>``.
    kind: str
    partitions: dg.DynamicPartitionsDefinition
    keys_of: Callable[[PipelineConfig], list[str]]

    @property
    def job_name(self) -> str:
        return f"extract_{self.kind}"


def _github_keys(config: PipelineConfig) -> list[str]:
    return [repo.source for repo in github.parse_github_config(config.sources.get("github")).repos]


def _gitlab_keys(config: PipelineConfig) -> list[str]:
    parsed = gitlab.parse_gitlab_config(config.sources.get("gitlab"))
    return [project.source for project in parsed.projects]


def _section_keys(parse: Callable[..., object], name: str) -> Callable[[PipelineConfig], list[str]]:
    def keys(config: PipelineConfig) -> list[str]:
        settings = parse(config.sources.get(name))
        return [] if settings is None else [settings.source]

    return keys


def _statuspage_keys(config: PipelineConfig) -> list[str]:
    base = config.path.parent if config.path is not None else None
    settings = statuspage.parse_settings(config.sources.get("statuspage"), base)
    return [] if settings is None else [settings.source]


GITHUB = PartitionedSource(
    "github", dg.DynamicPartitionsDefinition(name="github_repositories"), _github_keys
)
GITLAB = PartitionedSource(
    "gitlab", dg.DynamicPartitionsDefinition(name="gitlab_projects"), _gitlab_keys
)
PAGERDUTY = PartitionedSource(
    "pagerduty",
    dg.DynamicPartitionsDefinition(name="pagerduty_sources"),
    _section_keys(pagerduty.parse_settings, "pagerduty"),
)
OPSGENIE = PartitionedSource(
    "opsgenie",
    dg.DynamicPartitionsDefinition(name="opsgenie_sources"),
    _section_keys(opsgenie.parse_settings, "opsgenie"),
)
STATUSPAGE = PartitionedSource(
    "statuspage", dg.DynamicPartitionsDefinition(name="statuspage_pages"), _statuspage_keys
)
PARTITIONED_SOURCES = (GITHUB, GITLAB, PAGERDUTY, OPSGENIE, STATUSPAGE)


def configured_keys(source: PartitionedSource, config: PipelineConfig) -> list[str]:
    """Return the partition keys of the configured items, in configuration order.

    Raises ConfigError naming the invalid field when the source's section is invalid.
    """
    try:
        keys = source.keys_of(config)
    except ConfigError:
        raise
    except ValueError as error:
        # GitHubConfigError and GitLabConfigError are ValueErrors that list every invalid field.
        raise ConfigError(str(error)) from None
    return list(dict.fromkeys(keys))


@dataclass
class KeyChanges:
    """Keys to add to and delete from one dynamic partitions definition."""

    source: PartitionedSource
    added: list[str]
    deleted: list[str]
    keys: list[str]


def key_changes(
    instance: dg.DagsterInstance, config: PipelineConfig, sources=PARTITIONED_SOURCES
) -> list[KeyChanges]:
    """Return, per kind, the keys to add and delete so the stored keys match the configuration."""
    changes = []
    for source in sources:
        configured = configured_keys(source, config)
        stored = instance.get_dynamic_partitions(source.partitions.name)
        added = [key for key in configured if key not in stored]
        deleted = [key for key in stored if key not in configured]
        changes.append(KeyChanges(source, added, deleted, configured))
    return changes


def sync_keys(
    instance: dg.DagsterInstance, config: PipelineConfig, sources=PARTITIONED_SOURCES
) -> list[KeyChanges]:
    """Add the keys of newly configured items and delete the keys of removed ones.

    A deleted key's landing file and warehouse rows are left in place.
    """
    changes = key_changes(instance, config, sources)
    for change in changes:
        name = change.source.partitions.name
        if change.added:
            instance.add_dynamic_partitions(name, change.added)
        for key in change.deleted:
            instance.delete_dynamic_partition(name, key)
    return changes
