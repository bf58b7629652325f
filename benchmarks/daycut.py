"""Cut a folder of neutral-form events at a moment, to replay "one more day" of history.

The benchmark and the incremental test need two event folders where the
second is the first plus one day. The sample generator anchors its calendar at
its end date, so generating with an end date one day later shifts the whole
history instead of appending a day. This module cuts the full sample instead:
a record is kept when every timestamp it carries (any field ending in ``_at``
or named ``at``, nested ones included) is before the cut. A record that
changes after the cut (a pull request merged, a deployment marked inactive,
an incident resolved) is absent from the cut folder and appears in its final
form in the full one, as an upsert from an API source would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any


def _timestamps(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _timestamps(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _timestamps(item, key)
    elif isinstance(value, str) and (key == "at" or key.endswith("_at")):
        yield value


def is_before(record: Any, cut: datetime) -> bool:
    """Return True when every timestamp of ``record`` is before ``cut``."""
    return all(datetime.fromisoformat(text) < cut for text in _timestamps(record))


def cut_events(source: Path, target: Path, cut: datetime) -> dict[str, int]:
    """Copy the records of ``source`` that are complete before ``cut`` into ``target``.

    Returns the number of records kept per file. JSON Lines keep their
    original line text; JSON lists are written one object per line.
    """
    if cut.tzinfo is None:
        raise ValueError(f"the cut {cut.isoformat()} needs an offset, such as +00:00")
    target.mkdir(parents=True, exist_ok=True)
    kept: dict[str, int] = {}
    for path in sorted(source.iterdir()):
        if path.suffix == ".jsonl":
            count = 0
            with (
                path.open(encoding="utf-8") as lines,
                (target / path.name).open("w", encoding="utf-8") as out,
            ):
                for line in lines:
                    if line.strip() and is_before(json.loads(line), cut):
                        out.write(line)
                        count += 1
            kept[path.name] = count
        elif path.suffix == ".json":
            items = [item for item in json.loads(path.read_text("utf-8")) if is_before(item, cut)]
            body = ",\n".join(json.dumps(item, separators=(",", ":")) for item in items)
            (target / path.name).write_text(f"[\n{body}\n]\n", encoding="utf-8")
            kept[path.name] = len(items)
    return kept
