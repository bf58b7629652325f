"""Dagster resources shared by every asset: the warehouse and the pipeline configuration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from dagster_project import locking, settings, warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Empty ``path`` means ``$DORA_WAREHOUSE`` or the default."""

    path: str = ""

    def resolved_path(self) -> str:
        return self.path or str(settings.warehouse_path())

    @contextmanager
    def connect(self):
        """Yield a read-write connection with the raw tables created."""
        with warehouse.open_warehouse(self.resolved_path()) as con:
            warehouse.ensure_raw_tables(con)
            yield con


class LockingWarehouseResource(WarehouseResource):
    """The warehouse resource of the code location: a run holds the refresh lock throughout.

    A run that uses it holds the warehouse's refresh lock
    (``dagster_project.locking``) from its start to its end, so a run that the
    Dagster daemon or UI launches cannot write the file while ``dora refresh``
    or another run does. A run that finds the lock taken fails before any step
    starts, with the message that names the holder's pid. Sensors and other
    uses outside a run do not take the lock.

    It is a separate class because Dagster treats a resource with its own
    ``yield_for_execution`` as a context manager. Plain ``WarehouseResource``
    stays usable where tests build a sensor context without ``with``.
    """

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WarehouseResource]:
        if context.run is None:
            yield self
            return
        with locking.warehouse_lock(self.resolved_path()):
            yield self
