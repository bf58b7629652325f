"""Dagster's SQLite event log, with its connections kept open between events.

Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine, opens the
file and syncs it to disk for every event it stores, several times for an
asset event (once in the run's own file, once or twice in the index file).
A small refresh writes about 800 events. At 8 to 14 ms each (measured on a
2-core machine at load 1) that is 6 to 11 s of a 30 s refresh.

``SqliteEventLog`` stores the same rows in the same files. It differs in two
ways only:

- it keeps one engine, and so one open connection, per file for the last few
  files it wrote (``KEEP_ENGINES``), instead of one per event;
- its connections use ``PRAGMA synchronous=NORMAL``. The files are in WAL mode,
  where NORMAL cannot corrupt a file. A power loss can lose the last events
  written before it. The run then stays unfinished, and the next refresh marks
  it as failed (``run_history.fail_orphaned_runs``).

A kept engine is dropped when its file was deleted or replaced (by run-history
pruning, ``instance.wipe()`` or another process), when the process has forked,
and on ``dispose()``. The default ``dagster.yaml`` this project writes
(``settings.INSTANCE_SETTINGS``) selects it; a ``DAGSTER_HOME`` whose
``dagster.yaml`` names no event log storage keeps Dagster's default.

NOTE: this subclass replaces ``SqliteEventLogStorage._connect``, a private
method, and relies on ``_initdb``, ``_initialized_dbs`` and ``_db_lock``. The
lock file pins the Dagster release it was written against;
``tests/test_event_log.py`` fails when an upgrade changes them.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

KEEP_ENGINES = 4
# Folder of Dagster's default SQLite event files, relative to DAGSTER_HOME.
DEFAULT_SUBDIR = os.path.join("history", "runs")


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqliteEventLog(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` that reuses its connections; see the module docstring.

    ``base_dir`` defaults to ``$DAGSTER_HOME/history/runs``, the folder
    Dagster's default storage uses, so a ``dagster.yaml`` can name this class
    without a path.
    """

    def __init__(self, base_dir: str | None = None, inst_data: Any = None) -> None:
        # Engine and file identity (device, inode) of each shard, newest last.
        self._engines: OrderedDict[str, tuple[Engine, tuple[int, int] | None]] = OrderedDict()
        self._engines_pid = os.getpid()
        if base_dir is None:
            base_dir = os.path.join(os.environ["DAGSTER_HOME"], DEFAULT_SUBDIR)
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> SqliteEventLog:
        return cls(inst_data=inst_data, **dict(config_value))

    def _engine_for(self, shard: str) -> Engine:
        """Return the engine of ``shard``, building a new one when the kept one is stale."""
        if self._engines_pid != os.getpid():
            # A forked child must not use its parent's open connections.
            for engine, _ in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._engines_pid = os.getpid()
        cached = self._engines.pop(shard, None)
        if cached is not None:
            engine, file_id = cached
            if file_id is not None and file_id == _file_id(self.path_for_shard(shard)):
                self._engines[shard] = cached
                return engine
            engine.dispose()
            self._initialized_dbs.discard(shard)
        engine = create_engine(
            self.conn_string_for_shard(shard),
            pool_size=1,
            max_overflow=4,  # _initdb opens a second connection
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _synchronous_normal)
        self._engines[shard] = (engine, None)
        while len(self._engines) > KEEP_ENGINES:
            _, (oldest, _) = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine_for(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection
            self._engines[shard] = (engine, _file_id(self.path_for_shard(shard)))

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine, _ in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()

    def wipe(self) -> None:
        self._dispose_engines()
        super().wipe()
