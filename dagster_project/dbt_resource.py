"""The dbt resource of the refresh, without two start-up costs of dagster-dbt.

In dagster-dbt 0.29, ``DbtCliResource.cli()`` runs ``dbt --version`` once
per resource instance to tell dbt Core from the Fusion engine (measured at
2.9 s CPU). For every dbt step it also builds a dbt Core adapter in the
Dagster process, which parses every macro (0.6 to 1.6 s CPU). Only
``fetch_row_counts()`` and ``fetch_column_metadata()`` use that adapter, and
the refresh calls neither. This subclass reads the version of the installed
dbt-core package instead and builds no adapter. Both methods it replaces are
private to dagster-dbt, so ``tests/test_dbt_resource.py`` checks them against
the locked version.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib import metadata

from dagster_dbt import DbtCliResource
from packaging import version


class DoraDbtCliResource(DbtCliResource):
    """``DbtCliResource`` for a dbt Core executable of this Python environment."""

    @cached_property
    def _cli_version(self) -> version.Version:
        # NOTE: assumes dbt_executable runs this environment's dbt-core, as
        # defs/dbt.py picks it. A dbt found only on PATH may be another version.
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None
