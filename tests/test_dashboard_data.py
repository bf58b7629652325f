"""The dashboard's column-wise tables hold plain JSON values, converted by column type."""

from __future__ import annotations

import duckdb

from dagster_project.dashboard.data import _columns

QUERY = """
    select * from (values
        (1, 'a', true, 1.5::double, 2.25::decimal(10, 2), date '2026-11-30',
         timestamptz '2026-11-30 12:00:00+01', [1, 2]),
        (2, null, false, 'nan'::double, null, date '2026-11-30',
         null, null),
        (3, 'c', null, 'inf'::double, 2.25::decimal(10, 2), null,
         timestamptz '2026-11-30 12:00:00+01', [3])
    ) as t(id, name, flag, ratio, amount, day, seen_at, items)
    order by id
"""


def test_columns_convert_by_type() -> None:
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        table = _columns(con, QUERY)
    assert table["id"] == [1, 2, 3]
    assert table["name"] == ["a", None, "c"]
    assert table["flag"] == [True, False, None]
    assert table["ratio"] == [1.5, None, None]
    assert table["amount"] == [2.25, None, 2.25]
    assert all(isinstance(value, float) for value in table["amount"] if value is not None)
    assert table["day"] == ["2026-11-30", "2026-11-30", None]
    assert table["seen_at"] == ["2026-11-30T11:00:00+00:00", None, "2026-11-30T11:00:00+00:00"]
    assert table["items"] == [[1, 2], None, [3]]


def test_columns_of_no_rows() -> None:
    with duckdb.connect() as con:
        table = _columns(con, "select 1 as id, 'a' as name where false")
    assert table == {"id": [], "name": []}


def test_columns_keep_repeated_dst_hour() -> None:
    """The two 01:30 of a DST change compare equal in Python, but are two instants."""
    query = """
        select * from (values
            (timestamptz '2026-11-01 05:30:00+00'),
            (timestamptz '2026-11-01 06:30:00+00')
        ) as t(seen_at)
    """
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'America/New_York'")
        table = _columns(con, query)
    assert table["seen_at"] == ["2026-11-01T05:30:00+00:00", "2026-11-01T06:30:00+00:00"]
