"""Copy tables between the DuckDB warehouse and a Spark Thrift server.

A Thrift server (HiveServer2 protocol) is reached over a socket, as the
``spark_thrift`` target of profiles.yml does, or over HTTPS, as the
``spark_http`` target does (a Databricks-style cluster endpoint). It runs
SQL only, so rows travel as Parquet files through a staging folder that both
sides read and write: this machine uses it at ``DORA_SPARK_STAGING_DIR``, and
the server at ``DORA_SPARK_STAGING_URI``. For a server on this machine the
two are the same path. For a cluster, the folder must be shared storage that
this machine mounts and the cluster reaches by URI (for example ``s3a://`` or
``abfss://``).

Plain Python, no Dagster imports. Needs the ``pyhive`` package, which the
``spark`` extra of pyproject.toml installs.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

# Settings of every session, as the ``spark_thrift`` target sets them. The Spark
# Thrift server (4.3) applies a session setting only with the ``set:hiveconf:``
# prefix and ignores a bare key.
SESSION_SETTINGS = {
    "set:hiveconf:spark.sql.session.timeZone": "UTC",
    "set:hiveconf:spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


@dataclass(frozen=True)
class SparkThriftEngine:
    """A schema of a Spark Thrift server, reached with the ``DORA_SPARK_*`` settings."""

    host: str
    port: int
    user: str
    auth: str
    schema: str
    staging_dir: str
    staging_uri: str
    # The HTTPS endpoint path (``/sql/protocolv1/o/<organization>/<cluster>``), or
    # empty for a socket connection.
    http_path: str = ""
    name: str = "spark (Thrift)"

    @classmethod
    def from_environment(cls, http: bool = False) -> SparkThriftEngine:
        """Return the engine of the ``spark_thrift`` target, or of ``spark_http`` if ``http``."""
        env = os.environ
        staging_dir = env.get("DORA_SPARK_STAGING_DIR") or tempfile.gettempdir()
        http_path = ""
        if http:
            organization = env.get("DORA_SPARK_ORGANIZATION", "0")
            http_path = f"/sql/protocolv1/o/{organization}/{env.get('DORA_SPARK_CLUSTER', '')}"
        return cls(
            host=env.get("DORA_SPARK_HOST", "127.0.0.1"),
            port=int(env.get("DORA_SPARK_PORT", "443" if http else "10000")),
            user=env.get("DORA_SPARK_USER", "dora"),
            auth=env.get("DORA_SPARK_AUTH", "NONE"),
            schema=env.get("DORA_SPARK_SCHEMA", "dora"),
            staging_dir=staging_dir,
            staging_uri=(env.get("DORA_SPARK_STAGING_URI") or f"file://{staging_dir}").rstrip("/"),
            http_path=http_path,
            name="spark (HTTP)" if http else "spark (Thrift)",
        )

    def push(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
        with self._staging() as (folder, uri), self._cursor() as cursor:
            cursor.execute(f"create database if not exists {self.schema}")
            for table in tables:
                source.execute(f"copy {table} to '{folder / table}.parquet' (format parquet)")
                cursor.execute(f"drop table if exists {self.schema}.{table}")
                # A managed copy, so the staging file can go when the push ends.
                cursor.execute(
                    f"create table {self.schema}.{table} using parquet "
                    f"as select * from parquet.`{uri}/{table}.parquet`"
                )

    def pull(
        self,
        tables: dict[str, Sequence[str] | None],
        target: duckdb.DuckDBPyConnection,
    ) -> None:
        with self._staging() as (folder, uri), self._cursor() as cursor:
            for table, columns in tables.items():
                selected = ", ".join(columns) if columns else "*"
                cursor.execute(
                    f"insert overwrite directory '{uri}/{table}' using parquet "
                    f"select {selected} from {self.schema}.{table}"
                )
                files = str(folder / table / "*.parquet")
                target.execute(
                    f"create or replace table {table} as select * from read_parquet(?)", [files]
                )

    @contextmanager
    def _staging(self) -> Iterator[tuple[Path, str]]:
        """Yield a new staging subfolder as (local path, URI the server reads); remove it after."""
        name = f"dora-staging-{uuid.uuid4().hex}"
        folder = Path(self.staging_dir) / name
        folder.mkdir(parents=True)
        # The server may run as another user, and writes into the folder on a pull.
        folder.chmod(0o777)
        try:
            yield folder, f"{self.staging_uri}/{name}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def _cursor(self) -> Iterator[object]:
        connection = self._connect()
        try:
            cursor = connection.cursor()
            yield cursor
            cursor.close()
        finally:
            connection.close()

    def _connect(self):
        from pyhive import hive

        if self.http_path:
            return hive.connect(
                thrift_transport=self._http_transport(), configuration=SESSION_SETTINGS
            )
        password = os.environ.get("DORA_SPARK_PASSWORD") or None
        return hive.connect(
            host=self.host,
            port=self.port,
            username=self.user,
            auth=self.auth,
            password=password if self.auth in ("LDAP", "CUSTOM") else None,
            configuration=SESSION_SETTINGS,
        )

    def _http_transport(self):
        """Return an HTTPS transport that sends ``DORA_SPARK_TOKEN`` as dbt-spark does."""
        from thrift.transport import THttpClient

        host = self.host if self.host.startswith("https://") else f"https://{self.host}"
        transport = THttpClient.THttpClient(f"{host}:{self.port}{self.http_path}")
        credentials = f"token:{os.environ.get('DORA_SPARK_TOKEN', '')}".encode()
        transport.setCustomHeaders(
            {"Authorization": f"Basic {base64.standard_b64encode(credentials).decode()}"}
        )
        return transport
