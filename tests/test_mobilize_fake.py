"""The fake MobilizeAmerica API serves the world as the API document describes."""

import pytest
import requests

from pipelines.sandbox import mobilize
from pipelines.sandbox.world import build_world

KEY = "test-key"


@pytest.fixture(scope="module")
def api():
    world = build_world(people=400, seed=21)
    with mobilize.serve(world, KEY) as service:
        service.world = world
        yield service


def get(api, path, key=KEY, **params):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(f"{api.url}/api/v1/{path}", params=params, headers=headers, timeout=10)


def test_paging_defaults_to_25_with_count_next_and_previous(api):
    first = get(api, "organizations/1/people").json()
    assert len(first["data"]) == 25 and first["previous"] is None
    assert first["count"] == len(api.world.vendors["mobilize"].people)
    second = requests.get(first["next"], headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    assert second["previous"] and {p["id"] for p in second["data"]}.isdisjoint({p["id"] for p in first["data"]})
    last_page = -(-first["count"] // 25)
    assert get(api, "organizations/1/people", page=last_page).json()["next"] is None


def test_organization_events_include_promoted_organizations_events(api):
    data = api.world.vendors["mobilize"]
    listed = get(api, "organizations/1/events", per_page=1000).json()["data"]
    sponsors = {event["sponsor"]["id"] for event in listed}
    assert sponsors == {1, *data.organizations[1].promotes}
    everything = get(api, "events", per_page=1000, key=None).json()
    assert everything["count"] == len(data.events)
    only_four = get(api, "events", organization_id=4, key=None).json()["data"]
    assert only_four and all(e["sponsor"]["id"] == 4 for e in only_four)


def test_updated_since_filters_by_modified_date(api):
    events = get(api, "events", per_page=1000, key=None).json()["data"]
    cutoff = sorted(e["modified_date"] for e in events)[len(events) // 2]
    recent = get(api, "events", per_page=1000, updated_since=cutoff, key=None).json()["data"]
    assert recent and all(e["modified_date"] >= cutoff for e in recent)
    assert len(recent) < len(events)


def test_timeslot_comparison_filters_repeat_and_trim_timeslots(api):
    slots = sorted(s.start_date for e in api.world.vendors["mobilize"].events.values() for s in e.timeslots)
    low, high = slots[len(slots) // 4], slots[3 * len(slots) // 4]
    response = requests.get(f"{api.url}/api/v1/events", timeout=10,
                            params=[("timeslot_start", f"gte_{low}"), ("timeslot_start", f"lt_{high}"), ("per_page", 1000)])
    events = response.json()["data"]
    assert events
    assert all(low <= s["start_date"] < high for e in events for s in e["timeslots"])
    ends = get(api, "events", timeslot_end=f"lte_{low}", per_page=1000, key=None).json()["data"]
    assert all(s["end_date"] <= low for e in ends for s in e["timeslots"])


def test_deleted_events_both_ways(api):
    data = api.world.vendors["mobilize"]
    platform = get(api, "events/deleted", per_page=1000, key=None).json()
    assert platform["count"] == len(data.deleted_events)
    org = get(api, "organizations/1/events/deleted", per_page=1000, key=None).json()["data"]
    assert org and {d["id"] for d in org} <= set(data.deleted_events)
    assert set(org[0]) == {"id", "deleted_date"}


def test_attendances_for_the_organization_and_for_one_person(api):
    all_rsvps = get(api, "organizations/1/attendances", per_page=1000).json()
    assert all_rsvps["count"] > 0
    sample = all_rsvps["data"][0]
    assert {"person", "event", "timeslot", "sponsor", "attended", "referrer"} <= set(sample)
    person_id = sample["person"]["id"]
    theirs = get(api, f"organizations/1/people/{person_id}/attendances").json()["data"]
    assert theirs and all(a["person"]["id"] == person_id for a in theirs)


def test_promoted_organizations(api):
    promoted = get(api, "organizations/1/promoted_organizations").json()["data"]
    assert {o["id"] for o in promoted} == set(api.world.vendors["mobilize"].organizations[1].promotes)


@pytest.mark.parametrize("path", ["organizations/1/people", "organizations/1/attendances",
                                  "organizations/1/promoted_organizations", "organizations/1/people/1001/attendances"])
def test_authenticated_endpoints_answer_403_without_the_right_key(api, path):
    for key in (None, "wrong"):
        response = get(api, path, key=key)
        assert response.status_code == 403
        assert response.json()["data"] is None and response.json()["error"]


def test_public_endpoints_need_no_key(api):
    assert get(api, "organizations", key=None).status_code == 200
    assert get(api, "events", key=None).status_code == 200


def test_bad_parameters_answer_the_documented_error_shape(api):
    response = get(api, "events", organization_id="hello", key=None)
    assert response.status_code == 400
    assert response.json() == {"data": None, "error": {"organization_id": {"0": ["A valid integer is required."]}}}
    assert get(api, "events", updated_since="yesterday", key=None).status_code == 400
    assert get(api, "events", timeslot_start="after_5", key=None).status_code == 400
    assert get(api, "events", page=9999, key=None).status_code == 404
    assert get(api, "organizations/999/events", key=None).status_code == 404
