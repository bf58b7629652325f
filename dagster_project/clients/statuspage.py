"""Statuspage incident history from a file or a URL. No Dagster imports.

Accepted forms:

- a ``.jsonl`` file, one incident object per line;
- a ``.json`` file or a URL returning the ``/api/v2/incidents.json``
  envelope ``{"page": {...}, "incidents": [...]}``, a bare list of incidents,
  or one ``{"incident": {...}}`` body.

A public page's ``/api/v2/incidents.json`` lists only its most recent
incidents (50 on the pages measured), so a URL source builds its history
run by run, and a full history needs an exported file.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster_project.clients.http import ApiSession, RetryPolicy


@dataclass
class StatuspageRecord:
    """One incident read from the history, or the reason it cannot be read."""

    location: str
    index: int
    data: dict[str, Any] | None
    raw_text: str
    error: str | None = None


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _records_of_body(body: Any, location: str, text: str) -> Iterator[StatuspageRecord]:
    if isinstance(body, dict) and isinstance(body.get("incidents"), list):
        items = body["incidents"]
    elif isinstance(body, dict) and isinstance(body.get("incident"), dict):
        items = [body["incident"]]
    elif isinstance(body, list):
        items = body
    else:
        yield StatuspageRecord(
            location,
            1,
            None,
            text[:2000],
            'expected the /api/v2/incidents.json envelope {"incidents": [...]}, '
            'a list of incidents or one {"incident": {...}} body',
        )
        return
    for index, item in enumerate(items, start=1):
        raw = json.dumps(item)
        if isinstance(item, dict):
            # A URL lists a moving window of incidents, so its items are located by id.
            where = f"{location}#{item['id']}" if is_url(location) and item.get("id") else None
            yield StatuspageRecord(where or f"{location}[{index}]", index, item, raw)
        else:
            yield StatuspageRecord(
                f"{location}[{index}]", index, None, raw, "expected an incident object"
            )


def read_file(path: Path) -> Iterator[StatuspageRecord]:
    """Yield the incidents of a ``.jsonl`` or ``.json`` file; unreadable lines carry an error."""
    if not path.is_file():
        raise FileNotFoundError(
            f"Statuspage history file not found: {path}; check sources.statuspage.location"
        )
    if path.suffix.lower() == ".jsonl":
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                text = raw.decode("utf-8", errors="replace").strip()
                if not text:
                    continue
                try:
                    item = json.loads(text)
                except json.JSONDecodeError as error:
                    yield StatuspageRecord(
                        f"{path.name}:{number}", number, None, text[:100_000],
                        f"invalid JSON ({error.msg}: column {error.colno}); fix the line",
                    )  # fmt: skip
                    continue
                if not isinstance(item, dict):
                    yield StatuspageRecord(
                        f"{path.name}:{number}", number, None, text[:100_000],
                        "expected one incident object per line",
                    )  # fmt: skip
                    continue
                yield StatuspageRecord(f"{path.name}:{number}", number, item, text)
        return
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        yield StatuspageRecord(
            f"{path.name}:{error.lineno}", 1, None, text[:2000],
            f"invalid JSON ({error}); the whole file was not loaded",
        )  # fmt: skip
        return
    yield from _records_of_body(body, path.name, text)


def read_url(
    url: str,
    *,
    timeout: float = 30.0,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> Iterator[StatuspageRecord]:
    """Yield the incidents a Statuspage URL lists (public pages need no token)."""
    with ApiSession(url, timeout=timeout, retry=retry, sleep=sleep, logger=logger) as session:
        page = session.get(url, use_etag=False)
    yield from _records_of_body(page.data, url, json.dumps(page.data)[:2000])


def read_incidents(location: str, **options: Any) -> Iterator[StatuspageRecord]:
    """Yield the incidents of a file path or an ``http(s)`` URL."""
    if is_url(location):
        return read_url(location, **options)
    return read_file(Path(location).expanduser())
