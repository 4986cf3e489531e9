"""Mobilize as the live API answers, through to the marts: the marts are right.

Private and unapproved events, cancelled sign-ups, virtual events with a location, private-address
placeholders, ghost rows, id-less RSVPs, event tags and campaigns and custom sign-up field answers
are all on by default in the fake. The tests read the shared demo (`python -m pipelines demo`:
every source synced once, then `dbt build`) against the world it was generated from; this file
used to sync and build a Mobilize-only world of its own (27 CPU-s). Other tools' rows are beside
Mobilize's there, so every check names its source.
"""

import json

import pytest

from sandbox.mobilize import PRIVATE_ADDRESS
from tests.conftest import DEMO_OUTPUT, query

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def synced(demo_warehouse, demo_world):  # noqa: ANN001, ANN201
    """The shared demo (built by a run that exited 0, dbt build included), its world and what it printed."""
    return demo_warehouse, demo_world, (demo_warehouse.parent / DEMO_OUTPUT).read_text()


def test_the_sync_exits_0_with_dbt_build_passing_and_counts_the_incomplete_rows(synced):
    warehouse, world, said = synced
    data = world.vendors["mobilize"]
    # the organization's listing serves each of its deleted events flagged as a ghost with its fields nulled
    ghosts = sum(1 for deleted in data.deleted_events.values()
                 if deleted.ghost and deleted.event.sponsor_id in data.promoters_of(1))
    assert ghosts > 0 and f"incomplete_events {ghosts}" in said, said
    assert query(warehouse, "select count(*) from mobilize.incomplete_events") == [(ghosts,)]


def test_private_and_unapproved_events_are_in_the_marts_with_every_rsvp_linked(synced):
    warehouse, world, _ = synced
    data = world.vendors["mobilize"]
    listed = [e for e in data.events.values() if e.sponsor_id in data.promoters_of(1)]
    [(events,)] = query(warehouse, "select count(distinct source_event_id) from analytics.events where source = 'mobilize'")
    assert events == len(listed) and any(e.visibility == "PRIVATE" for e in listed)
    assert any(e.approval_status != "APPROVED" for e in listed)
    [(rsvps, linked)] = query(warehouse, """select count(*), count(event_id) from analytics.attendances
                                            where source = 'mobilize'""")
    assert rsvps == linked == len(data.attendances)


def test_cancelled_sign_ups_are_cancelled_and_not_counted_as_rsvps(synced):
    warehouse, world, _ = synced
    statuses = [a.status for a in world.vendors["mobilize"].attendances.values()]
    assert query(warehouse, """select count(*) from analytics.attendances
                               where source = 'mobilize' and status = 'cancelled' and source_status = 'CANCELLED'""") == [
        (statuses.count("CANCELLED"),)]
    # rsvp_count counts every tool's RSVPs: exactly the attendances not cancelled, Mobilize's as the world has them
    [(mobilize_rsvps,)] = query(warehouse, """select count(*) from analytics.attendances
                                              where source = 'mobilize' and status <> 'cancelled'""")
    assert mobilize_rsvps == len(statuses) - statuses.count("CANCELLED")
    assert query(warehouse, "select sum(rsvp_count) from analytics.people") == query(
        warehouse, "select count(*) from analytics.attendances where status <> 'cancelled'")


def test_virtual_events_with_a_location_are_virtual_and_no_placeholder_is_an_address(synced):
    warehouse, _, _ = synced
    [(virtual_with_place,)] = query(warehouse, """select count(*) from analytics.events
                                                  where source = 'mobilize' and is_virtual and locality is not null""")
    assert virtual_with_place > 0
    [(raw_placeholders,)] = query(warehouse, f"select count(*) from mobilize.events where location__venue = '{PRIVATE_ADDRESS}'")
    assert raw_placeholders > 0
    assert query(warehouse, """select count(*) from analytics.events
                               where venue like '%address is private%' or address_line_1 like '%address is private%'
                                  or address_line_2 like '%address is private%'""") == [(0,)]


def test_ghost_rows_never_show_as_live_events(synced):
    warehouse, _, _ = synced
    assert query(warehouse, """select count(*) from analytics.events where source = 'mobilize' and status = 'active'
                               and source_event_id in (select cast(id as varchar) from mobilize.incomplete_events)""") == [(0,)]
    assert query(warehouse, "select count(*) from analytics.events where title is null") == [(0,)]


def test_every_tag_and_campaign_of_the_world_is_on_its_events(synced):
    warehouse, world, _ = synced
    data = world.vendors["mobilize"]
    listed = [e for e in data.events.values() if e.sponsor_id in data.promoters_of(1)]
    stored = {(event_id, tuple(tags), campaign) for event_id, tags, campaign in query(
        warehouse, "select distinct source_event_id, tags, campaign from analytics.events where source = 'mobilize'")}
    # the campaign only for the organization's own events: Mobilize shows no one else's
    assert stored == {(str(e.id), tuple(sorted({data.tags[t].name for t in e.tag_ids})),
                       data.event_campaigns[e.event_campaign_id].slug if e.event_campaign_id and e.sponsor_id == 1 else None)
                      for e in listed}
    assert any(tags == () for _, tags, _ in stored) and any(len(tags) > 1 for _, tags, _ in stored)
    assert any(campaign for _, _, campaign in stored)
    assert query(warehouse, "select count(*) from analytics.events where source <> 'mobilize' and tags is not null") == [(0,)]


def test_every_custom_field_answer_of_the_world_is_on_its_rsvp(synced):
    warehouse, world, _ = synced
    data = world.vendors["mobilize"]
    stored = dict(query(warehouse, "select source_attendance_id, custom_fields from analytics.attendances where source = 'mobilize'"))
    own = {a.id: a for a in data.attendances.values() if data.event(a.event_id).sponsor_id == 1}
    answers = {i: json.loads(stored[str(i)]) for i in own}
    assert answers == {i: {data.custom_fields[f].name: value for f, value in a.custom_field_values.items()}
                       for i, a in own.items()}
    assert all(list(answer) == sorted(answer) for answer in answers.values())
    values = [value for answer in answers.values() for value in answer.values()]
    assert {True, False, ""} <= set(values) and {} in answers.values()
    # Mobilize withholds the answers to other organizations' events: unknown, not empty
    assert sum(value is None for value in stored.values()) == len(data.attendances) - len(own) > 0
