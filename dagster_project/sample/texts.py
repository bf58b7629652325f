"""Pull-request titles, branch names and commit subjects for the sample."""

from __future__ import annotations

import random

_VERBS = [
    "Add",
    "Fix",
    "Refactor",
    "Update",
    "Remove",
    "Improve",
    "Handle",
    "Cache",
    "Validate",
    "Log",
    "Rename",
    "Split",
]
_OBJECTS = [
    "retry logic",
    "null check",
    "pagination",
    "error message",
    "feature flag",
    "metrics",
    "timeout",
    "input validation",
    "slow query",
    "migration",
    "rate limit",
    "serializer",
    "health check",
    "currency rounding",
    "session expiry",
    "image resizing",
    "search ranking",
    "audit trail",
]
_AREAS = [
    "cart",
    "checkout form",
    "order history",
    "login",
    "signup",
    "invoice export",
    "webhooks",
    "admin panel",
    "product page",
    "refunds",
    "API client",
    "background jobs",
    "email templates",
]
_BRANCH_PREFIXES = ("feature/", "fix/", "chore/", "")
_WORK_SUBJECTS = (
    "wip",
    "Address review comments",
    "Add tests",
    "Fix lint",
    "Rename variables",
    "Update snapshot",
    "Handle empty input",
    "Simplify condition",
)
_PACKAGES = [
    "requests",
    "urllib3",
    "lodash",
    "axios",
    "react",
    "webpack",
    "pytest",
    "django",
    "express",
    "jackson-databind",
    "spring-boot",
    "pydantic",
    "eslint",
    "typescript",
]


def slug(text: str) -> str:
    """Turn a title into a branch-name fragment."""
    kept = "".join(ch if ch.isalnum() else "-" for ch in text.lower())
    return "-".join(part for part in kept.split("-") if part)[:40]


def feature_title(rng: random.Random) -> tuple[str, str, list[str]]:
    """Return (title, head_ref, labels) for an ordinary pull request."""
    title = f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)} in {rng.choice(_AREAS)}"
    prefix = rng.choice(_BRANCH_PREFIXES)
    labels = []
    if title.startswith("Fix"):
        labels.append("bug")
    elif rng.random() < 0.3:
        labels.append(rng.choice(("feature", "refactor", "tech-debt")))
    return title, f"{prefix}{slug(title)}", labels


def hotfix_title(rng: random.Random) -> tuple[str, str, list[str]]:
    """Return (title, head_ref, labels) for a hotfix pull request."""
    title = f"Hotfix: {rng.choice(_OBJECTS)} in {rng.choice(_AREAS)}"
    return title, f"hotfix/{slug(title[8:])}", ["hotfix", "bug"]


def bot_title(rng: random.Random) -> tuple[str, str, list[str], str]:
    """Return (title, head_ref, labels, bot name) for a dependency-update pull request."""
    package = rng.choice(_PACKAGES)
    major, minor, patch = rng.randint(1, 9), rng.randint(0, 30), rng.randint(0, 20)
    new_version = f"{major}.{minor}.{patch + 1}"
    if rng.random() < 0.7:
        title = f"Bump {package} from {major}.{minor}.{patch} to {new_version}"
        return title, f"dependabot/npm_and_yarn/{package}-{new_version}", ["dependencies"], "bot"
    title = f"Update dependency {package} to v{new_version}"
    return title, f"renovate/{package}-{major}.x", ["dependencies", "renovate"], "bot"


def work_subject(rng: random.Random, title: str, first: bool) -> str:
    """Return the subject of one commit on a pull request's branch."""
    return title if first else rng.choice(_WORK_SUBJECTS)


def direct_push_subject(rng: random.Random, release: int) -> tuple[str, bool]:
    """Return (subject, is_bot) for a commit pushed straight to main."""
    if rng.random() < 0.6:
        return f"chore(release): v1.{release}.0", True
    return rng.choice(("Fix typo in README", "Update CODEOWNERS", "Bump build image")), False
