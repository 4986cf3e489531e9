"""The mobilize source against the fake: full, incremental, idempotent, resilient, explained."""

import pytest

from pipelines.runner import sync
from pipelines.sources.mobilize import organization_ids
from tests.conftest import query, table_rows

COLLECTIONS = ("organizations", "promoted_organizations", "events", "events/deleted", "people", "attendances")


def _sync(warehouse):
    [result] = sync(["mobilize"], warehouse, echo=lambda _: None)
    return result


def _served(sandbox):
    data = sandbox.world.vendors["mobilize"]
    listed_by_primary = data.promoters_of(1)
    events = [e for e in data.events.values() if e.sponsor_id in listed_by_primary]
    return data, events


def test_full_sync_loads_what_the_fake_served(sandbox, warehouse):
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    data, events = _served(sandbox)
    counts = dict(query(warehouse, """
        select 'events', count(*) from mobilize.events union all
        select 'timeslots', count(*) from mobilize.events__timeslots union all
        select 'people', count(*) from mobilize.people union all
        select 'attendances', count(*) from mobilize.attendances union all
        select 'deleted', count(*) from mobilize.deleted_events union all
        select 'organizations', count(*) from mobilize.organizations"""))
    assert counts["events"] == len(events)
    assert counts["timeslots"] == sum(len(e.timeslots) for e in events)
    assert counts["people"] == len(data.people)
    assert counts["attendances"] == len(data.attendances)
    assert counts["deleted"] == sum(1 for sponsor, _ in data.deleted_events.values() if sponsor in data.promoters_of(1))
    assert counts["organizations"] == 1 + len(data.organizations[1].promotes)


def test_second_run_without_changes_asks_once_per_collection_and_changes_nothing(sandbox, warehouse):
    assert _sync(warehouse).status == "loaded"
    before = {t: table_rows(warehouse, f"mobilize.{t}") for t in ("events", "people", "attendances", "deleted_events")}
    api = sandbox.services["mobilize"]
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    paths = [r.path for r in api.requests]
    assert len(paths) == len(COLLECTIONS), paths
    assert all("updated_since=" in r.query for r in api.requests if "promoted" not in r.path)
    after = {t: table_rows(warehouse, f"mobilize.{t}") for t in before}
    assert after == before


def test_incremental_sync_fetches_only_what_changed(sandbox, warehouse):
    assert _sync(warehouse).status == "loaded"
    data = sandbox.world.vendors["mobilize"]
    sandbox.world.advance(0.02)
    api = sandbox.services["mobilize"]
    api.reset_log()
    result = _sync(warehouse)
    assert result.status == "loaded"
    changed_people = sum(1 for p in data.people.values() if p.modified_date == sandbox.world.clock.now)
    assert result.rows["people"] == changed_people
    assert len(api.requests) <= len(COLLECTIONS) + 2, "changes fit in a page or so per collection"
    # the world's changes arrived: new postal codes, the new event, and deletions marked
    person = next(p for p in data.people.values() if p.modified_date == sandbox.world.clock.now)
    [(stored,)] = query(warehouse, f"select postal_addresses from mobilize.people where id = {person.id}")
    assert person.postal_code in stored
    assert query(warehouse, "select count(*) from mobilize.people")[0][0] == len(data.people)
    newest = max(data.events)
    assert query(warehouse, f"select count(*) from mobilize.events where id = {newest}")[0][0] == 1
    deleted_now = [i for i, (_, when) in data.deleted_events.items() if when == sandbox.world.clock.now]
    ids = ",".join(map(str, deleted_now))
    assert query(warehouse, f"select count(*) from mobilize.deleted_events where id in ({ids})")[0][0] == len(
        [i for i in deleted_now if data.deleted_events[i][0] in data.promoters_of(1)])


def test_recovers_from_429_storms_and_5xx_bursts(sandbox, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__MOBILIZE__BACKOFF_FACTOR", "0.05")
    monkeypatch.setenv("SOURCES__MOBILIZE__MAX_ATTEMPTS", "8")
    api = sandbox.services["mobilize"]
    api.faults.storm_429 = 2
    api.faults.error_burst = 3
    api.faults.error_rate = 0.1
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    assert api.count(status=429) >= 2 and api.count(status=503) >= 3
    assert query(warehouse, "select count(*) from mobilize.attendances")[0][0] == len(
        sandbox.world.vendors["mobilize"].attendances)


def test_a_wrong_key_fails_with_the_variable_to_set(sandbox, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__MOBILIZE__API_KEY", "not-the-key")
    result = _sync(warehouse)
    assert result.status == "failed"
    assert "SOURCES__MOBILIZE__API_KEY" in result.message and "403" in result.message
    assert "not-the-key" not in result.message


def test_an_unconfigured_source_is_skipped_with_one_line(no_source_config, warehouse):
    lines = []
    [result] = sync(["mobilize"], warehouse, echo=lines.append)
    assert result.status == "skipped"
    assert "SOURCES__MOBILIZE__API_KEY" in result.message and "ORGANIZATION_ID" in result.message
    assert not warehouse.exists()


@pytest.mark.parametrize("value, expected", [("1", [1]), ("1, 2", [1, 2]), (7, [7]), ([3, "4"], [3, 4])])
def test_organization_ids_parse(value, expected):
    assert organization_ids(value) == expected


@pytest.mark.parametrize("value", ["acme", "", " , "])
def test_organization_ids_reject_nonsense(value):
    with pytest.raises(ValueError, match="SOURCES__MOBILIZE__ORGANIZATION_ID"):
        organization_ids(value)
