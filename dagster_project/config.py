"""The pipeline configuration file (``dora.yml``): sources, environments, failure rules.

Every setting has a default, so an empty or missing file runs the embedded
sample. Validation collects every problem and names the field, the value and
what is allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from dagster_project import settings

PRODUCTION = "production"

# Names recognised without configuration. Production aliases are matched exactly
# after trimming and case-folding; nothing is matched by substring.
DEFAULT_ENVIRONMENT_MAPPING: dict[str, str] = {
    "production": PRODUCTION,
    "prod": PRODUCTION,
    "prd": PRODUCTION,
    "live": PRODUCTION,
}
DEFAULT_NON_PRODUCTION: tuple[str, ...] = (
    "staging",
    "stage",
    "stg",
    "dev",
    "development",
    "test",
    "testing",
    "qa",
    "uat",
    "preprod",
    "pre-prod",
    "preproduction",
    "pre-production",
    "non-prod",
    "nonprod",
    "sandbox",
    "demo",
    "preview",
    "review",
    "integration",
    "canary-staging",
)


# Source sections read by the API source modules; files and git are read here.
KNOWN_SOURCES = frozenset({"github", "gitlab", "pagerduty", "opsgenie", "statuspage"})


class ConfigError(ValueError):
    """An invalid configuration; the message lists every invalid field."""


def normalise_environment(name: str) -> str:
    """Trim and case-fold an environment name, as the staging models do."""
    return name.strip().casefold()


@dataclass(frozen=True)
class HotfixRules:
    labels: tuple[str, ...] = ("hotfix",)
    branch_prefixes: tuple[str, ...] = ("hotfix/", "hotfix-")
    title_prefixes: tuple[str, ...] = ("hotfix", "[hotfix]")
    window_hours: float = 24.0


@dataclass(frozen=True)
class TagRuleConfig:
    pattern: str
    service: str
    environment: str = PRODUCTION


@dataclass(frozen=True)
class GitRepoConfig:
    path: Path
    repo: str
    branch: str | None = None
    tag_rules: tuple[TagRuleConfig, ...] = ()
    compute_patch_ids: bool = True


@dataclass
class PipelineConfig:
    timezone: str = "UTC"
    events_dir: Path | None = None
    git_repos: list[GitRepoConfig] = field(default_factory=list)
    environment_mapping: dict[str, str] = field(default_factory=dict)
    non_production_environments: tuple[str, ...] = DEFAULT_NON_PRODUCTION
    hotfix: HotfixRules = field(default_factory=HotfixRules)
    latest_deployment_within_hours: float | None = None
    # Sections of other sources (github, gitlab, pagerduty, ...) as written in the file.
    sources: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def canonical_environment(self, name: str) -> str | None:
        """Return the canonical name of an environment, or None when it is unknown."""
        key = normalise_environment(name)
        mapping = {**DEFAULT_ENVIRONMENT_MAPPING, **self.environment_mapping}
        if key in mapping:
            return mapping[key]
        if key in self.non_production_environments:
            return key
        return None

    def dbt_vars(self) -> dict[str, Any]:
        """Return the dbt vars that carry this configuration into the models."""
        return {
            "timezone": self.timezone,
            "environment_mapping": dict(self.environment_mapping),
            "hotfix_labels": list(self.hotfix.labels),
            "hotfix_branch_prefixes": list(self.hotfix.branch_prefixes),
            "hotfix_title_prefixes": list(self.hotfix.title_prefixes),
            "hotfix_window_hours": self.hotfix.window_hours,
            "latest_deployment_within_hours": self.latest_deployment_within_hours,
        }


def _string_list(value: Any, path: str, errors: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    errors.append(f"{path}: invalid value {value!r}; expected a list of strings")
    return ()


def _number(value: Any, path: str, errors: list[str], allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        errors.append(f"{path}: invalid value {value!r}; expected a positive number of hours")
        return None
    return float(value)


def _resolve_path(value: Any, base: Path, path: str, errors: list[str]) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{path}: invalid value {value!r}; expected a folder path")
        return None
    candidate = Path(os.path.expandvars(value)).expanduser()
    return (candidate if candidate.is_absolute() else base / candidate).resolve()


def _parse_git(section: Any, base: Path, errors: list[str]) -> list[GitRepoConfig]:
    if section is None:
        return []
    items = section if isinstance(section, list) else [section]
    repos = []
    # The repo name is the partition key and the _source of the rows, so two
    # entries with one name would overwrite each other's rows.
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"sources.git[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where}: invalid value {item!r}; expected a mapping with 'path'")
            continue
        path = _resolve_path(item.get("path"), base, f"{where}.path", errors)
        if path is None:
            continue
        repo = str(item.get("repo") or path.name.removesuffix(".git"))
        if repo in first_index:
            errors.append(
                f"{where}.repo: repo name {repo!r} is already used by "
                f"sources.git[{first_index[repo]}]; set a distinct repo on one of them"
            )
            continue
        first_index[repo] = index
        rules = []
        for rule_index, rule in enumerate(item.get("tags") or []):
            rule_where = f"{where}.tags[{rule_index}]"
            if not isinstance(rule, dict) or not rule.get("pattern") or not rule.get("service"):
                errors.append(
                    f"{rule_where}: invalid value {rule!r}; expected "
                    "{pattern: 'v*', service: NAME, environment: production}"
                )
                continue
            rules.append(
                TagRuleConfig(
                    str(rule["pattern"]),
                    str(rule["service"]),
                    str(rule.get("environment") or PRODUCTION),
                )
            )
        if not rules:
            rules.append(TagRuleConfig("v*", repo, PRODUCTION))
        repos.append(
            GitRepoConfig(
                path=path,
                repo=repo,
                branch=item.get("branch"),
                tag_rules=tuple(rules),
                compute_patch_ids=bool(item.get("patch_ids", True)),
            )
        )
    return repos


def parse_config(data: dict[str, Any] | None, base: Path) -> PipelineConfig:
    """Build a configuration from parsed YAML; raise ConfigError listing every problem."""
    data = data or {}
    errors: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError(f"configuration: expected a mapping at the top level, got {data!r}")
    known = {"timezone", "environments", "hotfix", "attribution", "sources"}
    for key in data:
        if key not in known:
            errors.append(f"{key}: unknown setting; allowed: {', '.join(sorted(known))}")
    config = PipelineConfig()
    timezone = data.get("timezone", "UTC")
    try:
        ZoneInfo(str(timezone))
        config.timezone = str(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(
            f"timezone: unknown time zone {timezone!r}; use an IANA name such as Europe/Berlin"
        )

    environments = data.get("environments") or {}
    mapping = environments.get("mapping") or {}
    if not isinstance(mapping, dict):
        errors.append(
            f"environments.mapping: invalid value {mapping!r}; expected name: canonical pairs"
        )
        mapping = {}
    config.environment_mapping = {
        normalise_environment(str(k)): normalise_environment(str(v)) for k, v in mapping.items()
    }
    extra_non_prod = _string_list(
        environments.get("non_production"), "environments.non_production", errors
    )
    config.non_production_environments = DEFAULT_NON_PRODUCTION + tuple(
        normalise_environment(name) for name in extra_non_prod
    )

    hotfix = data.get("hotfix") or {}
    defaults = HotfixRules()
    config.hotfix = HotfixRules(
        labels=_string_list(hotfix.get("labels", list(defaults.labels)), "hotfix.labels", errors),
        branch_prefixes=_string_list(
            hotfix.get("branch_prefixes", list(defaults.branch_prefixes)),
            "hotfix.branch_prefixes",
            errors,
        ),
        title_prefixes=_string_list(
            hotfix.get("title_prefixes", list(defaults.title_prefixes)),
            "hotfix.title_prefixes",
            errors,
        ),
        window_hours=_number(hotfix.get("window_hours", 24), "hotfix.window_hours", errors) or 24.0,
    )
    attribution = data.get("attribution") or {}
    config.latest_deployment_within_hours = _number(
        attribution.get("latest_deployment_within_hours"),
        "attribution.latest_deployment_within_hours",
        errors,
        allow_none=True,
    )

    sources = dict(data.get("sources") or {})
    if "files" in sources:
        files = sources.pop("files") or {}
        folder = files.get("path") if isinstance(files, dict) else files
        config.events_dir = _resolve_path(folder, base, "sources.files.path", errors)
        if (
            config.events_dir is not None
            and not Path(os.path.expandvars(str(folder))).expanduser().is_absolute()
            and not config.events_dir.is_relative_to(base.resolve())
        ):
            # A relative path stays inside the configuration's folder; reading
            # elsewhere takes an absolute path, written on purpose.
            errors.append(
                f"sources.files.path: {folder!r} leaves the folder of the configuration "
                f"({base.resolve()}); write an absolute path to read events from elsewhere"
            )
    config.git_repos = _parse_git(sources.pop("git", None), base, errors)
    for key in sources:
        if key not in KNOWN_SOURCES:
            errors.append(
                f"sources.{key}: unknown source; allowed: files, git, {', '.join(sorted(KNOWN_SOURCES))}"
            )
    config.sources = sources
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
    return config


def load_config(path: str | os.PathLike[str] | None = None) -> PipelineConfig:
    """Load ``path``, else ``$DORA_CONFIG``, else the defaults (the embedded sample)."""
    chosen = path or os.environ.get(settings.CONFIG_ENV)
    if not chosen:
        config = PipelineConfig(events_dir=settings.SAMPLE_EVENTS_DIR)
        return config
    file = Path(chosen).expanduser().resolve()
    if not file.is_file():
        raise ConfigError(
            f"configuration file not found: {file}; check the path or unset {settings.CONFIG_ENV}"
        )
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"configuration file {file} is not valid YAML: {error}") from None
    config = parse_config(data, file.parent)
    config.path = file
    return config
