"""ControlShift rows in the marts: people, identities, events with locations, RSVPs, opt-outs.

Each test runs on the shared demo of each engine (`engine_demo`: DuckDB, then Postgres), its SQL
written to run on both."""

from __future__ import annotations

import pytest

from pipelines.evaluation import score_identities
from tests.postgres_fixtures import query

pytestmark = pytest.mark.integration


@pytest.fixture
def built(engine_demo, demo_world):  # noqa: ANN001, ANN201
    """The shared demo on one engine: every source synced once from one world, then the marts."""
    return engine_demo, demo_world


def test_attendees_are_rsvps_linked_to_people_and_events(built) -> None:  # noqa: ANN001
    warehouse, world = built
    [(rsvps, linked)] = query(warehouse, """
        select count(*), count(*) filter (where person_id is not null and event_id is not null)
        from analytics.attendances where source = 'controlshift'""")
    [(raw,)] = query(warehouse, "select count(*) from controlshift.attendees")
    assert rsvps == linked == raw > 0


def test_events_carry_their_location_and_cancellation(built) -> None:  # noqa: ANN001
    warehouse, world = built
    events = world.vendors["controlshift"].rows["events"]
    rows = {event_id: (status, locality, latitude) for event_id, status, locality, latitude in query(warehouse, """
        select source_event_id, status, locality, latitude from analytics.events where source = 'controlshift'""")}
    assert set(rows) == {str(i) for i in events}
    for event_id, event in events.items():
        status, locality, latitude = rows[str(event_id)]
        assert status == ("cancelled" if event["cancelled_at"] else "active")
        assert locality is not None and latitude is not None


def test_people_from_controlshift_overlap_other_tools(built) -> None:  # noqa: ANN001
    warehouse, world = built
    [(both,)] = query(warehouse, "select count(*) from analytics.people where 'controlshift' = any(sources) "
                                 "and 'mobilize' = any(sources)")
    assert both > 0
    kinds = {kind for (kind,) in query(warehouse, """
        select distinct split_part(source_person_id, ':', 1) from analytics.person_identities
        where source = 'controlshift'""")}
    assert kinds == {"members", "signatures", "attendees", "users"}
    [(signed,)] = query(warehouse, "select sum(petitions_signed_count) from analytics.people")
    assert signed > 0
    scores = score_identities(warehouse, world.truth)
    assert scores.good_enough, scores.line()


def test_organisation_unsubscribes_opt_people_out(built) -> None:  # noqa: ANN001
    warehouse, world = built
    data = world.vendors["controlshift"]
    unsubscribed = {data.rows["members"][u["member_id"]]["email"] for u in data.rows["unsubscribes"].values()}
    assert unsubscribed
    statuses = dict(query(warehouse, """
        select identities.source_person_id, people.is_email_subscribed
        from analytics.person_identities as identities join analytics.people using (person_id)
        where identities.source = 'controlshift' and identities.source_person_id like 'members:%'"""))
    member_ids = {row["email"]: member_id for member_id, row in data.rows["members"].items()}
    assert all(statuses[f"members:{member_ids[email]}"] is False for email in unsubscribed)


def test_attended_and_no_show_attendees_count_as_such(built) -> None:  # noqa: ANN001
    warehouse, world = built
    statuses = {str(i): row["attending_status"] for i, row in world.vendors["controlshift"].rows["attendees"].items()}
    assert {"attended", "no_show", "confirmed"} <= set(statuses.values())
    marts = {row_id: (status, attended) for row_id, status, attended in query(warehouse, """
        select source_attendance_id, status, attended from analytics.attendances where source = 'controlshift'""")}
    expected = {"attended": ("attended", True), "no_show": ("no_show", False), "not_attending": ("cancelled", None),
                "attending": ("accepted", None), "confirmed": ("accepted", None)}
    assert marts == {row_id: expected[status] for row_id, status in statuses.items()}


def test_soft_deleted_signatures_are_neither_signatures_nor_consent(built) -> None:  # noqa: ANN001
    warehouse, world = built
    # as loaded: a deletion shows in the next full export
    deleted = {f"signatures:{i}" for (i,) in query(warehouse, "select id from controlshift.signatures "
                                                              "where deleted_at is not null")}
    assert deleted, "the sandbox soft-deletes some signatures"
    counted = {person for (person,) in query(warehouse, """
        select source_person_id from analytics.actions
        where source = 'controlshift' and action_type = 'petition_signature'""")}
    assert counted and not counted & deleted
    consent = dict(query(warehouse, """
        select source_person_id, is_email_subscribed from intermediate.int_person_records__unioned
        where source = 'controlshift' and source_person_id like 'signatures:%'"""))
    assert all(consent[person] is None for person in deleted)
