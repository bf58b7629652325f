"""Read a repository's tags and turn the ones matching a rule into deployments."""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster_project.sources.git_commands import GitRepository, GitSourceError
from dagster_project.timeparse import TimestampError, parse_timestamp

_TAG_FIELDS = (
    "%(refname)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(taggerdate:iso-strict)",
    "%(committerdate:iso-strict)",
    "%(*committerdate:iso-strict)",
)
TAG_FORMAT = "%00".join(_TAG_FIELDS)


@dataclass(frozen=True)
class TagRule:
    """A tag-name glob (``fnmatch``, case-sensitive) mapped to the deployment it marks."""

    pattern: str
    service: str
    environment: str = "production"

    def __post_init__(self) -> None:
        for field_name in ("pattern", "service", "environment"):
            if not str(getattr(self, field_name)).strip():
                raise ValueError(
                    f"tag rule {self!r}: {field_name} is empty; give every rule "
                    "a tag pattern such as 'v*', a service and an environment"
                )

    def matches(self, tag_name: str) -> bool:
        """Return whether the tag name matches this rule's pattern."""
        return fnmatch.fnmatchcase(tag_name, self.pattern)


@dataclass(frozen=True)
class Tag:
    """One tag as ``git for-each-ref`` lists it, before it is peeled to a commit."""

    name: str
    object_type: str
    object_sha: str
    commit_sha: str | None
    tagger_date: str | None
    commit_date: str | None

    @property
    def is_annotated(self) -> bool:
        """Whether the tag is a tag object (annotated) rather than a plain ref."""
        return self.object_type == "tag"


def list_tags(repository: GitRepository) -> tuple[list[Tag], list[dict]]:
    """Return the repository's tags and quarantine items for lines that do not parse."""
    output = repository.run(["for-each-ref", f"--format={TAG_FORMAT}", "refs/tags"]).stdout
    tags: list[Tag] = []
    rejected: list[dict] = []
    for line in output.splitlines():
        if not line:
            continue
        fields = line.split("\0")
        if len(fields) != len(_TAG_FIELDS) or not fields[0].startswith("refs/tags/"):
            rejected.append(
                {
                    "entity": "deployment_statuses",
                    "location": f"{repository.path}:refs/tags",
                    "raw_content": line.replace("\0", " | "),
                    "reason": "git for-each-ref printed a tag line that does not parse",
                }
            )
            continue
        tags.append(_tag_from_fields(fields))
    return tags, rejected


def match_rule(rules: Sequence[TagRule], tag_name: str) -> TagRule | None:
    """Return the first rule whose pattern matches the tag name, or None."""
    return next((rule for rule in rules if rule.matches(tag_name)), None)


def peel_tags(repository: GitRepository, tags: Sequence[Tag]) -> dict[str, str | None]:
    """Return the commit sha of each tag name, or None when the tag names no commit.

    Tags that ``for-each-ref`` already peeled need no git call. The others
    (a tag of a tag, a tag of a tree or blob) are peeled in one
    ``git cat-file --batch-check`` call.
    """
    peeled: dict[str, str | None] = {}
    unresolved: list[Tag] = []
    for tag in tags:
        if tag.commit_sha is not None:
            peeled[tag.name] = tag.commit_sha
        else:
            unresolved.append(tag)
    if not unresolved:
        return peeled
    request = "".join(f"{tag.object_sha}^{{commit}}\n" for tag in unresolved)
    result = repository.run(
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"], input_text=request
    )
    answers = result.stdout.splitlines()
    if len(answers) != len(unresolved):
        raise GitSourceError(
            f"`git cat-file` returned {len(answers)} lines for {len(unresolved)} tags in "
            f"{repository.path}; check the repository with `git -C {repository.path} fsck`"
        )
    for tag, answer in zip(unresolved, answers, strict=True):
        sha, _, kind = answer.partition(" ")
        peeled[tag.name] = sha if kind == "commit" else None
    return peeled


def _tag_from_fields(fields: list[str]) -> Tag:
    refname, object_type, object_sha, peeled_type, peeled_sha, tagger, commit_date, peeled_date = (
        fields
    )
    if object_type == "commit":
        commit_sha: str | None = object_sha
        date = commit_date
    elif object_type == "tag" and peeled_type == "commit":
        commit_sha = peeled_sha
        date = peeled_date
    else:
        commit_sha = None
        date = ""
    return Tag(
        name=refname.removeprefix("refs/tags/"),
        object_type=object_type,
        object_sha=object_sha,
        commit_sha=commit_sha,
        tagger_date=tagger or None,
        commit_date=date or None,
    )


@dataclass
class DeploymentRows:
    """Deployment status rows built from tags, with what could not be used."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: Counter[str] = field(
        default_factory=lambda: Counter(
            dict.fromkeys(("tags", "tags_matched", "tags_ignored", "deployments"), 0)
        )
    )


def build_deployment_rows(
    rules: Sequence[TagRule],
    source: str,
    repo: str,
    location: str,
    tags: Sequence[Tag],
    peeled: Mapping[str, str | None],
) -> DeploymentRows:
    """Return one ``success`` status row per tag that matches a rule.

    ``state_at`` is the tagger date of an annotated tag, else the committer
    date of the tagged commit. Tags matching no rule are only counted.
    """
    result = DeploymentRows()
    result.counts["tags"] = len(tags)
    for record_index, tag in enumerate(tags):
        rule = match_rule(rules, tag.name)
        if rule is None:
            result.counts["tags_ignored"] += 1
            continue
        result.counts["tags_matched"] += 1
        row = _deployment_row(rule, source, repo, location, tag, peeled.get(tag.name), result)
        if row is not None:
            row["record_index"] = record_index
            result.rows.append(row)
            result.counts[f"deployments_{rule.service}_{rule.environment}"] += 1
    result.counts["deployments"] = len(result.rows)
    return result


def _deployment_row(
    rule: TagRule,
    source: str,
    repo: str,
    location: str,
    tag: Tag,
    sha: str | None,
    result: DeploymentRows,
) -> dict[str, Any] | None:
    raw = {
        "tag": tag.name,
        "object_type": tag.object_type,
        "object_sha": tag.object_sha,
        "sha": sha,
        "tagger_date": tag.tagger_date,
        "commit_date": tag.commit_date,
        "rule_pattern": rule.pattern,
    }
    where = f"{location}:refs/tags/{tag.name}"
    if sha is None:
        result.rejected.append(
            _rejected(
                where,
                raw,
                f"tag {tag.name} does not point to a commit, so it "
                "cannot mark a deployment; tag a commit instead",
            )
        )
        return None
    date_text = tag.tagger_date if tag.is_annotated else tag.commit_date
    if tag.is_annotated and not tag.tagger_date:
        result.counts["annotated_tags_without_tagger_date"] += 1
        result.warnings.append(
            f"annotated tag {tag.name} has no tagger date; its commit's date is used"
        )
        date_text = tag.commit_date
    try:
        state_at = parse_timestamp(date_text, f"tag {tag.name} date")
    except TimestampError as error:
        result.rejected.append(_rejected(where, raw, str(error)))
        return None
    if state_at is None:
        result.rejected.append(
            _rejected(where, raw, f"tag {tag.name} has no date; git printed none for it")
        )
        return None
    return {
        "_source": source,
        # The sha is part of the key, so a tag moved to another commit is a
        # second deployment rather than a replacement of the first.
        "_record_key": f"tag:{tag.name}@{sha}",
        "_payload": raw,
        "deployment_id": f"tag:{tag.name}",
        "repo": repo,
        "service": rule.service,
        "environment": rule.environment,
        "sha": sha,
        "state": "success",
        "state_at": state_at,
        "started_at": None,
        "pipeline_status": None,
    }


def _rejected(location: str, raw: dict[str, Any], reason: str) -> dict[str, Any]:
    return {
        "entity": "deployment_statuses",
        "location": location,
        "raw_content": json.dumps(raw),
        "reason": reason,
    }
