"""Vendors send records with holes, wrong types, odd shapes, huge strings and broken text.

Each such record must be loaded (repaired or in a variant column, as dlt does) and the marts must
still build: a bad record never crashes a run and never vanishes.
"""

from __future__ import annotations

import pytest

from pipelines.runner import sync, transform
from tests.conftest import query

pytestmark = pytest.mark.integration

HUGE = "Ä" * 2_000_000


def test_malformed_vendor_records_are_loaded_and_the_marts_still_build(sandbox, warehouse):
    data = sandbox.world.vendors["mobilize"]
    # records the API serves with their ids (new people have none; nor have a coordinated organization's RSVPs)
    people = [p for p in data.people.values() if p.has_person_id]
    attendances = [a for a in data.attendances.values()
                   if not data.organizations[data.events[a.event_id].sponsor_id].is_coordinated]
    bad_people = {
        people[0].id: ("given_name", None),  # a hole
        people[1].id: ("family_name", 12345),  # a number where text belongs
        people[2].id: ("email", "bro\udcffken@example.org"),  # half a UTF-16 pair: not encodable as UTF-8
        people[3].id: ("given_name", HUGE),  # 2 million characters
        people[4].id: ("sms_opt_in_status", {"status": "OPT_IN", "since": [2024, 1]}),  # nested, not a string
    }
    for person in people[:5]:
        field_name, value = bad_people[person.id]
        setattr(person, field_name, value)
    attendances[0].attended = "yes"  # text where a boolean belongs
    attendances[1].referrer = [1, {"utm_source": ["a", "b"]}]  # a list where an object belongs

    [result] = sync(["mobilize"], warehouse, echo=lambda _: None)
    assert result.status == "loaded", result.message

    loaded = {row[0]: row for row in query(warehouse, f"""
        select id, given_name, family_name, length(given_name) from mobilize.people
        where id in ({', '.join(map(str, bad_people))})""")}
    assert set(loaded) == set(bad_people), "every malformed person is loaded"
    assert loaded[people[3].id][3] == len(HUGE)
    [(email,)] = query(warehouse, f"""
        select email_addresses->>'$[0].address' from mobilize.people where id = {people[2].id}""")
    assert email == "bro\ufffdken@example.org"
    [(rsvps,)] = query(warehouse, f"""
        select count(*) from mobilize.attendances where id in ({attendances[0].id}, {attendances[1].id})""")
    assert rsvps == 2

    assert transform(warehouse) == 0
    [(in_marts,)] = query(warehouse, f"""
        select count(*) from analytics.person_identities
        where source = 'mobilize' and source_person_id in ({', '.join(f"'{i}'" for i in bad_people)})""")
    assert in_marts == len(bad_people)
