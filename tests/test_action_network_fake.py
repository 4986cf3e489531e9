"""The fake Action Network API serves the world as the API documents describe it."""

import re

import pytest
import requests

from sandbox import action_network
from sandbox.world import build_world

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
    assert events["total_records"] == sum(not e.hosted_by_others for e in data.events.values())
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


def test_a_fifth_request_in_any_one_second_is_answered_429(stopped_fake_clock):
    world = build_world(people=50, seed=2)
    with action_network.serve(world, KEY) as service:
        statuses = [requests.get(f"{service.url}/api/v2/tags", headers={"OSDI-API-Token": KEY}, timeout=5)
                    for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 200, 429]
    assert int(statuses[-1].headers["Retry-After"]) >= 1


def test_the_limit_counts_arrivals_in_a_sliding_second_not_a_refilling_bucket(monkeypatch):
    """Four starts then a fifth 250 ms later: a token bucket lets it through, a vendor counting arrivals does not."""
    from sandbox import fakehttp

    clock = [100.0]
    monkeypatch.setattr(fakehttp.time, "monotonic", lambda: clock[0])
    limit = fakehttp.SlidingWindowLimit(4)
    assert [limit.take() for _ in range(4)] == [0.0] * 4
    clock[0] += 0.25
    assert limit.take() == pytest.approx(0.75)
    clock[0] += 0.75
    assert limit.take() == 0.0


def test_fields_only_action_network_has_are_namespaced(api):
    data = api.world.vendors["action_network"]
    event_id = next(e for e, ids in data.by_event.items() if ids and not data.events[e].hosted_by_others)
    rsvp = get(api, f"events/{event_id}/attendances").json()["_embedded"]["osdi:attendances"][0]
    assert {"action_network:referrer_data", "action_network:person_id", "action_network:event_id"} <= set(rsvp)
    assert "referrer_data" not in rsvp and {"source", "referrer", "website"} <= set(rsvp["action_network:referrer_data"])
    assert "action_network:hidden" in get(api, f"events/{event_id}").json()


def test_people_carry_every_email_and_phone_status():
    world = build_world(people=1000, seed=21)
    people = world.vendors["action_network"].people.values()
    assert {p.email_status for p in people if p.email} == set(action_network.EMAIL_STATUSES)
    assert {p.phone_status for p in people if p.phone} == set(action_network.PHONE_STATUSES)
    assert sum(p.email_status == "subscribed" for p in people) / len(people) > 0.8


def test_tags_and_taggings_reject_an_odata_filter(api):
    tag_id = next(iter(api.world.vendors["action_network"].tags))
    person_id = next(iter(api.world.vendors["action_network"].people))
    since = "modified_date gt '2020-01-01'"
    for path in ("tags", f"tags/{tag_id}/taggings", f"people/{person_id}/taggings"):
        assert get(api, path, filter=since).status_code == 400
        assert get(api, path).status_code == 200
    assert get(api, "events", filter=since).status_code == 200


def test_events_hosted_in_a_sponsored_campaign_are_reached_only_through_it(api):
    data = api.world.vendors["action_network"]
    hosted = next(e for e in data.events.values() if e.hosted_by_others and data.by_event.get(e.id))
    listed = {r["identifiers"][0] for r in get(api, "events", per_page=25).json()["_embedded"]["osdi:events"]}
    pages = -(-len(data.events) // 25)
    for page in range(2, pages + 1):
        listed |= {r["identifiers"][0] for r in get(api, "events", page=page).json()["_embedded"]["osdi:events"]}
    assert f"action_network:{hosted.id}" not in listed
    campaign = get(api, f"event_campaigns/{hosted.campaign_id}/events").json()
    assert f"action_network:{hosted.id}" in {r["identifiers"][0] for r in campaign["_embedded"]["osdi:events"]}
    assert get(api, f"events/{hosted.id}/attendances").status_code == 404
    rsvps = get(api, f"event_campaigns/{hosted.campaign_id}/events/{hosted.id}/attendances").json()
    assert rsvps["total_records"] == len(data.by_event[hosted.id])


def test_the_date_header_is_the_worlds_clock(api):
    from email.utils import parsedate_to_datetime

    served = parsedate_to_datetime(get(api, "tags").headers["Date"])
    assert served.timestamp() == api.world.clock.now


# --- actions: petitions, forms, fundraising pages, advocacy campaigns, their actions, lists ----

def _all(api, path, **params):
    """Every record of a collection, following its `next` links."""
    body = get(api, path, **params).json()
    [rel] = body["_embedded"]
    records = body["_embedded"][rel]
    while "next" in body["_links"]:
        body = follow(api, body["_links"]["next"])
        records += body["_embedded"][rel]
    return records


def _uuid(record):
    return record["identifiers"][0].removeprefix("action_network:")


@pytest.mark.parametrize("kind", action_network.ACTION_KINDS, ids=lambda kind: kind.pages)
def test_action_pages_and_their_actions_have_the_documented_shapes(api, kind):
    data = api.world.vendors["action_network"]
    listed = get(api, kind.pages).json()
    assert list(listed["_embedded"]) == [f"osdi:{kind.pages}"]
    assert listed["total_records"] == len(data.pages_of(kind)) and listed["total_pages"] == 1
    pages = listed["_embedded"][f"osdi:{kind.pages}"]
    assert all(UUID.match(p["identifiers"][0]) and isinstance(p["action_network:hidden"], bool) for p in pages)
    assert {p["action_network:hidden"] for p in _every_page(api)} == {True, False}, "some pages are hidden"
    page = max(pages, key=lambda p: p[f"total_{kind.actions}"])
    assert f"osdi:{kind.actions}" in page["_links"] and "osdi:creator" in page["_embedded"]
    assert get(api, f"{kind.pages}/{_uuid(page)}").json()["title"] == page["title"]
    actions = _all(api, f"{kind.pages}/{_uuid(page)}/{kind.actions}")
    assert len(actions) == page[f"total_{kind.actions}"] == len(data.by_page[_uuid(page)]) > 0
    for action in actions:
        assert action["action_network:person_id"] in data.people
        assert action[f"action_network:{kind.page}_id"] == _uuid(page)
        assert action["_links"][f"osdi:{kind.page}"]["href"].endswith(_uuid(page))
        assert action["_links"]["osdi:person"]["href"].endswith(action["action_network:person_id"])
        referrer = action["action_network:referrer_data"]
        assert set(referrer) == {"source", "referrer", "website", "email_referrer", "mobile_referrer"}
    assert any(a["action_network:referrer_data"]["source"] == "none" for a in _every_action(api, kind))
    single = get(api, f"{kind.pages}/{_uuid(page)}/{kind.actions}/{_uuid(actions[0])}").json()
    assert single["identifiers"] == actions[0]["identifiers"]
    assert get(api, f"{kind.pages}/not-a-page/{kind.actions}").status_code == 404
    assert get(api, f"{kind.pages}/not-a-page").status_code == 404


def _every_page(api):
    return [p for kind in action_network.ACTION_KINDS for p in _all(api, kind.pages)]


def _every_action(api, kind):
    return [a for p in _all(api, kind.pages) for a in _all(api, f"{kind.pages}/{_uuid(p)}/{kind.actions}")]


def test_donations_carry_amounts_as_strings_and_their_recurrence(api):
    kind = action_network.KIND_OF_ACTIONS["donations"]
    donations = _every_action(api, kind)
    assert len(donations) == len(api.world.vendors["action_network"].donations)
    amounts = [d["amount"] for d in donations]
    assert all(isinstance(a, str) and re.fullmatch(r"\d+(\.\d\d)?", a) for a in amounts)
    assert any("." not in a for a in amounts) and any(a.endswith(".00") for a in amounts), "the API's noise"
    assert all(d["currency"] == "USD" and d["recipients"][0]["amount"] == d["amount"] for d in donations)
    assert all({"method", "reference_number", "authorization_stored"} <= set(d["payment"]) for d in donations)
    recurrences = [d["action_network:recurrence"] for d in donations]
    assert {"recurring": False} in recurrences and {"recurring": True, "period": "Monthly"} in recurrences


def test_outreaches_carry_their_type_and_one_to_three_targets_signatures_their_comments(api):
    outreaches = _every_action(api, action_network.KIND_OF_ACTIONS["outreaches"])
    assert {len(o["targets"]) for o in outreaches} <= {1, 2, 3} and any(len(o["targets"]) > 1 for o in outreaches)
    assert all(o["type"] in ("email", "phone") and {"title", "family_name"} <= set(o["targets"][0])
               for o in outreaches)
    signatures = _every_action(api, action_network.KIND_OF_ACTIONS["signatures"])
    assert any("comments" in s for s in signatures) and any("comments" not in s for s in signatures)
    per_person = [(s["action_network:person_id"], s["action_network:petition_id"]) for s in signatures]
    assert len(per_person) == len(set(per_person)), "a person signs a petition once"


def test_action_collections_page_25_at_a_time_and_take_the_filter_lists_refuse_it(api):
    data = api.world.vendors["action_network"]
    kind, page_id = max(((kind, page_id) for kind in action_network.ACTION_KINDS for page_id in data.pages_of(kind)),
                        key=lambda pair: len(data.by_page.get(pair[1], [])))
    path = f"{kind.pages}/{page_id}/{kind.actions}"
    first = get(api, path, per_page=100).json()
    assert first["per_page"] == 25 and first["total_records"] == len(data.by_page[page_id]) > 25
    second = follow(api, first["_links"]["next"])
    assert {_uuid(r) for r in second["_embedded"][f"osdi:{kind.actions}"]}.isdisjoint(
        _uuid(r) for r in first["_embedded"][f"osdi:{kind.actions}"])
    dates = sorted(a["modified_date"] for a in _all(api, path))
    cutoff = dates[len(dates) // 2]
    recent = _all(api, path, filter=f"modified_date gt '{cutoff}'")
    assert recent and all(a["modified_date"] > cutoff for a in recent) and len(recent) < len(dates)
    assert get(api, kind.pages, filter="modified_date gt '2000-01-01'").json()["total_records"] == len(
        data.pages_of(kind))
    assert get(api, "lists", filter="modified_date gt '2000-01-01'").status_code == 400
    lists = _all(api, "lists")
    assert len(lists) == len(data.lists) and {entry["description"] for entry in lists} <= {"Email", "Report"}
    assert all(entry["name"] and entry["title"] and entry["browser_url"] for entry in lists)


def test_actions_come_soon_after_their_page_so_old_pages_are_quiet():
    world = build_world(people=1000, seed=5)
    data = world.vendors["action_network"]
    now, day = world.clock.now, 86400
    pages = [p for kind in action_network.ACTION_KINDS for p in data.pages_of(kind).values()]
    lags = sorted(a.created_date - p.created_date for p in pages for a in data.actions_on(p) if not a.recurrence)
    assert lags[int(len(lags) * 0.9)] < 21 * day, "nine in ten within three weeks of the launch"
    quiet = [p for p in pages if p.kind != "fundraising_pages" and now - p.created_date > 60 * day]
    assert quiet and not any(now - a.created_date < 30 * day for p in quiet for a in data.actions_on(p))
    charges: dict[tuple, list] = {}
    for donation in data.donations.values():
        if donation.recurrence:
            key = (donation.person_id, donation.page_id, donation.amount)
            charges.setdefault(key, []).append(donation.created_date)
    assert any(len(dates) > 2 for dates in charges.values()), "a recurring donor's monthly charges, a donation each"
    truth = {source_id for source, source_id, _ in world.truth if source == "action_network"}
    everyone = [a for kind in action_network.ACTION_KINDS for a in data.actions_of(kind).values()]
    assert {a.person_id for a in everyone} <= truth, "every action's person is in the truth"


def test_actions_draw_from_streams_of_their_own(monkeypatch):
    """The rest of the slice draws as it did before actions existed: worlds compare by seed."""
    with_actions = build_world(people=300, seed=4)
    with_actions.advance(0.05)
    monkeypatch.setattr(action_network, "_generate_actions", lambda world, data: None)
    monkeypatch.setattr(action_network, "_advance_actions", lambda world, data, fraction: None)
    without = build_world(people=300, seed=4)
    without.advance(0.05)
    for name in ("people", "events", "attendances", "tags", "taggings", "event_campaigns"):
        assert getattr(with_actions.vendors["action_network"], name).keys() == getattr(
            without.vendors["action_network"], name).keys(), name
    assert with_actions.truth == without.truth


def test_advance_adds_actions_on_running_pages_and_their_people_change():
    world = build_world(people=400, seed=8)
    data = world.vendors["action_network"]
    kinds = action_network.ACTION_KINDS
    before = {a.id for kind in kinds for a in data.actions_of(kind).values()}
    world.advance(0.02)
    now = world.clock.now
    actions = [a for kind in kinds for a in data.actions_of(kind).values()]
    new = [a for a in actions if a.id not in before]
    assert new and all(a.created_date == now for a in new)
    running = {p.id for kind in kinds for p in data.pages_of(kind).values() if now - p.created_date < 21 * 86400}
    assert {a.page_id for a in new} <= running
    assert all(data.people[a.person_id].modified_date == now for a in new)
    assert any(a.modified_date == now and a.created_date < now for a in actions), "some actions were edited"
    assert all(a.created_date <= a.modified_date <= now for a in actions), "nothing happens in the future"
