"""Strict timestamp parsing: every timestamp must carry a UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime


class TimestampError(ValueError):
    """A timestamp that cannot be used; the message names the value and the fix."""


def parse_timestamp(value: object, field: str) -> datetime | None:
    """Parse an ISO 8601 timestamp with an offset and return it in UTC.

    Returns None for None or an empty string. Raises TimestampError for a
    value without an offset (the pipeline never guesses a zone) or one that
    does not parse.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if not text:
            return None
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise TimestampError(
                f"{field}: invalid timestamp {value!r}; "
                "write ISO 8601 with an offset, e.g. 2024-03-04T09:00:00+00:00"
            ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise TimestampError(
            f"{field}: timestamp {value!r} has no UTC offset; "
            "add one (e.g. +00:00 or Z) so the time is not guessed"
        )
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime | None) -> str | None:
    """Return a UTC timestamp as ISO 8601 text, or None."""
    return None if value is None else value.astimezone(UTC).isoformat()
