"""The engine that runs the dbt models: DuckDB, PostgreSQL or Apache Spark.

DuckDB is always the landing store of the extraction and the store the
contract, dashboard and publish steps read. With another engine, the raw
tables are copied to it before the first dbt step, the containment step reads
its inputs from it and writes its result back, and the mart tables are copied
back into the DuckDB file after the second dbt step. ``DORA_ENGINE`` names the
dbt target (``dbt_project/profiles.yml``); its part before ``_`` names the
engine, so ``spark_thrift`` is Spark.

Plain Python, no Dagster imports.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import duckdb

from dagster_project import containment, containment_refresh

ENGINE_ENV = "DORA_ENGINE"
DEFAULT_TARGET = "duckdb"
TARGETS = ("duckdb", "postgres", "spark", "spark_thrift", "spark_http")
# The tables the containment step reads, with the columns it reads.
CONTAINMENT_INPUTS: dict[str, tuple[str, ...]] = {
    "int_commits": ("repo", "sha", "parent_shas", "patch_id"),
    "int_production_deployments": (
        "deployment_key",
        "repo",
        "service",
        "sha",
        "deployed_at",
        "is_counted",
    ),
    "int_pull_requests": ("repo", "merge_commit_sha"),
}
CONTAINMENT_OUTPUTS = (containment.TABLE, containment.MERGE_MEMBERS_TABLE)


class Engine(Protocol):
    """Copies tables between the DuckDB warehouse and the engine's schema."""

    name: str

    def push(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
        """Replace each of ``tables`` in the engine with the DuckDB table of that name."""

    def pull(
        self,
        tables: dict[str, Sequence[str] | None],
        target: duckdb.DuckDBPyConnection,
    ) -> None:
        """Replace each DuckDB table with the engine's table (the named columns, or all)."""


def target_name(environ: dict[str, str] | None = None) -> str:
    """Return the dbt target named by ``DORA_ENGINE``; raise ValueError on an unknown name."""
    value = (environ if environ is not None else os.environ).get(ENGINE_ENV) or DEFAULT_TARGET
    if value not in TARGETS:
        raise ValueError(
            f"{ENGINE_ENV}={value!r} is not a dbt target of this project: "
            f"set it to one of {', '.join(TARGETS)}"
        )
    return value


def engine_kind(target: str) -> str:
    """Return the engine of a dbt target: ``duckdb``, ``postgres`` or ``spark``."""
    return target.split("_", 1)[0]


def open_engine(target: str | None = None) -> Engine | None:
    """Return the engine of ``target`` (default ``DORA_ENGINE``), or None for DuckDB."""
    target = target or target_name()
    if target == "postgres":
        from dagster_project.engines.postgres import PostgresEngine

        return PostgresEngine.from_environment()
    if target == "spark":
        from dagster_project.engines.spark import SparkEngine

        return SparkEngine.from_environment()
    if target in ("spark_thrift", "spark_http"):
        from dagster_project.engines.spark_thrift import SparkThriftEngine

        return SparkThriftEngine.from_environment(http=target == "spark_http")
    return None


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Return the raw tables of the DuckDB warehouse, the dbt sources of the first step."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = current_schema() and table_type = 'BASE TABLE' "
        "and table_name like 'raw\\_%' escape '\\' order by table_name"
    ).fetchall()
    return [name for (name,) in rows]


def run_containment(
    engine: Engine | None, con: duckdb.DuckDBPyConnection, full_refresh: bool = False
) -> containment_refresh.ContainmentRun:
    """Rewrite or extend both containment tables in the engine; return what ran.

    With DuckDB the walk reads and writes the warehouse file ``con``, and
    extends the stored tables unless ``full_refresh`` is set or the change
    is unsafe (see ``containment_refresh``). With another engine, the inputs
    are copied into an in-memory DuckDB database, the walk runs there on all
    of history, and both result tables are copied to the engine. An engine
    with a ``run_containment`` method (Spark) does all of that itself.
    """
    if engine is None:
        return containment_refresh.refresh(con, full_refresh)
    # NOTE: the walk state lives only in the DuckDB warehouse, so other
    # engines always walk all of history.
    reason = f"the walk state is kept only with DuckDB, not with {engine.name}"
    in_engine = getattr(engine, "run_containment", None)
    if in_engine is not None:
        return in_engine()._replace(reason=reason)
    with duckdb.connect(":memory:") as scratch:
        scratch.execute("set TimeZone = 'UTC'")
        engine.pull(dict(CONTAINMENT_INPUTS), scratch)
        run = walk_all(scratch)
        engine.push(scratch, CONTAINMENT_OUTPUTS)
    return run._replace(reason=reason)


def walk_all(con: duckdb.DuckDBPyConnection) -> containment_refresh.ContainmentRun:
    """Rewrite both containment tables in ``con`` from all of history."""
    return containment_refresh.refresh(con, full_refresh=True)
