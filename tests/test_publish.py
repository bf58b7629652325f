"""The published copy of the marts: content, atomic swaps and readers in other processes.

Each test builds a small warehouse file by hand whose ``fct_deployments``
holds ``10 x version`` rows, so a reader can tell which publish it sees.
Readers run as separate Python processes, as a BI tool would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from dagster_project import publish

READER_HOLDING_FILES = textwrap.dedent(
    """
    import json, shutil, sys, duckdb
    database, parquet, copy = sys.argv[1:4]
    con = duckdb.connect(database, read_only=True)
    before = con.execute("select count(*) from fct_deployments").fetchone()[0]
    held = open(parquet, "rb")
    print(json.dumps({"before": before}), flush=True)
    sys.stdin.readline()
    after = con.execute("select count(*) from fct_deployments").fetchone()[0]
    services = con.execute("select count(*) from dim_services").fetchone()[0]
    with open(copy, "wb") as out:
        shutil.copyfileobj(held, out)
    held_rows = duckdb.execute(f"select count(*) from read_parquet('{copy}')").fetchone()[0]
    result = {"after": after, "services": services, "held_parquet_rows": held_rows}
    print(json.dumps(result), flush=True)
    """
)

READER_LOOP = textwrap.dedent(
    """
    import json, os, sys, duckdb
    database, parquet_glob, stop = sys.argv[1:4]
    seen, errors, reads = set(), [], 0
    while True:
        stopping = os.path.exists(stop)
        try:
            with duckdb.connect(database, read_only=True) as con:
                rows = con.execute("select count(*) from fct_deployments").fetchone()[0]
                services = con.execute("select count(*) from dim_services").fetchone()[0]
            parquet_rows = duckdb.execute(
                f"select count(*) from read_parquet('{parquet_glob}')"
            ).fetchone()[0]
            seen.add(rows)
            seen.add(parquet_rows)
            if services * 10 != rows:
                errors.append(f"half-built copy: {rows} deployments, {services} services")
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
        reads += 1
        if reads == 1:
            print("ready", flush=True)
        if stopping:
            break
    print(json.dumps({"seen": sorted(seen), "errors": errors, "reads": reads}), flush=True)
    """
)


def build_warehouse(path: Path, version: int) -> Path:
    """Write a warehouse with marts, an intermediate table and quarantined rows."""
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table fct_deployments as "
            "select i as deployment_key, 'web' as service from range(?) as t(i)",
            [10 * version],
        )
        con.execute(
            "create table dim_services as select 's' || i as service from range(?) as t(i)",
            [version],
        )
        con.execute("create table dora_daily as select date '2026-11-30' as metric_date")
        con.execute("create table dq_issues as select 'moved_tag' as issue_type")
        con.execute("create table contract_outcomes as select 'default' as contract_id")
        con.execute("create table int_changes as select 1 as change_id")
        con.execute("create table raw_files__commits as select 'abc' as sha")
        con.execute(
            "create table quarantine as select * from (values "
            "('files', 'commits', 'commits.jsonl:3', '{}', 'timestamp has no offset', now()), "
            "('files', 'commits', 'commits.jsonl:9', '{}', 'timestamp has no offset', now()), "
            "('files', 'incidents', 'incidents.json:1', '{}', 'duplicate', now())"
            ") as t(_source, entity, location, raw_content, reason, _loaded_at)"
        )
    return path


def parquet_file(folder: Path, table: str) -> Path:
    return folder / "parquet" / table / f"{table}.parquet"


def count_rows(database: Path, table: str) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(f"select count(*) from {table}").fetchone()[0]


def test_publish_copies_mart_tables(tmp_path):
    warehouse = build_warehouse(tmp_path / "warehouse.duckdb", version=3)
    result = publish.publish_marts(warehouse, tmp_path / "published")

    with duckdb.connect(str(result.database_path), read_only=True) as con:
        tables = {row[0] for row in con.execute("show tables").fetchall()}
        summary = con.execute(
            "select entity, reason, row_count from quarantine_summary order by entity"
        ).fetchall()
    assert tables == {
        "contract_outcomes",
        "dim_services",
        "dora_daily",
        "dq_issues",
        "fct_deployments",
        "quarantine_summary",
    }
    assert summary == [
        ("commits", "timestamp has no offset", 2),
        ("incidents", "duplicate", 1),
    ]
    assert result.row_counts["fct_deployments"] == 30
    for table, rows in result.row_counts.items():
        path = parquet_file(tmp_path / "published", table)
        assert duckdb.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0] == rows


def test_publish_removes_stale_wal(tmp_path):
    warehouse = build_warehouse(tmp_path / "warehouse.duckdb", version=1)
    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "dora_marts.duckdb.wal").write_bytes(b"left over by a crashed writer")

    result = publish.publish_marts(warehouse, folder)

    assert not (folder / "dora_marts.duckdb.wal").exists()
    assert count_rows(result.database_path, "fct_deployments") == 10


def test_publish_keeps_previous_parquet_version(tmp_path):
    folder = tmp_path / "published"
    versions = []
    for version in (1, 2, 3):
        warehouse = build_warehouse(tmp_path / "warehouse.duckdb", version)
        versions.append(publish.publish_marts(warehouse, folder).version)

    kept = {path.name for path in folder.glob(".parquet.*")}
    assert kept == {f".parquet.{versions[1]}", f".parquet.{versions[2]}"}
    assert (folder / "parquet").resolve().name == f".parquet.{versions[2]}"
    leftovers = [path.name for path in folder.glob(".dora_marts.duckdb.*")]
    assert leftovers == []


def test_failed_publish_keeps_previous_copy(tmp_path):
    folder = tmp_path / "published"
    first = publish.publish_marts(build_warehouse(tmp_path / "good.duckdb", 2), folder)
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"this is not a DuckDB file" * 100)

    with pytest.raises(duckdb.Error):
        publish.publish_marts(broken, folder)
    with pytest.raises(FileNotFoundError, match="run `dora refresh` first"):
        publish.publish_marts(tmp_path / "missing.duckdb", folder)

    assert count_rows(first.database_path, "fct_deployments") == 20
    assert (folder / "parquet").resolve().name == f".parquet.{first.version}"
    assert sorted(path.name for path in folder.glob(".parquet.*")) == [f".parquet.{first.version}"]
    assert list(folder.glob(".dora_marts.duckdb.*")) == []


def test_reader_keeps_old_copy_during_publish(tmp_path):
    folder = tmp_path / "published"
    warehouse = build_warehouse(tmp_path / "warehouse.duckdb", version=1)
    publish.publish_marts(warehouse, folder)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            READER_HOLDING_FILES,
            str(folder / "dora_marts.duckdb"),
            str(parquet_file(folder, "fct_deployments")),
            str(tmp_path / "held.parquet"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(reader.stdout.readline()) == {"before": 10}
        old_inodes = [
            (folder / "dora_marts.duckdb").stat().st_ino,
            parquet_file(folder, "fct_deployments").stat().st_ino,
        ]

        build_warehouse(warehouse, version=2)
        publish.publish_marts(warehouse, folder)
        new_inodes = [
            (folder / "dora_marts.duckdb").stat().st_ino,
            parquet_file(folder, "fct_deployments").stat().st_ino,
        ]
        new_reader_rows = count_rows(folder / "dora_marts.duckdb", "fct_deployments")
        new_parquet = parquet_file(folder, "fct_deployments")
        new_parquet_rows = duckdb.execute(f"select count(*) from read_parquet('{new_parquet}')")

        reader.stdin.write("go\n")
        reader.stdin.flush()
        output, errors = reader.communicate()
    finally:
        reader.kill()
    assert reader.returncode == 0, errors
    assert json.loads(output) == {"after": 10, "services": 1, "held_parquet_rows": 10}
    # New files replaced the old ones: nothing was written into a file a reader holds.
    assert new_inodes[0] != old_inodes[0]
    assert new_inodes[1] != old_inodes[1]
    assert new_reader_rows == 20
    assert new_parquet_rows.fetchone()[0] == 20


def test_readers_see_complete_copies_only(tmp_path):
    folder = tmp_path / "published"
    warehouse = build_warehouse(tmp_path / "warehouse.duckdb", version=1)
    publish.publish_marts(warehouse, folder)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            READER_LOOP,
            str(folder / "dora_marts.duckdb"),
            str(folder / "parquet" / "fct_deployments" / "*.parquet"),
            str(stop),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "ready"
        for version in range(2, 9):
            build_warehouse(warehouse, version)
            publish.publish_marts(warehouse, folder)
        stop.touch()
        output, errors = reader.communicate()
    finally:
        reader.kill()
    assert reader.returncode == 0, errors
    report = json.loads(output)
    assert report["errors"] == []
    assert set(report["seen"]) <= {10 * version for version in range(1, 9)}
    assert 80 in report["seen"]


def test_catalog_lists_published_marts():
    from dagster_project import settings

    catalog = publish.mart_catalog(settings.DBT_PROJECT_DIR)

    assert "int_changes" not in catalog
    assert "stg_files__commits" not in catalog
    columns = dict(catalog["dora_daily"]["columns"])
    assert "deployment_count" in columns
    # doc() references of the YAML are resolved into their text.
    assert "{{" not in columns["deployment_count"]
    assert columns["deployment_count"]
    assert dict(catalog["quarantine_summary"]["columns"])["row_count"]


def test_bi_access_catalog_is_current():
    script = Path(__file__).resolve().parents[1] / "scripts" / "bi_docs.py"
    completed = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_published_dir_default_and_override(tmp_path, monkeypatch):
    monkeypatch.delenv(publish.PUBLISHED_DIR_ENV, raising=False)
    warehouse = tmp_path / "data" / "dora.duckdb"

    assert publish.default_published_dir(warehouse) == (tmp_path / "data" / "published").resolve()

    monkeypatch.setenv(publish.PUBLISHED_DIR_ENV, str(tmp_path / "bi"))
    assert publish.default_published_dir(warehouse) == (tmp_path / "bi").resolve()
