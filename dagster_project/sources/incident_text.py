"""The detection time that an incident issue may state in its body.

GitHub and GitLab incident issues are often opened some time after the alert.
A line of the form ``Detected at: 2024-03-04T09:12:00+00:00`` (also
``Detected:`` or ``Detection time:``; the timestamp needs a UTC offset) moves
the incident's alert time back to that moment. Anything else leaves the
issue's creation time as the alert time.
"""

from __future__ import annotations

import re
from datetime import datetime

from dagster_project.timeparse import TimestampError, parse_timestamp

DETECTION_LINE = re.compile(
    r"^\s*[*_]*(?:detected(?:\s+at)?|detection\s+time)[*_]*\s*:\s*[*_`]*([0-9T:+\-.Z ]+?)[*_`]*\s*$",
    re.IGNORECASE | re.MULTILINE,
)


def stated_detection_time(body: str | None) -> datetime | None:
    """Return the first detection time stated in ``body``, or None."""
    if not body:
        return None
    for match in DETECTION_LINE.finditer(body):
        try:
            detected = parse_timestamp(match.group(1).strip().replace(" ", "T", 1), "detected at")
        except TimestampError:
            continue
        if detected is not None:
            return detected
    return None


def alert_time(created_at: datetime, body: str | None) -> datetime:
    """Return the alert time: a stated detection time when it is earlier than creation."""
    detected = stated_detection_time(body)
    return detected if detected is not None and detected < created_at else created_at
