"""Detection times stated in GitHub and GitLab incident issue bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dagster_project.sources import github, gitlab
from dagster_project.sources.incident_text import alert_time, stated_detection_time

CREATED = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Detected at: 2024-03-04T09:12:00+00:00", datetime(2024, 3, 4, 9, 12, tzinfo=UTC)),
        (
            "Impact on checkout.\n\n**Detected:** 2024-03-04T10:12:00+01:00\n",
            datetime(2024, 3, 4, 9, 12, tzinfo=UTC),
        ),
        ("detection time: 2024-03-04 09:30:00Z", datetime(2024, 3, 4, 9, 30, tzinfo=UTC)),
        ("Detected at: 2024-03-04T09:12:00", None),
        ("Detected at: this morning", None),
        ("We detected at least two failures", None),
        (None, None),
    ],
)
def test_stated_detection_time(body: str | None, expected: datetime | None) -> None:
    assert stated_detection_time(body) == expected


def test_later_detection_keeps_creation() -> None:
    assert alert_time(CREATED, "Detected at: 2024-03-04T11:00:00+00:00") == CREATED


def test_issue_rows_use_stated_detection() -> None:
    body = "Checkout down.\nDetected at: 2024-03-04T09:12:00+00:00"
    github_issue = {
        "number": 7,
        "title": "Checkout down",
        "state": "open",
        "labels": [{"name": "incident"}],
        "created_at": "2024-03-04T10:00:00Z",
        "updated_at": "2024-03-04T10:05:00Z",
        "body": body,
    }
    gitlab_issue = {
        "iid": 7,
        "title": "Checkout down",
        "state": "opened",
        "labels": [],
        "created_at": "2024-03-04T10:00:00Z",
        "updated_at": "2024-03-04T10:05:00Z",
        "description": body,
    }
    github_config = github.parse_github_config(
        {"repos": [{"repo": "acme/shop", "services": ["checkout"]}]}
    ).repos[0]
    gitlab_config = gitlab.parse_gitlab_config(
        {"projects": [{"project": "acme/shop", "services": ["checkout"]}]}
    ).projects[0]
    assert github.incident_row(github_config, github_issue)["alert_at"] == datetime(
        2024, 3, 4, 9, 12, tzinfo=UTC
    )
    assert gitlab.incident_row(gitlab_config, gitlab_issue)["alert_at"] == datetime(
        2024, 3, 4, 9, 12, tzinfo=UTC
    )
