"""`python -m pipelines sync mobilize` on a fake that answers like the live API: the marts are right.

Private and unapproved events, cancelled sign-ups, virtual events with a location, private-address
placeholders, ghost rows, id-less RSVPs, event tags and campaigns and custom sign-up field answers
are all on by default in the fake.
"""

import json
import os
import subprocess
import sys

import pytest

from pipelines import REPO_ROOT
from sandbox import Sandbox
from sandbox.mobilize import PRIVATE_ADDRESS
from tests.conftest import query

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("mobilize_marts") / "warehouse.duckdb"
    with Sandbox(people=300, seed=11) as sandbox:
        env = {**os.environ, **sandbox.env(), "WAREHOUSE_PATH": str(warehouse)}
        finished = subprocess.run([sys.executable, "-m", "pipelines", "sync", "mobilize"], env=env, cwd=REPO_ROOT,
                                  capture_output=True, text=True, timeout=600)
        yield warehouse, sandbox, finished


def test_the_sync_exits_0_with_dbt_build_passing_and_counts_the_incomplete_rows(synced):
    _, _, finished = synced
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "incomplete_events 1" in finished.stdout


def test_private_and_unapproved_events_are_in_the_marts_with_every_rsvp_linked(synced):
    warehouse, sandbox, _ = synced
    data = sandbox.world.vendors["mobilize"]
    listed = [e for e in data.events.values() if e.sponsor_id in data.promoters_of(1)]
    [(events,)] = query(warehouse, "select count(distinct source_event_id) from analytics.events where source = 'mobilize'")
    assert events == len(listed) and any(e.visibility == "PRIVATE" for e in listed)
    assert any(e.approval_status != "APPROVED" for e in listed)
    [(rsvps, linked)] = query(warehouse, """select count(*), count(event_id) from analytics.attendances
                                            where source = 'mobilize'""")
    assert rsvps == linked == len(data.attendances)


def test_cancelled_sign_ups_are_cancelled_and_not_counted_as_rsvps(synced):
    warehouse, sandbox, _ = synced
    statuses = [a.status for a in sandbox.world.vendors["mobilize"].attendances.values()]
    assert query(warehouse, """select count(*) from analytics.attendances
                               where status = 'cancelled' and source_status = 'CANCELLED'""") == [
        (statuses.count("CANCELLED"),)]
    assert query(warehouse, "select sum(rsvp_count) from analytics.people") == [
        (len(statuses) - statuses.count("CANCELLED"),)]


def test_virtual_events_with_a_location_are_virtual_and_no_placeholder_is_an_address(synced):
    warehouse, _, _ = synced
    [(virtual_with_place,)] = query(warehouse, """select count(*) from analytics.events
                                                  where is_virtual and locality is not null""")
    assert virtual_with_place > 0
    [(raw_placeholders,)] = query(warehouse, f"select count(*) from mobilize.events where location__venue = '{PRIVATE_ADDRESS}'")
    assert raw_placeholders > 0
    assert query(warehouse, """select count(*) from analytics.events
                               where venue like '%address is private%' or address_line_1 like '%address is private%'
                                  or address_line_2 like '%address is private%'""") == [(0,)]


def test_ghost_rows_never_show_as_live_events(synced):
    warehouse, _, _ = synced
    assert query(warehouse, """select count(*) from analytics.events where status = 'active'
                               and source_event_id in (select cast(id as varchar) from mobilize.incomplete_events)""") == [(0,)]
    assert query(warehouse, "select count(*) from analytics.events where title is null") == [(0,)]


def test_every_tag_and_campaign_of_the_world_is_on_its_events(synced):
    warehouse, sandbox, _ = synced
    data = sandbox.world.vendors["mobilize"]
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
    warehouse, sandbox, _ = synced
    data = sandbox.world.vendors["mobilize"]
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
