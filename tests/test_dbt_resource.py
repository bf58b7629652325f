"""The dbt resource that skips `dbt --version` and the adapter of dagster-dbt."""

import inspect
import re
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource

from dagster_project.dbt_resource import DoraDbtCliResource
from dagster_project.project import dbt_project

DBT = Path(sys.executable).with_name("dbt")


def test_version_matches_dbt_executable():
    output = subprocess.run([str(DBT), "--version"], capture_output=True, text=True, check=True)
    installed = re.search(r"(\d+\.\d+\.\d+)", output.stdout).group(1)

    resource = DoraDbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT))

    assert str(resource._cli_version) == installed
    assert resource._cli_version.major < 2


def test_builds_no_adapter():
    resource = DoraDbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT))

    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_overridden_members_exist_in_dagster_dbt():
    # The subclass replaces private members; a dagster-dbt upgrade that renames
    # them would silently bring the start-up costs back.
    source = inspect.getsource(DbtCliResource.cli)

    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(" in source
