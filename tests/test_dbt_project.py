"""The dbt project on its own: the marts build on a warehouse nothing was synced into, and every
dbt unit test passes (a transform leaves them out)."""

import pytest

from pipelines.runner import dbt, transform
from tests.conftest import query

pytestmark = pytest.mark.integration


def test_marts_build_before_any_source_is_synced_and_every_dbt_unit_test_passes(tmp_path, no_source_config):
    warehouse = tmp_path / "warehouse.duckdb"
    assert transform(warehouse) == 0
    counts = query(warehouse, """
        select (select count(*) from analytics.people) + (select count(*) from analytics.events)
             + (select count(*) from analytics.attendances) + (select count(*) from analytics.person_identities)
             + (select count(*) from analytics.actions)""")
    assert counts == [(0,)]
    # a transform leaves the unit tests out; they need only the models' relations, which now exist
    unit_tests = dbt("test", "--select", "test_type:unit", warehouse=warehouse, check=False)
    assert unit_tests.returncode == 0, "a dbt unit test failed (see dbt_project/logs/dbt.log)"
