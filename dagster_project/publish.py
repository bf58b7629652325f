"""Publish a read-only copy of the marts for BI tools and notebooks.

While the pipeline writes to the warehouse, DuckDB's file lock makes every
other process fail to open it, read-only or not. BI tools therefore read a
published copy that the pipeline never opens for writing in place:

- ``dora_marts.duckdb``: the mart tables, built in a new file beside the
  target, checkpointed and closed, then moved over the target with
  ``os.replace``. A stale ``.wal`` beside the target is removed first, because
  DuckDB refuses to open a database whose WAL belongs to another file. A
  reader that opened the old file keeps reading it; new connections open the
  new one.
- ``parquet/<table>/<table>.parquet``: one Parquet file per table. ``parquet``
  is a symbolic link to a versioned folder (``.parquet.<version>``); a publish
  writes a new folder, then renames a new link over the old one, so every
  table switches at once. The previous folder is kept, so a reader that
  listed its files just before the switch still finds them; older ones are
  deleted.

Publishes into one folder are serialised with a lock file (POSIX ``fcntl``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

DATABASE_NAME = "dora_marts.duckdb"
PARQUET_LINK_NAME = "parquet"
PARQUET_VERSION_PREFIX = ".parquet."
LOCK_NAME = ".publish.lock"
MART_PREFIXES = ("fct_", "dim_", "dora_", "contract_")
MART_NAMES = ("dq_issues", "pipeline_settings", "source_freshness")
QUARANTINE_SUMMARY = "quarantine_summary"
PUBLISHED_DIR_ENV = "DORA_PUBLISHED_DIR"


@dataclass(frozen=True)
class PublishResult:
    """Paths, version and per-table row counts of one publish."""

    database_path: Path
    parquet_path: Path
    version: str
    row_counts: dict[str, int]


def default_published_dir(warehouse_path: str | os.PathLike[str]) -> Path:
    """Return ``$DORA_PUBLISHED_DIR``, else the ``published`` folder beside the warehouse."""
    configured = os.environ.get(PUBLISHED_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(warehouse_path).resolve().parent / "published"


def is_mart_table(name: str) -> bool:
    """Return True for the tables BI users read: facts, dimensions, DORA and contract marts."""
    return name.startswith(MART_PREFIXES) or name in MART_NAMES


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _source_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        """
        select table_name
        from information_schema.tables
        where table_catalog = 'source' and table_schema = 'main'
        order by table_name
        """
    ).fetchall()
    return [row[0] for row in rows]


def _copy_tables(con: duckdb.DuckDBPyConnection, warehouse_path: Path) -> list[str]:
    """Copy the mart tables and the quarantine summary from the warehouse into ``con``."""
    con.execute(f"attach {_quote_literal(str(warehouse_path))} as source (read_only)")
    try:
        names = _source_tables(con)
        tables = [name for name in names if is_mart_table(name)]
        for table in tables:
            quoted = _quote_identifier(table)
            con.execute(f"create table {quoted} as select * from source.main.{quoted}")
        if "quarantine" in names:
            con.execute(
                f"""
                create table {QUARANTINE_SUMMARY} as
                select
                    _source as source,
                    entity,
                    reason,
                    count(*) as row_count,
                    min(_loaded_at) as first_loaded_at,
                    max(_loaded_at) as last_loaded_at
                from source.main.quarantine
                group by _source, entity, reason
                order by _source, entity, reason
                """
            )
            tables.append(QUARANTINE_SUMMARY)
    finally:
        con.execute("detach source")
    return tables


def _export_parquet(con: duckdb.DuckDBPyConnection, tables: list[str], folder: Path) -> None:
    for table in tables:
        table_folder = folder / table
        table_folder.mkdir(parents=True)
        target = _quote_literal(str(table_folder / f"{table}.parquet"))
        con.execute(f"copy {_quote_identifier(table)} to {target} (format parquet)")


def _build_database(warehouse_path: Path, database: Path, parquet_folder: Path) -> dict[str, int]:
    """Build the new database file and its Parquet export; return each table's row count."""
    with duckdb.connect(str(database)) as con:
        con.execute("set TimeZone = 'UTC'")
        tables = _copy_tables(con, warehouse_path)
        _export_parquet(con, tables, parquet_folder)
        counts = {
            table: con.execute(f"select count(*) from {_quote_identifier(table)}").fetchone()[0]
            for table in tables
        }
        con.execute("checkpoint")
    wal = database.with_name(database.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} is left after checkpoint and close; the copy may be incomplete")
    return counts


def _swap_database(new_file: Path, target: Path) -> None:
    stale_wal = target.with_name(target.name + ".wal")
    stale_wal.unlink(missing_ok=True)
    os.replace(new_file, target)


def _swap_parquet(new_folder: Path, link: Path, version: str) -> Path | None:
    """Point ``link`` at ``new_folder``; return the folder it pointed at before, if any."""
    previous: Path | None = None
    if link.is_symlink():
        previous = link.parent / os.readlink(link)
    elif link.exists():
        # A real folder from a copy made by hand: move it aside as the previous version.
        previous = link.parent / f"{PARQUET_VERSION_PREFIX}{version}.replaced"
        os.rename(link, previous)
    temporary_link = link.parent / f".{link.name}.link.{version}"
    os.symlink(new_folder.name, temporary_link, target_is_directory=True)
    os.replace(temporary_link, link)
    return previous


def _prune_parquet_versions(folder: Path, keep: set[Path]) -> None:
    keep_names = {path.name for path in keep}
    for candidate in folder.glob(f"{PARQUET_VERSION_PREFIX}*"):
        if candidate.name not in keep_names and candidate.is_dir() and not candidate.is_symlink():
            shutil.rmtree(candidate, ignore_errors=True)


@contextlib.contextmanager
def _publish_lock(folder: Path) -> Iterator[None]:
    with (folder / LOCK_NAME).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def publish_marts(
    warehouse_path: str | os.PathLike[str], published_dir: str | os.PathLike[str]
) -> PublishResult:
    """Copy the mart tables of the warehouse into the published folder, swapping atomically.

    The warehouse is attached read-only, so no other process may hold it open
    for writing during the publish. On error the previous published copy stays
    in place and the partial new files are removed.
    """
    source = Path(warehouse_path).resolve()
    if not source.exists():
        raise FileNotFoundError(f"warehouse {source} not found: run `dora refresh` first")
    folder = Path(published_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    new_database = folder / f".{DATABASE_NAME}.{version}"
    new_parquet = folder / f"{PARQUET_VERSION_PREFIX}{version}"
    target = folder / DATABASE_NAME
    link = folder / PARQUET_LINK_NAME
    with _publish_lock(folder):
        try:
            new_parquet.mkdir()
            row_counts = _build_database(source, new_database, new_parquet)
        except BaseException:
            new_database.unlink(missing_ok=True)
            new_database.with_name(new_database.name + ".wal").unlink(missing_ok=True)
            shutil.rmtree(new_parquet, ignore_errors=True)
            raise
        _swap_database(new_database, target)
        previous = _swap_parquet(new_parquet, link, version)
        _prune_parquet_versions(folder, {new_parquet, *([previous] if previous else [])})
    return PublishResult(target, link, version, row_counts)


# ---- the catalog of published tables, for BI users -----------------------------------

DOC_BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.DOTALL)
DOC_REFERENCE = re.compile(r"""{{\s*doc\(\s*["'](\w+)["']\s*\)\s*}}""")
QUARANTINE_SUMMARY_DOC = {
    "description": (
        "Grain: one row per (source, entity, reason): the rows the loaders could not use, "
        "counted. Built by the publish step from the warehouse's quarantine table; the "
        "quarantined rows themselves stay in the warehouse."
    ),
    "columns": [
        ("source", "Source instance that delivered the rows."),
        ("entity", "Entity the rows were meant for (commits, deployment_statuses, ...)."),
        ("reason", "Why the rows were quarantined, with the fix."),
        ("row_count", "Number of quarantined rows."),
        ("first_loaded_at", "First load time of these rows (UTC)."),
        ("last_loaded_at", "Last load time of these rows (UTC)."),
    ],
}


def _doc_blocks(dbt_project_dir: Path) -> dict[str, str]:
    blocks = {}
    for path in sorted(dbt_project_dir.glob("models/**/*.md")):
        for name, body in DOC_BLOCK.findall(path.read_text(encoding="utf-8")):
            blocks[name] = body.strip()
    return blocks


def _one_line(text: str | None, blocks: dict[str, str]) -> str:
    resolved = DOC_REFERENCE.sub(lambda match: blocks.get(match.group(1), ""), text or "")
    return " ".join(resolved.split()).replace("|", "\\|")


def mart_catalog(dbt_project_dir: str | os.PathLike[str]) -> dict[str, dict]:
    """Return ``{table: {"description", "columns": [(name, description)]}}`` of the published tables.

    Read from the model and seed YAML files of the dbt project, with ``doc()``
    references resolved, so the catalog follows the models.
    """
    project = Path(dbt_project_dir)
    blocks = _doc_blocks(project)
    catalog: dict[str, dict] = {}
    paths = [*project.glob("models/**/*.yml"), *project.glob("seeds/**/*.yml")]
    for path in sorted(paths):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for node in [*document.get("models", []), *document.get("seeds", [])]:
            name = node.get("name", "")
            if not is_mart_table(name):
                continue
            catalog[name] = {
                "description": _one_line(node.get("description"), blocks),
                "columns": [
                    (column["name"], _one_line(column.get("description"), blocks))
                    for column in node.get("columns", [])
                ],
            }
    catalog[QUARANTINE_SUMMARY] = QUARANTINE_SUMMARY_DOC
    return dict(sorted(catalog.items()))


def catalog_markdown(catalog: dict[str, dict]) -> str:
    """Return the catalog as Markdown: one heading, description and column table per table."""
    parts = []
    for table, entry in catalog.items():
        parts.append(f"### `{table}`\n\n{entry['description']}\n")
        rows = ["| column | description |", "|---|---|"]
        rows += [f"| `{name}` | {description} |" for name, description in entry["columns"]]
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)
