"""Dagster side of the landing files: the resource, and the asset that merges them.

Each partitioned source (git and the API sources) has a partitioned
extraction asset ``["landing", <kind>]`` that writes one landing file per
partition key, and an unpartitioned merge asset that produces the source's
``["raw", <table>]`` assets by copying every configured key's landing file
into the warehouse. The dbt models read the raw
tables, so every mart is downstream of all partitions.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from dagster_project import landing, settings
from dagster_project.config import ConfigError
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.partitions import PartitionedSource, configured_keys

EXTRACTION_TAG = "dora/extraction"


class LandingResource(dg.ConfigurableResource):
    """The landing files of a warehouse, in ``<warehouse stem>.landing`` beside it.

    Empty ``warehouse_path`` means ``$DORA_WAREHOUSE`` or the default warehouse.
    Extraction runs use this resource instead of the warehouse resource, so
    they never take the warehouse's refresh lock and can run in parallel.
    """

    warehouse_path: str = ""

    def root(self) -> Path:
        return landing.landing_root(self.warehouse_file())

    def path(self, kind: str, key: str) -> Path:
        return landing.landing_path(self.root(), kind, key)

    def warehouse_file(self) -> Path:
        return Path(self.warehouse_path or settings.warehouse_path()).expanduser().resolve()

    @contextmanager
    def write(
        self,
        kind: str,
        key: str,
        run_id: str,
        tables: Mapping[str, Mapping[str, str]],
        seed_fallback: landing.SeedConditions | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Yield a connection to the key's landing file, replaced only when the block succeeds.

        ``key`` is also the ``_source`` of the item's rows, and ``tables`` are
        the source's raw tables, both used to seed a new landing file from the
        warehouse. ``seed_fallback`` selects the rows to seed it with when the
        warehouse has none of ``key``.
        """
        path = self.path(kind, key)
        warehouse_file = self.warehouse_file()
        with landing.write_landing(path, run_id, key, tables, warehouse_file, seed_fallback) as con:
            yield con


def landing_key(source: PartitionedSource) -> dg.AssetKey:
    return dg.AssetKey(["landing", source.kind])


def _merge_metadata(table: str, report: landing.MergeReport) -> dict[str, dg.MetadataValue]:
    return {
        "rows_merged": dg.MetadataValue.int(report.rows.get(table, 0)),
        "partitions_merged": dg.MetadataValue.int(len(report.merged)),
        "partitions_without_landing_file": dg.MetadataValue.json(report.missing),
        "retired_partitions_deleted": dg.MetadataValue.json(report.retired),
    }


def merge_asset(
    source: PartitionedSource,
    tables: Mapping[str, Mapping[str, str]],
    specs: list[dg.AssetSpec],
    name: str,
):
    """Build the unpartitioned asset that merges a source's landing files into its raw tables."""

    @dg.multi_asset(specs=specs, name=name)
    def _merge(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        run_settings: RunSettingsResource,
        landing_files: LandingResource,
    ):
        try:
            keys = configured_keys(source, run_settings.load())
        except ConfigError as error:
            raise dg.Failure(str(error)) from None
        with warehouse.connect() as con:
            report = landing.merge_landing(
                con, landing_files.root(), source.kind, keys, tables, source.section_of
            )
        if report.missing:
            context.log.warning(
                f"No landing file yet for {', '.join(report.missing)}: their warehouse rows "
                f"are unchanged; run job {source.job_name} for those partitions"
            )
        if report.retired:
            context.log.info(
                f"Deleted the warehouse rows of {', '.join(report.retired)}: no longer "
                f"partition keys of their {source.kind} section"
            )
        context.log.info(f"Merged {len(report.merged)} {source.kind} landing files")
        for spec in specs:
            table = spec.key.path[-1]
            yield dg.MaterializeResult(asset_key=spec.key, metadata=_merge_metadata(table, report))

    return _merge
