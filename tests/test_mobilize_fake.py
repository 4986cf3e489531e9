"""The fake MobilizeAmerica API serves the world as the live API answers (see its docstring)."""

import pytest
import requests

from sandbox import mobilize
from sandbox.world import build_world

KEY = "test-key"


@pytest.fixture(scope="module")
def api():
    world = build_world(people=400, seed=21)
    with mobilize.serve(world, KEY, rate_limit=None) as service:
        service.world = world
        yield service


ALL_EVENTS = {"visibility": mobilize.VISIBILITIES, "approval_status": mobilize.APPROVAL_STATUSES}


def get(api, path, key=KEY, **params):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(f"{api.url}/api/v1/{path}", params=params, headers=headers, timeout=10)


def test_paging_defaults_to_25_with_count_next_and_previous(api):
    first = get(api, "organizations/1/people").json()
    assert len(first["data"]) == 25 and first["previous"] is None
    assert first["count"] == len(api.world.vendors["mobilize"].people)
    second = requests.get(first["next"], headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    assert second["previous"] and {p["user_id"] for p in second["data"]}.isdisjoint({p["user_id"] for p in first["data"]})
    assert "cursor=" in first["next"] and "page=" not in first["next"]
    last_page = -(-first["count"] // 25)
    assert get(api, "organizations/1/people", page=last_page).json()["next"] is None


def test_organization_events_include_promoted_organizations_events(api):
    data = api.world.vendors["mobilize"]
    listed = get(api, "organizations/1/events", per_page=1000, **ALL_EVENTS).json()["data"]
    sponsors = {event["sponsor"]["id"] for event in listed if event["sponsor"]}
    assert sponsors == {1, *data.organizations[1].promotes}
    everything = get(api, "events", per_page=1000, key=None).json()
    assert everything["count"] == sum(1 for e in data.events.values()
                                      if e.visibility == "PUBLIC" and e.approval_status == "APPROVED")
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
    assert platform["count"] == sum(1 for d in data.deleted_events.values()
                                    if d.event.visibility == "PUBLIC" and d.event.approval_status == "APPROVED")
    org = get(api, "organizations/1/events/deleted", per_page=1000, key=None).json()["data"]
    assert {d["id"] for d in org} <= set(data.deleted_events)
    everything = get(api, "organizations/1/events/deleted", per_page=1000, **ALL_EVENTS).json()["data"]
    assert everything and set(everything[0]) == {"id", "deleted_date"}
    assert len(everything) == sum(1 for d in data.deleted_events.values() if d.event.sponsor_id in data.promoters_of(1))


def test_attendances_for_the_organization_and_not_for_one_person(api):
    all_rsvps = get(api, "organizations/1/attendances", per_page=1000).json()
    assert all_rsvps["count"] > 0
    sample = next(a for a in all_rsvps["data"] if "id" in a and a["person"]["id"] is not None)
    assert {"person", "event", "timeslot", "sponsor", "status", "attended", "referrer"} <= set(sample)
    assert "summary" not in sample["event"]
    # removed from the live API in 2019
    assert get(api, f"organizations/1/people/{sample['person']['id']}/attendances").status_code == 404


def test_promoted_organizations(api):
    promoted = get(api, "organizations/1/promoted_organizations").json()["data"]
    assert {o["id"] for o in promoted} == set(api.world.vendors["mobilize"].organizations[1].promotes)


@pytest.mark.parametrize("path", ["organizations/1/people", "organizations/1/attendances",
                                  "organizations/1/promoted_organizations"])
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


def test_org_events_are_public_and_approved_unless_asked(api):
    data = api.world.vendors["mobilize"]
    default = get(api, "organizations/1/events", per_page=1000).json()["data"]
    assert all(e["visibility"] == "PUBLIC" and e["approval_status"] == "APPROVED" for e in default if e["id"] and e["title"])
    everything = get(api, "organizations/1/events", per_page=1000, **ALL_EVENTS).json()["data"]
    listed = {e["id"] for e in everything if e["title"]}
    assert listed == {e.id for e in data.events.values() if e.sponsor_id in data.promoters_of(1)}
    assert {e["visibility"] for e in everything if e["title"]} == {"PUBLIC", "PRIVATE"}
    assert len({e["approval_status"] for e in everything if e["title"]}) > 2
    assert get(api, "organizations/1/events", key=None, visibility="PRIVATE").status_code == 403


def test_ghost_rows_are_deleted_events_with_null_fields_in_every_listing(api):
    data = api.world.vendors["mobilize"]
    ghosts = [e for e in get(api, "organizations/1/events", per_page=1000, updated_since=2**40, **ALL_EVENTS).json()["data"]]
    assert ghosts and all(g["modified_date"] is None and g["title"] is None and g["sponsor"] is None for g in ghosts)
    assert all(g["id"] in data.deleted_events and data.deleted_events[g["id"]].ghost for g in ghosts)
    assert all(s["id"] is None and s["start_date"] and s["end_date"] for g in ghosts for s in g["timeslots"])


def test_deleted_events_updated_since_filters_by_the_events_modified_date(api):
    data = api.world.vendors["mobilize"]
    deleted = next(d for d in data.deleted_events.values() if d.event.modified_date < d.deleted_date
                   and d.event.sponsor_id in data.promoters_of(1))
    since = deleted.event.modified_date + 1
    listed = get(api, "organizations/1/events/deleted", per_page=1000, updated_since=since, **ALL_EVENTS).json()["data"]
    assert deleted.event.id not in {d["id"] for d in listed}


def test_events_carry_is_virtual_and_private_addresses_read_as_the_placeholder(api):
    everything = get(api, "organizations/1/events", per_page=1000, **ALL_EVENTS).json()["data"]
    assert any(e["is_virtual"] and e["location"] for e in everything)
    private = [e for e in everything if e["address_visibility"] == "PRIVATE" and e["sponsor"]["id"] != 1]
    assert private and all(e["location"]["venue"] == mobilize.PRIVATE_ADDRESS
                           and e["location"]["address_lines"][0] == mobilize.PRIVATE_ADDRESS for e in private)
    own = [e for e in everything if e["address_visibility"] == "PRIVATE" and e["sponsor"]["id"] == 1]
    assert all(e["location"]["venue"] != mobilize.PRIVATE_ADDRESS for e in own)


def test_attendances_have_statuses_and_no_ids_for_a_coordinated_organizations_events(api):
    rsvps = get(api, "organizations/1/attendances", per_page=1000).json()["data"]
    assert {a["status"] for a in rsvps} == {"REGISTERED", "CONFIRMED", "CANCELLED"}
    idless = [a for a in rsvps if "id" not in a]
    assert idless and all(set(a["event"]) == {"event_type"} and "id" not in a["timeslot"] for a in idless)
    assert all(a["id"] for a in rsvps if "id" in a)
    new_people = [a["person"] for a in rsvps if a["person"]["person_id"] is None]
    assert new_people and all(p["id"] is None and p["user_id"] for p in new_people)



def test_events_carry_their_tags_and_only_the_organizations_own_events_their_campaign(api):
    data = api.world.vendors["mobilize"]
    listed = [e for e in get(api, "organizations/1/events", per_page=1000, **ALL_EVENTS).json()["data"] if e["title"]]
    by_id = {e["id"]: e for e in listed}
    assert {e["id"]: [(t["id"], t["name"]) for t in e["tags"]] for e in listed} == {
        i: [(t, data.tags[t].name) for t in data.events[i].tag_ids] for i in by_id}
    assert any(e["tags"] == [] for e in listed) and any(len(e["tags"]) > 1 for e in listed)
    # README "Event object": the campaign only in the authenticated organization listing, for its own events
    own = [e for e in listed if e["sponsor"]["id"] == 1]
    assert any(e["event_campaign"] for e in own) and any(e["event_campaign"] is None for e in own)
    for event in own:
        campaign_id = data.events[event["id"]].event_campaign_id
        assert event["event_campaign"] == (None if campaign_id is None else {
            "id": campaign_id, "slug": data.event_campaigns[campaign_id].slug,
            "event_create_page_url": event["event_campaign"]["event_create_page_url"]})
    promoted = [e for e in listed if e["sponsor"]["id"] != 1]
    assert any(data.events[e["id"]].event_campaign_id for e in promoted)
    assert all(e["event_campaign"] is None for e in promoted)
    public = get(api, "organizations/1/events", key=None, per_page=1000).json()["data"]
    assert all(e["event_campaign"] is None for e in public if e["title"])


def test_tag_id_and_event_campaign_id_filter_the_listings(api):
    data = api.world.vendors["mobilize"]
    event = next(e for e in data.events.values() if e.sponsor_id == 1 and e.tag_ids and e.event_campaign_id
                 and e.visibility == "PUBLIC" and e.approval_status == "APPROVED")
    tagged = requests.get(f"{api.url}/api/v1/organizations/1/events", timeout=10, headers={"Authorization": f"Bearer {KEY}"},
                          params=[("tag_id", event.tag_ids[0]), ("tag_id", 99999), ("per_page", 1000)]).json()["data"]
    assert event.id in {e["id"] for e in tagged}
    assert all(event.tag_ids[0] in {t["id"] for t in e["tags"]} for e in tagged)
    assert get(api, "events", key=None, tag_id=99999).json()["count"] == 0
    in_campaign = get(api, "organizations/1/events", per_page=1000, event_campaign_id=event.event_campaign_id).json()["data"]
    assert event.id in {e["id"] for e in in_campaign}
    assert {e["event_campaign"]["id"] for e in in_campaign} == {event.event_campaign_id}
    assert get(api, "events", key=None, tag_id="gotv").status_code == 400


def test_attendances_carry_custom_field_values_only_for_the_organizations_own_events(api):
    data = api.world.vendors["mobilize"]
    rsvps = get(api, "organizations/1/attendances", per_page=1000).json()["data"]
    own = [a for a in rsvps if "id" in a and data.events[data.attendances[a["id"]].event_id].sponsor_id == 1]
    assert own and all("custom_signup_field_values" in a for a in own)
    assert all("custom_signup_field_values" not in a for a in rsvps if a not in own)
    answers = [v for a in own for v in a["custom_signup_field_values"]]
    assert answers and all(set(v) == {"custom_field_id", "custom_field_name", "text_value", "boolean_value"}
                           and (v["text_value"] is None) != (v["boolean_value"] is None) for v in answers)
    assert {v["boolean_value"] for v in answers} >= {True, False} and "" in {v["text_value"] for v in answers}
    assert any(a["custom_signup_field_values"] == [] for a in own)
    for a in own:
        expected = data.attendances[a["id"]].custom_field_values
        assert {v["custom_field_id"]: v["text_value"] if v["boolean_value"] is None else v["boolean_value"]
                for v in a["custom_signup_field_values"]} == expected
    # the event embedded in an attendance carries its tags, never its campaign
    assert all(a["event"]["event_campaign"] is None for a in own)


def test_advance_retags_and_moves_campaigns_with_the_modified_date_bumped():
    world = build_world(people=200, seed=4)
    data = world.vendors["mobilize"]
    before = {i: (list(e.tag_ids), e.event_campaign_id, e.modified_date) for i, e in data.events.items()}
    world.advance(0.1)
    changed = {i for i, (tags, campaign, _) in before.items()
               if i in data.events and (data.events[i].tag_ids, data.events[i].event_campaign_id) != (tags, campaign)}
    assert changed and all(data.events[i].modified_date == world.clock.now for i in changed)
    new = data.events[max(data.events)]
    assert all(a.custom_field_values.keys() <= set(new.custom_field_ids)
               for a in data.attendances.values() if a.event_id == new.id)

def test_rate_limit_answers_429_past_15_requests_in_one_second(stopped_fake_clock):
    world = build_world(people=50, seed=3)
    with mobilize.serve(world, KEY) as limited:
        answers = [requests.get(f"{limited.url}/api/v1/organizations", timeout=10).status_code for _ in range(20)]
    assert answers[:15] == [200] * 15 and 429 in answers[15:]
