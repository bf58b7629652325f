"""Streaming writers and timestamp formatting for the sample files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import TracebackType


def iso(seconds: int, zone: tzinfo = UTC) -> str:
    """Format epoch seconds as ISO 8601 in `zone`, always with an offset."""
    return datetime.fromtimestamp(seconds, zone).isoformat()


def iso_z(seconds: int) -> str:
    """Format epoch seconds as ISO 8601 UTC with the `Z` suffix."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _StreamWriter:
    """A file written one record at a time, so no list of records is kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file = path.open("w", encoding="utf-8", newline="\n")

    def __enter__(self) -> _StreamWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, record: dict) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._file.close()


class JsonLinesWriter(_StreamWriter):
    """One JSON object per line."""

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")))
        self._file.write("\n")
        self.count += 1


class JsonArrayWriter(_StreamWriter):
    """A JSON list written item by item, one item per line."""

    def write(self, record: dict) -> None:
        self._file.write("[\n" if self.count == 0 else ",\n")
        self._file.write(json.dumps(record, separators=(",", ":")))
        self.count += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.write("[]\n" if self.count == 0 else "\n]\n")
        super().close()
