"""Landing files: one DuckDB file per extracted item, merged into the warehouse afterwards.

A partitioned extraction run (one local git repository, one GitHub
repository, one GitLab project, one incident service or section) writes only
its own landing file,
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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

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


# Rows a new landing file starts with when the warehouse has none of its key:
# per table, a SQL condition on the warehouse table and its parameters. The
# warehouse is attached as ``seed``, so a condition may query ``seed.<table>``.
SeedConditions = Mapping[str, tuple[str, Sequence[Any]]]


def _seed(
    con: duckdb.DuckDBPyConnection,
    warehouse_path: Path,
    source: str,
    tables: Mapping[str, Mapping[str, str]],
    fallback: SeedConditions | None = None,
) -> None:
    """Copy the warehouse rows of ``source`` into a new landing file.

    The first partitioned run of an item that earlier refreshes loaded straight
    into the warehouse therefore continues from its stored cursors and ETags
    instead of fetching its whole history again. When the warehouse has no
    row of ``source``, the rows that ``fallback`` selects are copied instead,
    with ``source`` as their ``_source``.
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
        copied = 0
        for table in [*tables, *BOOKKEEPING_TABLES]:
            if table in present:
                con.execute(
                    f"insert into main.{table} by name select * from seed.{table} "
                    "where _source = ?",
                    [source],
                )
                copied += con.execute(f"select count(*) from main.{table}").fetchone()[0]
        if copied == 0:
            _seed_fallback(con, source, present, fallback or {})
    finally:
        con.execute("detach seed")


# The copy of an item that the staging models keep when several partition keys
# of a section hold it: the latest update, then the latest load.
LATEST_COPY_ORDER = "updated_at desc nulls last, _loaded_at desc nulls last, _source asc"


def latest_copy_condition(table: str, copies: str, key: str) -> str:
    """Return a seed condition on ``table``: its row is the latest copy of ``key`` in ``copies``.

    The copies are the rows of ``copies`` whose ``_source`` starts with the
    condition's one parameter (a section's ``<source_name>:``), ranked by
    ``LATEST_COPY_ORDER``. ``table`` may be ``copies`` itself, or a table of
    the same items' details, such as log entries.
    """
    return (
        f"exists (select 1 from (select _source, {key}, row_number() over "
        f"(partition by {key} order by {LATEST_COPY_ORDER}) as copy_rank "
        f"from seed.{copies} where starts_with(_source, ?)) as ranked "
        f"where ranked.copy_rank = 1 and ranked._source = {table}._source "
        f"and ranked.{key} = {table}.{key})"
    )


def _seed_fallback(
    con: duckdb.DuckDBPyConnection, source: str, present: set[str], fallback: SeedConditions
) -> None:
    for table, (condition, parameters) in fallback.items():
        if table in present:
            con.execute(
                f"insert into main.{table} by name "
                f"select * replace (? as _source) from seed.{table} where {condition}",
                [source, *parameters],
            )


@contextmanager
def write_landing(
    path: Path,
    run_id: str,
    source: str,
    tables: Mapping[str, Mapping[str, str]],
    warehouse_path: Path,
    seed_fallback: SeedConditions | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection to a copy of the landing file; replace the file when the block succeeds.

    When the block raises, the copy is deleted and the landing file keeps its
    previous content. ``run_id`` makes the copy's name unique. A landing file
    that does not exist yet starts with the warehouse rows of ``source``, else
    with those ``seed_fallback`` selects.
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
                _seed(con, warehouse_path, source, tables, seed_fallback)
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
    """Rows per table copied by one merge, and the keys merged, still without a file or retired."""

    rows: dict[str, int] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


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


def _retired_sources(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    tables: Iterable[str],
    sources: list[str],
    complete_sections: set[str],
    section_of: Callable[[str], str],
) -> list[str]:
    """Return the earlier keys of the complete sections: ``_source`` values that are no longer keys.

    Candidates are the keys of the kind's landing files and the ``_source``
    values of its raw tables, so sources of other kinds are never candidates.
    """
    candidates = {unquote(path.name.removesuffix(".duckdb")) for path in folder.glob("*.duckdb")}
    candidates = {name for name in candidates if not name.endswith(".draft")}
    for table in tables:
        rows = con.execute(f"select distinct _source from main.{table}").fetchall()
        candidates.update(row[0] for row in rows if row[0] is not None)
    return sorted(
        source
        for source in candidates
        if source not in sources and section_of(source) in complete_sections
    )


def delete_sources(
    con: duckdb.DuckDBPyConnection, tables: Iterable[str], sources: list[str]
) -> None:
    """Delete the rows of ``sources`` from every table in ``tables``, in one transaction."""
    con.execute("begin transaction")
    try:
        for table in tables:
            con.execute(f"delete from main.{table} where list_contains(?, _source)", [sources])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def merge_landing(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    kind: str,
    sources: Iterable[str],
    tables: Mapping[str, Mapping[str, str]],
    section_of: Callable[[str], str] | None = None,
) -> MergeReport:
    """Replace the warehouse rows of each source with the rows of its landing file.

    ``sources`` are the configured partition keys, each equal to the
    ``_source`` of its rows. A key without a landing file yet keeps its
    warehouse rows and is listed in ``missing``. Rows of sources no longer
    configured stay in the warehouse, as they did before landing files,
    unless ``section_of`` is given: then, once every configured key of a
    section has been merged, the rows of the section's other ``_source``
    values (its keys before the configuration changed) are deleted from every
    table and listed in ``retired``. Each file, and the deletion, is one transaction.
    """
    warehouse.ensure_raw_tables(con, tables)
    con.execute(HTTP_CACHE_DDL)
    sources = list(sources)
    report = MergeReport({table: 0 for table in tables})
    for source in sources:
        path = landing_path(root, kind, source)
        if not path.exists():
            report.missing.append(source)
            continue
        _merge_one(con, path, source, [*tables, *BOOKKEEPING_TABLES], report)
        report.merged.append(source)
    if section_of is None:
        return report
    # A section waits until each of its keys has a landing file, so its
    # incidents stay in the warehouse, under the earlier keys, until then.
    complete = {section_of(key) for key in sources} - {section_of(key) for key in report.missing}
    report.retired = _retired_sources(con, root / kind, tables, sources, complete, section_of)
    if report.retired:
        # A new key was seeded with the earlier keys' rows (see the sources'
        # seed_conditions), so only their copies under the old keys go.
        delete_sources(con, [*tables, *BOOKKEEPING_TABLES], report.retired)
    return report
