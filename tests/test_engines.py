"""The engine layer: DORA_ENGINE parsing and lossless table copies to each engine."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from dagster_project import engines
from tests.engine_servers import postgres_server, spark_settings, spark_thrift_server

# Values a copy through CSV or Parquet could damage: null against the empty
# string, quotes, a line break, the null marker as text, non-ASCII letters,
# microseconds, and a float that has no short decimal form.
TRICKY_ROWS = """
    select * from (values
        (1, 'plain', true, 0.1, timestamptz '2024-03-31 01:59:59.123456+00', date '2024-03-31'),
        (2, '', false, 1e-300, timestamptz '1999-12-31 23:00:00+00', date '1999-12-31'),
        (3, null, null, null, null, null),
        (4, 'quote " and, comma', true, -2.5, timestamptz '2024-10-27 00:30:00+00', null),
        (5, 'line
break', false, 1.0 / 3, timestamptz '2030-01-01 00:00:00.000001+00', date '2030-01-01'),
        (6, '\\N', true, 12345678.901234567, timestamptz '2024-02-29 12:00:00+00', null),
        (7, 'Zürich ✓', false, 0.0, timestamptz '2024-06-01 00:00:00+00', null)
    ) as rows (id, label, flag, ratio, happened_at, day)
"""


SERVERS = {
    "postgres": postgres_server,
    "spark": spark_settings,
    "spark_thrift": spark_thrift_server,
    "spark_http": lambda: spark_thrift_server(http=True),
}


@pytest.fixture(params=sorted(SERVERS))
def engine(request, monkeypatch) -> Iterator[engines.Engine]:
    with SERVERS[request.param]() as environment:
        for name, value in {"DORA_ENGINE": request.param, **environment}.items():
            monkeypatch.setenv(name, value)
        opened = engines.open_engine()
        assert opened is not None
        yield opened


def test_round_trip_keeps_values(engine: engines.Engine) -> None:
    with duckdb.connect(":memory:") as source, duckdb.connect(":memory:") as target:
        source.execute("set TimeZone = 'UTC'")
        target.execute("set TimeZone = 'UTC'")
        source.execute(
            "create table raw_tricky as select id, label, flag, cast(ratio as double) as ratio, "
            f"happened_at, day from ({TRICKY_ROWS})"
        )
        engine.push(source, ["raw_tricky"])
        engine.pull({"raw_tricky": None}, target)

        expected = source.execute("select * from raw_tricky order by id").fetchall()
        actual = target.execute("select * from raw_tricky order by id").fetchall()
        assert actual == expected
        types = target.execute("select column_name, column_type from (describe raw_tricky)")
        assert dict(types.fetchall())["happened_at"] == "TIMESTAMP WITH TIME ZONE"


def test_unknown_engine_is_rejected(monkeypatch) -> None:
    monkeypatch.setenv("DORA_ENGINE", "oracle")
    with pytest.raises(ValueError, match=r"DORA_ENGINE='oracle'.*duckdb, postgres, spark"):
        engines.target_name()


def test_duckdb_is_the_default(monkeypatch) -> None:
    monkeypatch.delenv("DORA_ENGINE", raising=False)
    assert engines.target_name() == "duckdb"
    assert engines.open_engine() is None
