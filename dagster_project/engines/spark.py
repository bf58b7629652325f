"""Copy tables between the DuckDB warehouse and a Spark schema.

Rows travel as Parquet through a temporary folder. The Spark side runs in a
child Python process (``python -m dagster_project.engines.spark``): the
embedded Derby metastore of a local session admits one JVM at a time, and the
child's JVM ends with it, before dbt opens its own session. The child's
session uses the same settings as the ``spark`` target of profiles.yml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project import containment_refresh

DEFAULT_DIR = "/tmp/dora-spark"
DEFAULT_MASTER = "local[2]"


def session_settings(folder: str, master: str) -> dict[str, str]:
    """Return the session settings of the ``spark`` target in profiles.yml."""
    return {
        "spark.master": master,
        "spark.sql.warehouse.dir": f"{folder}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={folder}/metastore_db;create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.cteRecursionLevelLimit": "-1",
        "spark.driver.memory": os.environ.get("DORA_SPARK_DRIVER_MEMORY", "1g"),
    }


@dataclass(frozen=True)
class SparkEngine:
    """A schema of a local (or ``DORA_SPARK_MASTER``) Spark session with a Hive metastore."""

    folder: str
    master: str
    schema: str
    name: str = "spark"

    @classmethod
    def from_environment(cls) -> SparkEngine:
        env = os.environ
        return cls(
            folder=env.get("DORA_SPARK_DIR", DEFAULT_DIR),
            master=env.get("DORA_SPARK_MASTER", DEFAULT_MASTER),
            schema=env.get("DORA_SPARK_SCHEMA", "dora"),
        )

    def push(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            for table in tables:
                path = Path(folder) / f"{table}.parquet"
                source.execute(f"copy {table} to '{path}' (format parquet)")
            self._run_child({"action": "push", "folder": folder, "tables": list(tables)})

    def pull(
        self,
        tables: dict[str, Sequence[str] | None],
        target: duckdb.DuckDBPyConnection,
    ) -> None:
        with tempfile.TemporaryDirectory() as folder:
            request = {name: list(columns) if columns else None for name, columns in tables.items()}
            self._run_child({"action": "pull", "folder": folder, "tables": request})
            for table in tables:
                files = str(Path(folder) / table / "*.parquet")
                target.execute(
                    f"create or replace table {table} as select * from read_parquet(?)", [files]
                )

    def run_containment(self) -> containment_refresh.ContainmentRun:
        """Run the containment walk in one child session; return what it did.

        One session instead of a pull and a push saves a JVM start.
        """
        with tempfile.TemporaryDirectory() as folder:
            self._run_child({"action": "containment", "folder": folder})
            run = json.loads((Path(folder) / "run.json").read_text())
        return containment_refresh.ContainmentRun(*run)

    def _run_child(self, request: dict) -> None:
        request |= {"spark_dir": self.folder, "master": self.master, "schema": self.schema}
        completed = subprocess.run(
            [sys.executable, "-m", "dagster_project.engines.spark"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"the Spark {request['action']} of tables failed:\n{completed.stderr[-4000:]}"
            )


def _child_main(request: dict) -> None:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in session_settings(request["spark_dir"], request["master"]).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    schema = request["schema"]
    folder = Path(request["folder"])
    try:
        spark.sql(f"create database if not exists {schema}")
        if request["action"] == "push":
            _save_tables(spark, schema, folder, request["tables"])
        elif request["action"] == "pull":
            _write_tables(spark, schema, folder, request["tables"])
        else:
            _containment_in_child(spark, schema, folder)
    finally:
        spark.stop()


def _save_tables(spark, schema: str, folder: Path, tables: Sequence[str]) -> None:
    """Replace each Spark table with the Parquet file ``folder/<table>.parquet``."""
    for table in tables:
        frame = spark.read.parquet(str(folder / f"{table}.parquet"))
        frame.write.mode("overwrite").saveAsTable(f"{schema}.{table}")


def _write_tables(spark, schema: str, folder: Path, tables: dict) -> None:
    """Write each Spark table (the named columns, or all) as Parquet into ``folder/<table>``."""
    for table, columns in tables.items():
        frame = spark.table(f"{schema}.{table}")
        if columns:
            frame = frame.select(*columns)
        frame.coalesce(1).write.mode("overwrite").parquet(str(folder / table))


def _containment_in_child(spark, schema: str, folder: Path) -> None:
    """Run the containment walk on the Spark tables in this one session.

    Writes the ``ContainmentRun`` fields to ``folder/run.json``.
    """
    from dagster_project import engines

    _write_tables(spark, schema, folder, dict(engines.CONTAINMENT_INPUTS))
    with duckdb.connect(":memory:") as scratch:
        scratch.execute("set TimeZone = 'UTC'")
        for table in engines.CONTAINMENT_INPUTS:
            files = str(folder / table / "*.parquet")
            scratch.execute(f"create table {table} as select * from read_parquet(?)", [files])
        run = engines.walk_all(scratch)
        for table in engines.CONTAINMENT_OUTPUTS:
            scratch.execute(f"copy {table} to '{folder / f'{table}.parquet'}' (format parquet)")
    _save_tables(spark, schema, folder, engines.CONTAINMENT_OUTPUTS)
    (folder / "run.json").write_text(json.dumps(list(run)))


if __name__ == "__main__":
    _child_main(json.loads(sys.stdin.read()))
