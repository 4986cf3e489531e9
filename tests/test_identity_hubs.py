"""Hub keys (none@none.com, a placeholder phone) link nobody, and people still resolve exactly.

3,000 ControlShift signatures by 1,000 people (three each, with their own email, phone, name
and postcode), half of them typed with `none@none.com` and a placeholder phone: more records
than the default cap of 1,000. Linking on those values would merge everyone sharing a given
name; `python -m pipelines transform` must instead report both values as hub keys and resolve
exactly the 1,000 people. The rows are written as the ControlShift source loads them
(`sandbox.hub_keys`); the bench `identity_hubs` builds the same shape at 2,000,000.
"""

import pytest

from pipelines import runlog
from pipelines.cli import main
from sandbox.hub_keys import HubWorld, write_signatures
from tests.conftest import query

pytestmark = pytest.mark.integration

WORLD = HubWorld(rows=3000, people=1000, given_names=20, family_names=50, postcodes=3000,
                 placeholder_email_every=2, placeholder_phone_every=2)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("hubs") / "warehouse.duckdb"
    write_signatures(warehouse, WORLD)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_PATH", str(warehouse))
        assert main(["--quiet", "transform"]) == 0, "dbt build (models and tests) failed"
    return warehouse


def test_values_shared_by_more_records_than_the_cap_are_reported_as_hub_keys(built):
    hubs = query(built, "select rule, key_value, record_count, max_records from analytics.identity_hub_keys order by 1")
    assert hubs == [("email", "none@none.com", 1500, 1000), ("phone", "+15555550100", 1500, 1000)]


def test_hub_keys_link_nobody_and_every_person_resolves_exactly(built):
    rows = query(built, "select source_person_id, person_id from analytics.person_identities")
    people_by_id: dict[str, set[int]] = {}
    for source_person_id, person_id in rows:
        row = int(source_person_id.removeprefix("signatures:")) - 1
        people_by_id.setdefault(person_id, set()).add(row % WORLD.people)
    assert len(rows) == WORLD.rows
    assert all(len(people) == 1 for people in people_by_id.values()), "a hub key merged different people"
    assert len(people_by_id) == WORLD.people, "a person was split"


def test_the_build_warns_about_hub_keys_in_the_run_log(built):
    last = runlog.latest(runlog.read(built), "transform")
    assert last.status == "passed"
    [(name, why)] = [(n, w) for n, w in last.rejected.items() if "identity_hub_keys_found" in n]
    assert why.startswith("warn")
