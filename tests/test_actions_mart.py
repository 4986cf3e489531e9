"""`analytics.actions` against the world the demo was built from: every action once, of the right
type, linked to the right person; donation totals per person; `people`'s activity columns.

Each test runs on the shared demo of each engine (`engine_demo`: DuckDB, then Postgres), its SQL
written to run on both."""

import os
from collections import Counter
from decimal import Decimal

import pytest

from pipelines.evaluation import ACTIONS, score_identities
from sandbox.mobilize import person_key
from tests.postgres_fixtures import query

# on the shared demo warehouses and their world, synced once: nothing waits for a sweep
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(demo_world):  # noqa: ANN001, ANN201
    return demo_world


def _world_actions(world) -> Counter:
    """(source, action type, world person key) of every action the world holds, counted."""
    truth = {(source, record): key for source, record, key in world.truth}
    actions: Counter = Counter()

    def add(source: str, action_type: str, record: str) -> None:
        actions[(source, action_type, truth[(source, record)])] += 1

    mobilize = world.vendors["mobilize"]
    for attendance in mobilize.attendances.values():
        record = person_key(mobilize.people[attendance.person_id])
        if attendance.status != "CANCELLED":
            add("mobilize", "rsvp", record)
        if attendance.attended:
            add("mobilize", "attendance", record)

    action_network = world.vendors["action_network"]
    for attendance in action_network.attendances.values():
        if attendance.attended or attendance.status != "declined":
            add("action_network", "rsvp", attendance.person_id)
        if attendance.attended:
            add("action_network", "attendance", attendance.person_id)
    for action_type, records in (("petition_signature", action_network.signatures),
                                 ("form_submission", action_network.submissions),
                                 ("donation", action_network.donations),
                                 ("outreach", action_network.outreaches)):
        for action in records.values():
            add("action_network", action_type, action.person_id)

    controlshift = world.vendors["controlshift"].rows
    for attendee in controlshift["attendees"].values():
        if attendee["attending_status"] != "not_attending":
            add("controlshift", "rsvp", f"attendees:{attendee['id']}")
        if attendee["attending_status"] == "attended":
            add("controlshift", "attendance", f"attendees:{attendee['id']}")
    return actions


def _exported_controlshift_signatures(warehouse) -> Counter:
    """ControlShift signatures as its exports give them: a deletion in the world after the last full
    export (hard, or `deleted_at` set) reaches the warehouse with the next one, by design."""
    return Counter(("controlshift", "petition_signature", f"signatures:{signature_id}") for (signature_id,) in query(
        warehouse, "select id from controlshift.signatures where deleted_at is null"))


def test_every_action_of_the_world_appears_once_with_its_type_and_person(engine_demo, world, report):
    truth = {(source, record): key for source, record, key in world.truth}
    loaded = Counter((source, action_type, truth[(source, record)]) for source, action_type, record in query(
        engine_demo, "select source, action_type, source_person_id from analytics.actions"))
    expected = _world_actions(world) + Counter(
        (source, action_type, truth[(source, record)])
        for source, action_type, record in _exported_controlshift_signatures(engine_demo))
    assert {key[:2] for key in expected} == {key[:2] for key in loaded}, "every source's every kind of action"
    assert loaded == expected
    scores = score_identities(engine_demo, world.truth, rows=ACTIONS)
    report(f"actions ({os.environ['WAREHOUSE_ENGINE']}): " + scores.line())
    assert scores.records_without_truth == 0 and scores.good_enough, scores.line()


def test_donation_totals_per_person_equal_the_worlds(engine_demo, world):
    truth = {(source, record): key for source, record, key in world.truth}
    donations = world.vendors["action_network"].donations.values()
    expected: Counter = Counter()
    for donation in donations:
        expected[truth[("action_network", donation.person_id)]] += Decimal(donation.amount)
    # each person's total, keyed by the world person behind the records whose donations it adds up
    totals = query(engine_demo, """
        select p.total_donated, array_agg(distinct a.source_person_id)
        from analytics.people as p
        join analytics.actions as a on a.person_id = p.person_id and a.action_type = 'donation'
        group by p.person_id, p.total_donated""")
    loaded = {}
    for total, records in totals:
        keys = {truth[("action_network", record)] for record in records}
        assert len(keys) == 1, f"one person's donations come from {len(keys)} world people"
        loaded[keys.pop()] = total
    assert loaded == expected
    [(non_donors,)] = query(engine_demo, "select count(*) from analytics.people where donation_count = 0 "
                                            "and total_donated <> 0")
    assert non_donors == 0


def test_people_activity_columns_agree_with_actions(engine_demo):
    mismatches = query(engine_demo, """
        with per_person as (
            select
                person_id,
                count(*) filter (where action_type = 'rsvp') as rsvps,
                count(*) filter (where action_type = 'form_submission') as submissions,
                count(*) filter (where action_type = 'donation') as donations,
                count(*) filter (where action_type = 'outreach') as outreaches,
                min(occurred_at) as first_at,
                max(occurred_at) as last_at,
                array_agg(distinct source order by source) as tools
            from analytics.actions
            group by person_id
        )
        select p.person_id
        from analytics.people as p
        left join per_person as a using (person_id)
        where p.rsvp_count <> coalesce(a.rsvps, 0)
            or p.form_submission_count <> coalesce(a.submissions, 0)
            or p.donation_count <> coalesce(a.donations, 0)
            or p.outreach_count <> coalesce(a.outreaches, 0)
            or p.first_action_at is distinct from a.first_at
            or p.last_action_at is distinct from a.last_at
            or p.action_sources <> coalesce(a.tools, cast(array[] as text[]))""")
    assert mismatches == []
    [(typed, with_actions)] = query(engine_demo, """
        select count(*) filter (where first_action_type is not null and last_action_type is not null),
               count(*) filter (where first_action_at is not null)
        from analytics.people""")
    assert typed == with_actions > 0


def test_event_actions_point_at_events_and_attendances_happen_when_the_event_starts(engine_demo):
    [(event_actions, linked, attendance_times)] = query(engine_demo, """
        select
            count(*) filter (where a.target_type = 'event'),
            count(e.event_id),
            count(*) filter (where a.action_type = 'attendance' and a.occurred_at = e.start_at)
        from analytics.actions as a
        left join analytics.events as e using (event_id)""")
    assert event_actions == linked > 0
    [(attendances,)] = query(engine_demo, "select count(*) from analytics.actions where action_type = 'attendance'")
    assert attendance_times == attendances
