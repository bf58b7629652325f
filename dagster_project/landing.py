"""Landing files: one DuckDB file per extracted item, merged into the warehouse afterwards.

A partitioned extraction run (one GitHub repository, one GitLab project, one
incident source) writes only its own landing file,
``<warehouse dir>/<warehouse stem>.landing/<kind>/<quoted key>.duckdb``, so
runs of different items never contend for DuckDB's one-writer lock on the
warehouse. A landing file contains every row of its item: raw rows, quarantine
rows, cursors and the ETag cache, all with ``_source`` equal to the item's
source instance name, so the extractors run on it unchanged.

Each write copies the landing file, writes the copy and renames the copy over
the original only when the write succeeds. A failed run therefore leaves the
last good landing file in place, and the merge, which only reads, never reads
a half-written one. Writers of one landing file wait for each other on an
``fcntl.flock`` beside it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import duckdb

from dagster_project import warehouse
from dagster_project.clients.http import HTTP_CACHE_DDL

# Tables every landing file may hold besides the raw tables of its source.
BOOKKEEPING_TABLES = ("quarantine", "pipeline_cursors", "http_cache")


def landing_root(warehouse_path: str | os.PathLike[str]) -> Path:
    """Return the folder of a warehouse's landing files: ``<stem>.landing`` beside it."""
    path = Path(warehouse_path).expanduser().resolve()
    return path.with_name(f"{path.stem}.landing")


def landing_path(root: Path, kind: str, key: str) -> Path:
    """Return the landing file of one partition key.

    The key is percent-encoded, so ``github:acme/ants`` becomes
    ``github%3Aacme%2Fants.duckdb``: distinct keys never share a file.
    """
    return root / kind / f"{quote(key, safe='')}.duckdb"


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a+", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LandingSeedError(RuntimeError):
    """The warehouse could not be read to start a new landing file."""


def _seed(
    con: duckdb.DuckDBPyConnection,
    warehouse_path: Path,
    source: str,
    tables: Mapping[str, Mapping[str, str]],
) -> None:
    """Copy the warehouse rows of ``source`` into a new landing file.

    The first partitioned run of an item that earlier refreshes loaded straight
    into the warehouse therefore continues from its stored cursors and ETags
    instead of fetching its whole history again.
    """
    warehouse.ensure_raw_tables(con, tables)
    con.execute(HTTP_CACHE_DDL)
    if not warehouse_path.exists():
        return
    try:
        con.execute("attach ? as seed (read_only)", [str(warehouse_path)])
    except duckdb.IOException as error:
        raise LandingSeedError(
            f"cannot read the warehouse {warehouse_path} to start the landing file of "
            f"{source}: {error}; run this partition again when no refresh writes the warehouse"
        ) from None
    try:
        present = _tables_of(con, "seed")
        for table in [*tables, *BOOKKEEPING_TABLES]:
            if table in present:
                con.execute(
                    f"insert into main.{table} by name select * from seed.{table} "
                    "where _source = ?",
                    [source],
                )
    finally:
        con.execute("detach seed")


@contextmanager
def write_landing(
    path: Path,
    run_id: str,
    source: str,
    tables: Mapping[str, Mapping[str, str]],
    warehouse_path: Path,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection to a copy of the landing file; replace the file when the block succeeds.

    When the block raises, the copy is deleted and the landing file keeps its
    previous content. ``run_id`` makes the copy's name unique. A landing file
    that does not exist yet starts with the warehouse rows of ``source``.
    Raises LandingSeedError when it must seed from a warehouse that another
    process is writing.
    """
    with _exclusive(path.with_name(path.name + ".lock")):
        draft = path.with_name(f"{path.stem}.{run_id}.draft.duckdb")
        if path.exists():
            shutil.copyfile(path, draft)
        con = warehouse.connect(draft)
        try:
            if not path.exists():
                _seed(con, warehouse_path, source, tables)
            yield con
        except BaseException:
            con.close()
            draft.unlink(missing_ok=True)
            draft.with_name(draft.name + ".wal").unlink(missing_ok=True)
            raise
        # Closing checkpoints the write-ahead log into the file, so the rename
        # moves every committed row.
        con.close()
        os.replace(draft, path)


@dataclass
class MergeReport:
    """Rows per table copied by one merge, and the keys merged or still without a file."""

    rows: dict[str, int] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _tables_of(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = ?", [catalog]
    ).fetchall()
    return {row[0] for row in rows}


def _check_single_source(con, tables: Iterable[str], source: str, path: Path) -> None:
    for table in tables:
        other = con.execute(
            f"select count(*) from landing.{table} where _source <> ?", [source]
        ).fetchone()[0]
        if other:
            raise ValueError(
                f"landing file {path} has {other} rows in {table} whose _source is not "
                f"{source!r}; delete the file and re-run that partition"
            )


def _merge_one(con, path: Path, source: str, tables: Iterable[str], report: MergeReport) -> None:
    con.execute("attach ? as landing (read_only)", [str(path)])
    try:
        present = [table for table in tables if table in _tables_of(con, "landing")]
        _check_single_source(con, present, source, path)
        con.execute("begin transaction")
        try:
            for table in present:
                con.execute(f"delete from main.{table} where _source = ?", [source])
                con.execute(
                    f"insert into main.{table} by name select * from landing.{table} "
                    "where _source = ?",
                    [source],
                )
                count = con.execute(
                    f"select count(*) from main.{table} where _source = ?", [source]
                ).fetchone()[0]
                report.rows[table] = report.rows.get(table, 0) + count
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.execute("detach landing")


def merge_landing(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    kind: str,
    sources: Iterable[str],
    tables: Mapping[str, Mapping[str, str]],
) -> MergeReport:
    """Replace the warehouse rows of each source with the rows of its landing file.

    ``sources`` are the configured partition keys, each equal to the
    ``_source`` of its rows. A key without a landing file yet keeps its
    warehouse rows and is listed in ``missing``. Rows of sources no longer
    configured stay in the warehouse, as they did before landing files.
    Each file is merged in one transaction.
    """
    warehouse.ensure_raw_tables(con, tables)
    con.execute(HTTP_CACHE_DDL)
    report = MergeReport({table: 0 for table in tables})
    for source in sources:
        path = landing_path(root, kind, source)
        if not path.exists():
            report.missing.append(source)
            continue
        _merge_one(con, path, source, [*tables, *BOOKKEEPING_TABLES], report)
        report.merged.append(source)
    return report
