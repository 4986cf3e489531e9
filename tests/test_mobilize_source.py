"""The mobilize source against the fake: full, incremental, idempotent, resilient, explained."""

import pytest

from pipelines.runner import sync
from sandbox.mobilize import person_key
from pipelines.sources.mobilize import organization_ids
from tests.conftest import query, table_rows

pytestmark = pytest.mark.integration

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
    assert counts["deleted"] == sum(1 for d in data.deleted_events.values() if d.event.sponsor_id in data.promoters_of(1))
    assert counts["organizations"] == 1 + len(data.organizations[1].promotes)
    # custom sign-up fields come only with RSVPs to the organization's own events (README "Attendance object")
    [(withheld, empty)] = query(warehouse, """select count(*) filter (where custom_signup_field_values is null),
        count(*) filter (where custom_signup_field_values::varchar = '[]') from mobilize.attendances""")
    assert withheld == sum(1 for a in data.attendances.values() if data.event(a.event_id).sponsor_id != 1)
    assert empty == sum(1 for a in data.attendances.values()
                        if data.event(a.event_id).sponsor_id == 1 and not a.custom_field_values)


def test_second_run_without_changes_asks_once_per_collection_and_changes_nothing(sandbox, warehouse):
    assert _sync(warehouse).status == "loaded"
    before = {t: table_rows(warehouse, f"mobilize.{t}")
              for t in ("events", "people", "attendances", "deleted_events", "incomplete_events")}
    api = sandbox.services["mobilize"]
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    paths = [r.path for r in api.requests]
    assert len(paths) == len(COLLECTIONS), paths
    # deleted events are read whole: their updated_since filters by a date a deletion need not change
    assert all("updated_since=" in r.query for r in api.requests if not r.path.endswith(("promoted_organizations", "deleted")))
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
    [(stored,)] = query(warehouse, f"select postal_addresses from mobilize.people where person_key = '{person_key(person)}'")
    assert person.postal_code in stored
    assert query(warehouse, "select count(*) from mobilize.people")[0][0] == len(data.people)
    newest = max(data.events)
    assert query(warehouse, f"select count(*) from mobilize.events where id = {newest}")[0][0] == 1
    # deletions keep the event's old modified_date: none is skipped
    deleted_now = [i for i, d in data.deleted_events.items()
                   if d.deleted_date == sandbox.world.clock.now and d.event.sponsor_id in data.promoters_of(1)]
    assert deleted_now and all(data.deleted_events[i].event.modified_date < sandbox.world.clock.now for i in deleted_now)
    ids = ",".join(map(str, deleted_now))
    assert query(warehouse, f"select count(*) from mobilize.deleted_events where id in ({ids})")[0][0] == len(deleted_now)



def _stored_tags(warehouse):
    return set(query(warehouse, """select events.id, tags.id, tags.name from mobilize.events__tags as tags
                                   join mobilize.events on events._dlt_id = tags._dlt_parent_id"""))


def test_a_merged_event_replaces_its_tags_and_campaign_leaving_none_behind(sandbox, warehouse):
    assert _sync(warehouse).status == "loaded"
    data, events = _served(sandbox)
    assert _stored_tags(warehouse) == {(e.id, t, data.tags[t].name) for e in events for t in e.tag_ids} != set()
    sandbox.world.advance(0.02)  # retags and moves a few events between campaigns; and, by hand:
    own = [e for e in data.events.values() if e.sponsor_id == 1 and e.tag_ids]
    retagged, untagged = own[0], own[1]
    retagged.tag_ids = [t for t in data.organization_tags(1) if t not in retagged.tag_ids][:1]
    untagged.tag_ids = []
    moved = next(e for e in data.events.values() if e.sponsor_id == 1 and e.event_campaign_id
                 and e not in (retagged, untagged))
    moved.event_campaign_id = None
    for event in (retagged, untagged, moved):
        event.modified_date = sandbox.world.clock.now
    assert _sync(warehouse).status == "loaded"
    _, events = _served(sandbox)
    # (events deleted since keep the tags they were last loaded with)
    assert {row for row in _stored_tags(warehouse) if row[0] in data.events} == {
        (e.id, t, data.tags[t].name) for e in events for t in e.tag_ids}
    assert query(warehouse, """select count(*) from mobilize.events__tags
                               where _dlt_root_id not in (select _dlt_id from mobilize.events)""") == [(0,)]
    # the campaign shows on the organization's own events only (README "Event object")
    campaigns = dict(query(warehouse, "select id, event_campaign__slug from mobilize.events"))
    assert {i: slug for i, slug in campaigns.items() if i in data.events} == {e.id: data.event_campaigns[e.event_campaign_id].slug
                         if e.event_campaign_id and e.sponsor_id == 1 else None for e in events}
    assert campaigns[moved.id] is None

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


def test_ghost_rows_never_fail_a_sync_move_a_cursor_or_add_a_row_twice(sandbox, warehouse):
    data = sandbox.world.vendors["mobilize"]
    ghosts = {i for i, d in data.deleted_events.items() if d.ghost and d.event.sponsor_id in data.promoters_of(1)}
    assert ghosts, "the fake serves ghost rows by default"
    for _ in range(2):
        result = _sync(warehouse)
        assert result.status == "loaded", result.message
        assert result.rows["incomplete_events"] == len(ghosts)  # counted in the run summary
    assert {i for (i,) in query(warehouse, "select id from mobilize.incomplete_events")} == ghosts
    assert query(warehouse, "select count(*) from mobilize.events where id in (select id from mobilize.incomplete_events)") == [(0,)]
    [(newest,)] = query(warehouse, "select max(modified_date) from mobilize.events")
    api = sandbox.services["mobilize"]
    assert f"updated_since={newest}" in api.requests[-1].query or any(
        f"updated_since={newest}" in r.query for r in api.requests if r.path.endswith("/events"))


def test_every_visibility_and_approval_status_is_asked_for(sandbox, warehouse):
    assert _sync(warehouse).status == "loaded"
    data, events = _served(sandbox)
    asked = [r.query for r in sandbox.services["mobilize"].requests if r.path.endswith(("/events", "/deleted"))]
    assert asked and all("visibility=PRIVATE" in q and "approval_status=NEEDS_APPROVAL" in q
                         and "approval_status=NEEDS_HOST_VERIFICATION" in q for q in asked)
    loaded = {i for (i,) in query(warehouse, "select id from mobilize.events")}
    assert loaded == {e.id for e in events}
    assert {e.visibility for e in events} == {"PUBLIC", "PRIVATE"} and len({e.approval_status for e in events}) > 1
    # every RSVP's event is loaded, whatever its visibility or approval
    assert {a.event_id for a in data.attendances.values() if a.event_id in data.events} <= loaded


def test_idless_rsvps_and_user_id_people_are_keyed_once_across_runs(sandbox, warehouse):
    data = sandbox.world.vendors["mobilize"]
    assert _sync(warehouse).status == "loaded"
    sandbox.world.advance(0.3)  # cancels and edits RSVPs, id-less ones included
    assert _sync(warehouse).status == "loaded"
    assert _sync(warehouse).status == "loaded"
    [(rows, keys, derived)] = query(warehouse, """select count(*), count(distinct attendance_key),
        count(*) filter (where attendance_key like 'derived:%') from mobilize.attendances""")
    assert rows == keys == len(data.attendances) and derived > 0
    [(people, person_keys, users)] = query(warehouse, """select count(*), count(distinct person_key),
        count(*) filter (where person_key like 'user:%') from mobilize.people""")
    assert people == person_keys == len(data.people) and users == sum(not p.has_person_id for p in data.people.values())
    # a cancellation arrives as a change of status (RSVPs of events deleted since are no longer listed;
    # RSVPs of the coordinated organization come without the id compared here)
    with_ids = {a.id: a for a in data.attendances.values() if a.event_id in data.events
                and not data.organizations[data.events[a.event_id].sponsor_id].is_coordinated}
    stored = {i for (i,) in query(warehouse, "select id from mobilize.attendances where status = 'CANCELLED'")}
    assert stored & set(with_ids) == {i for i, a in with_ids.items() if a.status == "CANCELLED"} != set()


def test_a_full_sync_against_the_15_per_second_limiter_gets_no_429(sandbox, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__MOBILIZE__PER_PAGE", "10")  # enough pages to fill many one-second windows
    api = sandbox.services["mobilize"]
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert len(api.requests) > 45
    assert api.count(status=429) == 0
    starts = [r.at for r in api.requests]
    assert max(sum(1 for t in starts if first <= t < first + 1) for first in starts) <= 15


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
