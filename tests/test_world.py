"""The sandbox world: seeded, scalable, noisy the way real data is, truth kept aside."""

import re

from sandbox.mobilize import person_key
from sandbox.world import build_world, generate_persons


def test_same_seed_same_world():
    first, second = build_world(people=200, seed=3), build_world(people=200, seed=3)
    assert first.persons == second.persons
    assert first.truth == second.truth
    assert build_world(people=200, seed=4).persons != first.persons


def test_scales_and_has_every_kind_of_record():
    world = build_world(people=1000, seed=1)
    mobilize = world.vendors["mobilize"]
    assert len(world.persons) == 1000
    assert mobilize.organizations[1].promotes, "the primary organization promotes others"
    assert any(len(event.timeslots) > 1 for event in mobilize.events.values())
    assert mobilize.deleted_events
    attended = {a.attended for a in mobilize.attendances.values()}
    assert attended == {True, False, None}
    assert any(a.referrer["utm_source"] for a in mobilize.attendances.values())
    events = list(mobilize.events.values())
    assert any(e.tag_ids for e in events) and any(not e.tag_ids for e in events)
    assert any(e.event_campaign_id for e in events) and any(e.custom_field_ids for e in events)
    answers = [v for a in mobilize.attendances.values() for v in a.custom_field_values.values()]
    assert {True, False, ""} <= set(answers) and any(isinstance(v, str) and v for v in answers)


def test_households_share_an_email_between_different_people():
    persons = generate_persons(2000, seed=5)
    by_email: dict[str, list] = {}
    for person in persons:
        by_email.setdefault(person.email, []).append(person)
    shared = [group for group in by_email.values() if len(group) > 1]
    assert shared
    assert all(len({p.given_name for p in group}) == len(group) for group in shared)


def test_vendor_copies_carry_realistic_noise():
    world = build_world(people=2000, seed=2)
    people = list(world.vendors["mobilize"].people.values())
    phones = [p.phone for p in people if p.phone]
    assert any(re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", p) for p in phones)
    assert any(re.fullmatch(r"\+1\d{10}", p) for p in phones)
    assert any(re.fullmatch(r"\d{3}\.\d{3}\.\d{4}", p) for p in phones)
    emails = [p.email for p in people if p.email]
    assert any(e != e.strip() for e in emails), "surrounding whitespace"
    assert any(e != e.lower() for e in emails), "mixed case"
    truth = {source_id: key for source, source_id, key in world.truth if source == "mobilize"}
    persons = {p.key: p for p in world.persons}
    nicknamed = [p for p in people if p.given_name.strip().lower() != persons[truth[person_key(p)]].given_name.lower()]
    assert nicknamed, "some people sign up under a nickname"


def test_truth_maps_every_source_record_to_a_person(tmp_path):
    world = build_world(people=300, seed=9)
    keys = {p.key for p in world.persons}
    assert {person_key(p) for p in world.vendors["mobilize"].people.values()} == {
        sid for source, sid, _ in world.truth if source == "mobilize"}
    assert all(key in keys for _, _, key in world.truth)
    world.write_truth(tmp_path / "truth.csv")
    assert (tmp_path / "truth.csv").read_text().startswith("source,source_person_id,person_key")


def test_advance_changes_records_and_moves_the_clock():
    world = build_world(people=500, seed=4)
    mobilize = world.vendors["mobilize"]
    before = world.clock.now
    deleted_before = len(mobilize.deleted_events)
    world.advance(0.05)
    assert world.clock.now > before
    assert any(p.modified_date == world.clock.now for p in mobilize.people.values())
    assert len(mobilize.deleted_events) > deleted_before
