"""Materialize a partitioned source in-process: one run per configured key, then its merge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from dagster_project.defs.landing import LandingResource
from dagster_project.partitions import PartitionedSource, configured_keys
from dagster_project.pipeline import RefreshResult


def materialize_source(
    source: PartitionedSource,
    assets: Sequence[dg.AssetsDefinition],
    resources: Mapping[str, Any],
    instance: dg.DagsterInstance | None = None,
    keys: Sequence[str] | None = None,
) -> RefreshResult:
    """Run the partitioned asset for each key (default: the configured ones), then the others.

    ``resources`` needs ``warehouse`` and ``run_settings``; ``landing_files``
    defaults to the landing folder of that warehouse. The merge runs also
    after a failed partition, as the daemon's merge sensor does.
    """
    resources = dict(resources)
    resources.setdefault(
        "landing_files", LandingResource(warehouse_path=resources["warehouse"].path)
    )
    instance = instance or dg.DagsterInstance.ephemeral()
    if keys is None:
        keys = configured_keys(source, resources["run_settings"].load())
    stored = instance.get_dynamic_partitions(source.partitions.name)
    instance.add_dynamic_partitions(source.partitions.name, [k for k in keys if k not in stored])
    partitioned = [asset for asset in assets if asset.partitions_def is not None]
    unpartitioned = [asset for asset in assets if asset.partitions_def is None]
    runs = [
        dg.materialize(
            partitioned,
            resources=resources,
            instance=instance,
            partition_key=key,
            raise_on_error=False,
        )
        for key in keys
    ]
    runs.append(
        dg.materialize(unpartitioned, resources=resources, instance=instance, raise_on_error=False)
    )
    return RefreshResult(runs)


def landing_metadata(result: RefreshResult, kind: str) -> list[dict[str, Any]]:
    """Return the metadata values of each ``["landing", kind]`` materialization, in run order."""
    return [
        {name: value.value for name, value in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key == dg.AssetKey(["landing", kind])
    ]
