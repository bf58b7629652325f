"""Dagster assets of the file source (events in the neutral form)."""

import dagster as dg

from dagster_project import progress
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources import files

FILE_ASSET_SPECS = [
    dg.AssetSpec(
        ["raw", files.RAW_TABLE_OF[entity]],
        group_name="raw_files",
        description=f"Neutral-form {entity.replace('_', ' ')} read from the events folder.",
        kinds={"duckdb", "python"},
    )
    for entity in files.ENTITIES
]


@dg.multi_asset(specs=FILE_ASSET_SPECS, name="raw_files")
def raw_files(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    run_settings: RunSettingsResource,
):
    """Load the events folder; rows that cannot be used go to the quarantine table."""
    config = run_settings.load()
    with warehouse.connect() as con:
        if config.events_dir is None:
            context.log.info("No events folder configured; the file source loads nothing.")
            for entity in files.ENTITIES:
                con.execute(
                    f"delete from {files.RAW_TABLE_OF[entity]} where _source = ?", [files.SOURCE]
                )
            extract = files.FileExtract(
                rows={entity: [] for entity in files.ENTITIES},
                rejected={entity: [] for entity in files.ENTITIES},
            )
        else:
            context.log.info(f"Reading events from {config.events_dir}")
            extract = files.load_events(con, config.events_dir, config)
    for line in files.describe_rejections(extract):
        context.log.warning(f"Quarantined {line}")
    counts = extract.counts()
    for entity in files.ENTITIES:
        loaded = counts[f"{entity}_loaded"]
        quarantined = counts[f"{entity}_quarantined"]
        progress.report(f"files: {entity}: {loaded} rows loaded, {quarantined} quarantined")
        yield dg.MaterializeResult(
            asset_key=["raw", files.RAW_TABLE_OF[entity]],
            metadata={
                "rows_loaded": dg.MetadataValue.int(loaded),
                "rows_quarantined": dg.MetadataValue.int(quarantined),
                "events_dir": dg.MetadataValue.text(str(config.events_dir or "")),
            },
        )


defs = dg.Definitions(assets=[raw_files])
