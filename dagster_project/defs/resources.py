"""Dagster resources shared by every asset: the warehouse and the pipeline configuration."""

from __future__ import annotations

from contextlib import contextmanager

import dagster as dg

from dagster_project import settings, warehouse


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
