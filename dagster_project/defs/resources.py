"""Dagster resources shared by every asset: the warehouse and the pipeline configuration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from dagster_project import locking, settings, warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Empty ``path`` means ``$DORA_WAREHOUSE`` or the default.

    A run that uses this resource holds the warehouse's refresh lock
    (``dagster_project.locking``) from the start of the run to its end, so a
    run launched by the Dagster daemon or UI cannot write the file while a
    ``dora refresh`` or another run does. A run that finds the lock held
    fails before any step, with the message that names the holder's pid.
    Sensors and other uses outside a run do not take the lock.
    """

    path: str = ""

    def resolved_path(self) -> str:
        return self.path or str(settings.warehouse_path())

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WarehouseResource]:
        if context.run is None:
            yield self
            return
        with locking.warehouse_lock(self.resolved_path()):
            yield self

    @contextmanager
    def connect(self):
        """Yield a read-write connection with the raw tables created."""
        with warehouse.open_warehouse(self.resolved_path()) as con:
            warehouse.ensure_raw_tables(con)
            yield con
