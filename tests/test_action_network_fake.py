"""The fake Action Network API serves the world as the API documents describe it."""

import re

import pytest
import requests

from pipelines.sandbox import action_network
from pipelines.sandbox.world import build_world

KEY = "test-key"
UUID = re.compile(r"^action_network:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def api():
    world = build_world(people=300, seed=21)
    with action_network.serve(world, KEY, rate_limit=None) as service:
        service.world = world
        yield service


def get(api, path, key=KEY, **params):
    headers = {"OSDI-API-Token": key} if key else {}
    return requests.get(f"{api.url}/api/v2/{path}", params=params, headers=headers, timeout=10)


def follow(api, link):
    return requests.get(link["href"], headers={"OSDI-API-Token": KEY}, timeout=10).json()


def test_people_overlap_the_world_with_noise_and_are_all_in_the_truth():
    world = build_world(people=400, seed=3)
    people = world.vendors["action_network"].people
    truth = {sid: key for source, sid, key in world.truth if source == "action_network"}
    assert set(truth) == set(people)
    assert 0.5 < len(people) / len(world.persons) < 0.8
    mobilize_keys = {key for source, _, key in world.truth if source == "mobilize"}
    assert len(mobilize_keys & set(truth.values())) > 100, "the same people are in both tools"
    persons = {p.key: p for p in world.persons}
    assert any(p.email and p.email != persons[p.key].email for p in people.values()), "emails carry noise"
    assert build_world(people=400, seed=3).vendors["action_network"].people.keys() == people.keys()


def test_people_have_no_totals_and_a_next_link_on_their_last_page(api):
    first = get(api, "people").json()
    assert "total_pages" not in first and "total_records" not in first
    records = first["_embedded"]["osdi:people"]
    assert len(records) == first["per_page"] == 25
    assert all(UUID.match(r["identifiers"][0]) for r in records)
    people = len(api.world.vendors["action_network"].people)
    last_page = -(-people // 25)
    last = get(api, "people", page=last_page).json()
    assert last["_embedded"]["osdi:people"] and "next" in last["_links"], "the documented quirk"
    past = follow(api, last["_links"]["next"])
    assert past["_embedded"]["osdi:people"] == [] and "next" not in past["_links"]


def test_other_collections_have_totals_and_end_their_next_links(api):
    data = api.world.vendors["action_network"]
    events = get(api, "events").json()
    assert events["total_records"] == len(data.events)
    assert events["total_pages"] == -(-len(data.events) // 25)
    last = get(api, "events", page=events["total_pages"]).json()
    assert "next" not in last["_links"]
    second = follow(api, events["_links"]["next"])
    assert second["page"] == 2
    assert {e["identifiers"][0] for e in second["_embedded"]["osdi:events"]}.isdisjoint(
        {e["identifiers"][0] for e in events["_embedded"]["osdi:events"]})
    assert get(api, "tags").json()["total_records"] == len(data.tags)
    campaigns = get(api, "event_campaigns").json()["_embedded"]["action_network:event_campaigns"]
    assert len(campaigns) == len(data.event_campaigns)


def test_attendances_and_taggings_hang_under_their_event_and_tag(api):
    data = api.world.vendors["action_network"]
    event_id, attendance_ids = next((e, ids) for e, ids in data.by_event.items() if ids)
    listed = get(api, f"events/{event_id}/attendances", per_page=100).json()
    assert listed["per_page"] == 25, "25 is the most a page holds"
    first = listed["_embedded"]["osdi:attendances"][0]
    assert first["_links"]["osdi:event"]["href"].endswith(event_id)
    person_id = first["_links"]["osdi:person"]["href"].rsplit("/", 1)[-1]
    assert person_id in data.people and listed["total_records"] == len(attendance_ids)
    tag_id = next(t for t, ids in data.by_tag.items() if ids)
    tagging = get(api, f"tags/{tag_id}/taggings").json()["_embedded"]["osdi:taggings"][0]
    assert tagging["_links"]["osdi:tag"]["href"].endswith(tag_id)
    assert get(api, "events/not-an-event/attendances").status_code == 404


def test_odata_modified_date_filter(api):
    events = get(api, "events", per_page=25, page=1).json()["_embedded"]["osdi:events"]
    cutoff = sorted(e["modified_date"] for e in events)[len(events) // 2]
    recent = get(api, "events", filter=f"modified_date gt '{cutoff}'").json()
    assert recent["total_records"] < len(api.world.vendors["action_network"].events)
    assert all(e["modified_date"] > cutoff for e in recent["_embedded"]["osdi:events"])
    by_day = get(api, "events", filter=f"modified_date gt '{cutoff[:10]}' and modified_date lt '2100-01-01'").json()
    assert by_day["total_records"] >= recent["total_records"]
    nxt = get(api, "people", filter="modified_date gt '2000-01-01'").json()["_links"]["next"]["href"]
    assert "filter=modified_date" in nxt, "next links repeat the filter"
    assert get(api, "events", filter="title eq 'x'").status_code == 400


def test_token_is_required(api):
    for key in (None, "wrong"):
        response = get(api, "people", key=key)
        assert response.status_code == 401 and "error" in response.json()


def test_advance_changes_records_and_their_modified_date():
    world = build_world(people=200, seed=8)
    data = world.vendors["action_network"]
    before = len(data.attendances), len(data.events)
    world.advance(0.05)
    now = world.clock.now
    assert len(data.events) == before[1] + 1 and len(data.attendances) > before[0]
    assert sum(1 for p in data.people.values() if p.modified_date == now) >= 0.05 * len(data.people)
    assert any(a.modified_date == now and a.created_date < now for a in data.attendances.values())


def test_four_requests_per_second_is_enforced_with_429():
    world = build_world(people=50, seed=2)
    with action_network.serve(world, KEY) as service:
        statuses = [requests.get(f"{service.url}/api/v2/tags", headers={"OSDI-API-Token": KEY}, timeout=5)
                    for _ in range(8)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and all(int(r.headers["Retry-After"]) >= 1 for r in limited)
