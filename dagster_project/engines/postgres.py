"""Copy tables between the DuckDB warehouse and a PostgreSQL schema.

Rows travel as CSV through a temporary file: DuckDB writes and reads CSV
fast, and PostgreSQL's COPY loads it in one statement. Both sides write
every value quoted and an unquoted ``\\N`` for null, so neither an empty
string nor the text ``\\N`` turns into null.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg2
from psycopg2 import sql

NULL_TEXT = "\\N"
# DuckDB type (the part before any parenthesis) -> PostgreSQL type.
POSTGRES_TYPES = {
    "VARCHAR": "text",
    "JSON": "text",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DECIMAL": "numeric",
}
# PostgreSQL type (information_schema data_type) -> DuckDB type.
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "character": "VARCHAR",
    "timestamp with time zone": "TIMESTAMPTZ",
    "timestamp without time zone": "TIMESTAMP",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "real": "FLOAT",
    "double precision": "DOUBLE",
    "numeric": "DOUBLE",
}


@dataclass(frozen=True)
class PostgresEngine:
    """A PostgreSQL schema reached with the settings of the dbt ``postgres`` target."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    schema: str
    sslmode: str = "prefer"
    name: str = "postgres"

    @classmethod
    def from_environment(cls) -> PostgresEngine:
        env = os.environ
        return cls(
            host=env.get("DORA_POSTGRES_HOST", "127.0.0.1"),
            port=int(env.get("DORA_POSTGRES_PORT", "5432")),
            user=env.get("DORA_POSTGRES_USER", "dora"),
            password=env.get("DORA_POSTGRES_PASSWORD", ""),
            dbname=env.get("DORA_POSTGRES_DATABASE", "dora"),
            schema=env.get("DORA_POSTGRES_SCHEMA", "dora"),
            sslmode=env.get("DORA_POSTGRES_SSLMODE", "prefer"),
        )

    def connect(self):
        """Return a connection whose session time zone is UTC."""
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            sslmode=self.sslmode,
            options="-c TimeZone=UTC",
        )

    def push(self, source: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
        with (
            tempfile.TemporaryDirectory() as folder,
            closing(self.connect()) as con,
            con.cursor() as cur,
        ):
            cur.execute(
                sql.SQL("create schema if not exists {}").format(sql.Identifier(self.schema))
            )
            for table in tables:
                self._push_table(source, cur, table, Path(folder) / f"{table}.csv")
            con.commit()

    def _push_table(self, source, cur, table: str, path: Path) -> None:
        columns = source.execute(f"describe {table}").fetchall()
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_postgres_type(kind)))
            for name, kind, *_ in columns
        )
        target = sql.Identifier(self.schema, table)
        source.execute(
            f"copy {table} to '{path}' (format csv, header false, nullstr '{NULL_TEXT}', "
            "force_quote *)"
        )
        cur.execute(sql.SQL("drop table if exists {} cascade").format(target))
        cur.execute(sql.SQL("create table {} ({})").format(target, definition))
        with path.open(encoding="utf-8") as rows:
            cur.copy_expert(
                sql.SQL("copy {} from stdin with (format csv, null {})").format(
                    target, sql.Literal(NULL_TEXT)
                ),
                rows,
            )

    def pull(
        self,
        tables: dict[str, Sequence[str] | None],
        target: duckdb.DuckDBPyConnection,
    ) -> None:
        with (
            tempfile.TemporaryDirectory() as folder,
            closing(self.connect()) as con,
            con.cursor() as cur,
        ):
            for table, columns in tables.items():
                self._pull_table(cur, table, columns, target, Path(folder) / f"{table}.csv")

    def _pull_table(self, cur, table: str, requested, target, path: Path) -> None:
        cur.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (self.schema, table),
        )
        types = {name: kind for name, kind in cur.fetchall()}
        if not types:
            raise LookupError(f"table {self.schema}.{table} not found in PostgreSQL")
        names = list(requested or types)
        select = sql.SQL("select {} from {}").format(
            sql.SQL(", ").join(sql.Identifier(name) for name in names),
            sql.Identifier(self.schema, table),
        )
        with path.open("w", encoding="utf-8") as out:
            cur.copy_expert(
                sql.SQL("copy ({}) to stdout with (format csv, null {}, force_quote *)").format(
                    select, sql.Literal(NULL_TEXT)
                ),
                out,
            )
        duck_types = ", ".join(f"'{name}': '{_duckdb_type(types[name])}'" for name in names)
        target.execute(
            f"create or replace table {table} as select * from read_csv(?, header = false, "
            "auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            "allow_quoted_nulls = false, "
            f"nullstr = '{NULL_TEXT}', columns = {{{duck_types}}})",
            [str(path)],
        )


def _postgres_type(duckdb_type: str) -> str:
    base = duckdb_type.split("(", 1)[0].strip().upper()
    if base not in POSTGRES_TYPES:
        raise TypeError(f"no PostgreSQL type for the DuckDB type {duckdb_type}")
    return POSTGRES_TYPES[base]


def _duckdb_type(postgres_type: str) -> str:
    if postgres_type not in DUCKDB_TYPES:
        raise TypeError(f"no DuckDB type for the PostgreSQL type {postgres_type}")
    return DUCKDB_TYPES[postgres_type]
