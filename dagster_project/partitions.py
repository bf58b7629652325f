"""Dynamic partitions of the extraction assets: one key per configured item.

A partition key is the ``_source`` value of the item's rows, so it names the
source instance and the item and stays the same across runs:

- ``git_repositories``: ``git:<repo>``, one per ``sources.git`` entry (``repo``
  defaults to the clone's folder name);
- ``github_repositories``: ``github:<owner>/<repo>``, one per ``sources.github.repos`` entry;
- ``gitlab_projects``: ``gitlab:<group>/<project>``, one per ``sources.gitlab.projects`` entry;
- ``pagerduty_sources``: ``<source_name>:<service id>``, one per
  ``sources.pagerduty.service_ids`` entry, or the section's ``source_name``
  (default ``pagerduty``) alone when ``service_ids`` is empty, because then
  the configuration does not list the account's services;
- ``opsgenie_sources``: ``<source_name>:<service id>`` per
  ``sources.opsgenie.service_ids`` entry, plus ``<source_name>:alerts`` when
  ``include_alerts`` is true, or the ``source_name`` (default ``opsgenie``)
  alone when ``service_ids`` is empty;
- ``statuspage_pages``: the section's ``source_name`` (default ``statuspage``).

A section that is absent or disabled has no key. Each incident partition has
its own cursor and landing file. The dbt staging models name the section (the
text before the first ``:``) as an incident's source, so the incident keys and
marts are the same whether a section is one partition or one per service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from dagster_project.config import ConfigError, PipelineConfig
from dagster_project.sources import github, gitlab
from dagster_project.sources import incidents_opsgenie as opsgenie
from dagster_project.sources import incidents_pagerduty as pagerduty
from dagster_project.sources import incidents_statuspage as statuspage
from dagster_project.sources.incidents_common import PARTITION_SEPARATOR


@dataclass(frozen=True)
class PartitionedSource:
    """One kind of extracted item: its partitions, landing folder and configured keys."""

    # Folder of the kind's landing files and the suffix of its job, ``extract_<kind>``.
    kind: str
    partitions: dg.DynamicPartitionsDefinition
    keys_of: Callable[[PipelineConfig], list[str]]
    # Return the configuration section a key belongs to. Set for kinds whose
    # section may be one key or several, so the merge deletes the rows of the
    # keys a section no longer has instead of counting those incidents twice.
    section_of: Callable[[str], str] | None = None

    @property
    def job_name(self) -> str:
        return f"extract_{self.kind}"


def _git_keys(config: PipelineConfig) -> list[str]:
    return [f"git:{repo.repo}" for repo in config.git_repos]


def _github_keys(config: PipelineConfig) -> list[str]:
    return [repo.source for repo in github.parse_github_config(config.sources.get("github")).repos]


def _gitlab_keys(config: PipelineConfig) -> list[str]:
    parsed = gitlab.parse_gitlab_config(config.sources.get("gitlab"))
    return [project.source for project in parsed.projects]


def _incident_keys(module: Any, name: str) -> Callable[[PipelineConfig], list[str]]:
    """Return the key function of an incident source whose section splits by service."""

    def keys(config: PipelineConfig) -> list[str]:
        settings = module.parse_settings(config.sources.get(name))
        return [] if settings is None else list(module.settings_by_partition(settings))

    return keys


def incident_section(key: str) -> str:
    """Return the ``source_name`` of the section an incident partition key belongs to."""
    return key.split(PARTITION_SEPARATOR, 1)[0]


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
    _incident_keys(pagerduty, "pagerduty"),
    incident_section,
)
OPSGENIE = PartitionedSource(
    "opsgenie",
    dg.DynamicPartitionsDefinition(name="opsgenie_sources"),
    _incident_keys(opsgenie, "opsgenie"),
    incident_section,
)
STATUSPAGE = PartitionedSource(
    "statuspage", dg.DynamicPartitionsDefinition(name="statuspage_pages"), _statuspage_keys
)
GIT = PartitionedSource("git", dg.DynamicPartitionsDefinition(name="git_repositories"), _git_keys)
PARTITIONED_SOURCES = (GIT, GITHUB, GITLAB, PAGERDUTY, OPSGENIE, STATUSPAGE)


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

    A deleted key's landing file is left in place. Its warehouse rows stay too,
    except for a key that is no longer part of a still configured incident
    section, whose rows the source's next merge deletes.
    """
    changes = key_changes(instance, config, sources)
    for change in changes:
        name = change.source.partitions.name
        if change.added:
            instance.add_dynamic_partitions(name, change.added)
        for key in change.deleted:
            instance.delete_dynamic_partition(name, key)
    return changes
