"""The action_network source against the fake: full, incremental, idempotent, resilient, paced."""

import json
from collections import Counter

import pytest
from werkzeug.wrappers import Request

from pipelines.runner import sync
from sandbox import action_network
from sandbox.fakehttp import FakeService, json_response
from sandbox.world import build_world
from pipelines.dlt_state import set_cursor_value
from pipelines.sources.action_network import Planner, action_network_id, odata_after, prepare
from pipelines.sources.http import HAL_RECORDS, HalNextLinkPaginator, HttpPolicy, VendorClient
from tests.conftest import query, table_rows

pytestmark = pytest.mark.integration

KEY = "an-test-key"
ACTION_TABLES = ("petitions", "signatures", "forms", "submissions", "fundraising_pages", "donations",
                 "advocacy_campaigns", "outreaches", "lists")
TABLES = ("people", "events", "attendances", "tags", "taggings", "event_campaigns", *ACTION_TABLES)
# the collections actions are read from (their paths start with one of these)
ACTION_COLLECTIONS = ("petitions", "forms", "fundraising_pages", "advocacy_campaigns", "lists")


def _serve(monkeypatch, people=200, seed=13, rate_limit=None, requests_per_second=1000):
    world = build_world(people=people, seed=seed)
    service = action_network.serve(world, KEY, rate_limit=rate_limit)
    service.world = world
    service.start()
    for name, value in action_network.client_env(service, KEY).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOURCES__ACTION_NETWORK__REQUESTS_PER_SECOND", str(requests_per_second))
    return service


@pytest.fixture
def api(monkeypatch):
    """A small world served without a rate limit, and a source that does not pace: functional tests."""
    service = _serve(monkeypatch)
    yield service
    service.stop()


def _sync(warehouse):
    [result] = sync(["action_network"], warehouse, echo=lambda _: None)
    return result


def _counts(warehouse):
    return {table: query(warehouse, f"select count(*) from action_network.{table}")[0][0] for table in TABLES}


def _world_counts(data):
    return {table: len(getattr(data, table)) for table in TABLES}


def _requests_by_collection(api):
    # a collection's path ends in its name
    return Counter(request.path.rsplit("/", 1)[-1] for request in api.requests)


def _action_requests(api):
    """Requests for action pages, their actions and lists."""
    return [r for r in api.requests if r.path.removeprefix(action_network.API_PREFIX).split("/")[1]
            in ACTION_COLLECTIONS]


def _pages(data):
    return [page for kind in action_network.ACTION_KINDS for page in data.pages_of(kind).values()]


def _open_pages(data, now, days=30):
    """Pages launched, or last acted on, within `days` (open_action_days): their actions are asked every run."""
    return {p.id for p in _pages(data)
            if max([p.created_date] + [a.created_date for a in data.actions_on(p)]) >= now - days * 86400}


def _asked_actions(api):
    """The pages whose actions were asked."""
    return {r.path.split("/")[-2] for r in _action_requests(api) if r.path.rsplit("/", 1)[-1] in (
        "signatures", "submissions", "donations", "outreaches")}


def test_full_sync_loads_every_collection_with_ids_from_identifiers_and_links(api, warehouse):
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    data = api.world.vendors["action_network"]
    assert _counts(warehouse) == _world_counts(data)
    attendance = next(iter(data.attendances.values()))
    [(event_id, person_id, status)] = query(
        warehouse, f"select event_id, person_id, status from action_network.attendances where id = '{attendance.id}'")
    assert (event_id, person_id, status) == (attendance.event_id, attendance.person_id, attendance.status)
    tagging = next(iter(data.taggings.values()))
    assert query(warehouse, f"select tag_id, person_id from action_network.taggings where id = '{tagging.id}'") == [
        (tagging.tag_id, tagging.person_id)]
    person = next(p for p in data.people.values() if p.email and p.custom_fields)
    [(emails, custom)] = query(warehouse, f"select email_addresses, custom_fields from action_network.people "
                                          f"where id = '{person.id}'")
    assert person.email in emails and all(value in custom for value in person.custom_fields.values())
    assert api.count(status=429) == 0


def _open_events(data, now, days=14):
    """Events still taking RSVPs: starting after `days` ago (start_date is written from start_local)."""
    return {e.id for e in data.events.values() if e.start_local >= now - days * 86400}


def _asked_attendances(api):
    return {r.path.split("/")[-2] for r in api.requests if r.path.endswith("/attendances")}


def test_second_run_without_changes_asks_only_listings_and_open_events_and_changes_nothing(api, warehouse):
    assert _sync(warehouse).status == "loaded"
    before = {table: table_rows(warehouse, f"action_network.{table}") for table in TABLES}
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    data = api.world.vendors["action_network"]
    requests = _requests_by_collection(api)
    assert requests["people"] == requests["tags"] == 1 and requests["taggings"] == 0
    assert requests["events"] == 1 + len(data.event_campaigns), "the group's events, then each campaign's"
    assert _asked_attendances(api) == _open_events(data, api.world.clock.now) != set(data.events)
    assert requests["attendances"] == len(_open_events(data, api.world.clock.now))
    assert not any("filter" in r.query for r in api.requests if r.path.endswith(("/tags", "/taggings", "/lists")))
    assert all(requests[collection] == 1 for collection in ACTION_COLLECTIONS), "each listing, one page"
    assert _asked_actions(api) == _open_pages(data, api.world.clock.now) != {p.id for p in _pages(data)}
    assert {table: table_rows(warehouse, f"action_network.{table}") for table in TABLES} == before


def test_incremental_sync_fetches_what_changed(api, warehouse):
    assert _sync(warehouse).status == "loaded"
    world = api.world
    data = world.vendors["action_network"]
    world.advance(0.02)
    api.reset_log()
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    changed = [p for p in data.people.values() if p.modified_date == world.clock.now]
    requests = _requests_by_collection(api)
    # the filtered collection: pages in proportion to the change, not the whole list
    assert requests["people"] <= -(-len(changed) // 25) + 1 < -(-len(data.people) // 25)
    assert result.rows["people"] >= len(changed)
    # attendances of changed, new and still-open events; taggings of each changed person
    changed_events = {e.id for e in data.events.values() if e.modified_date == world.clock.now}
    assert _asked_attendances(api) == _open_events(data, world.clock.now) | changed_events
    assert requests["taggings"] == len(changed)
    assert _counts(warehouse) == _world_counts(data)
    person = next(p for p in changed if p.postal_code)
    [(addresses,)] = query(warehouse, f"select postal_addresses from action_network.people where id = '{person.id}'")
    assert person.postal_code in addresses
    # RSVPs changed on the events asked are current; on closed events they wait for the sweep
    asked = _asked_attendances(api)
    rsvps = {a.id: a.status for a in data.attendances.values() if a.event_id in asked}
    loaded = dict(query(warehouse, "select id, status from action_network.attendances"))
    assert {i: loaded[i] for i in rsvps} == rsvps
    taggings = {t.id: (t.tag_id, t.person_id) for t in data.taggings.values()}
    assert {i: (t, p) for i, t, p in query(warehouse, "select id, tag_id, person_id from action_network.taggings")} \
        == taggings
    # actions on changed, new and still-open pages; an edit on a quiet page waits for the sweep
    changed_pages = {p.id for p in _pages(data) if p.modified_date == world.clock.now}
    assert _asked_actions(api) == _open_pages(data, world.clock.now) | changed_pages
    donations = {d.id: d.amount for d in data.donations.values() if d.page_id in _asked_actions(api)}
    loaded = dict(query(warehouse, "select id, amount from action_network.donations"))
    assert {i: loaded[i] for i in donations} == donations


def test_a_late_rsvp_to_an_old_event_is_read_by_the_weekly_sweep(api, warehouse):
    assert _sync(warehouse).status == "loaded"
    world = api.world
    data = world.vendors["action_network"]
    old = next(e for e in data.events.values() if e.id not in _open_events(data, world.clock.now))
    person = next(iter(data.people.values()))
    world.clock.tick(3600)
    world.version += 1
    data.add_attendance(action_network.AnAttendance("late-rsvp", old.id, person.id, "accepted", None, None,
                                                    world.clock.now, world.clock.now))
    assert _sync(warehouse).status == "loaded"
    assert query(warehouse, "select count(*) from action_network.attendances where id = 'late-rsvp'") == [(0,)]
    world.clock.tick(7 * 86400)
    world.version += 1
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert _asked_attendances(api) == set(data.events), "a sweep asks every known event"
    assert _requests_by_collection(api)["taggings"] == len(data.tags)
    assert query(warehouse, "select event_id from action_network.attendances where id = 'late-rsvp'") == [(old.id,)]
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert _asked_attendances(api) == _open_events(data, world.clock.now), "the next sweep is a week away"


def test_a_sync_that_dies_part_way_resumes_where_its_last_step_was_loaded(monkeypatch, warehouse, tmp_path):
    """The vendor goes away after half a sync's requests; the rerun repeats at most one step of them."""
    monkeypatch.setenv("SOURCES__ACTION_NETWORK__STEP_REQUESTS", "20")
    monkeypatch.setenv("SOURCES__ACTION_NETWORK__MAX_ATTEMPTS", "1")
    clean = tmp_path / "clean.duckdb"
    service = _serve(monkeypatch)
    try:
        assert _sync(clean).status == "loaded"
        full = service.count()
        serve_page = service.handler

        def dies_after_half(request):
            if service.count() >= full // 2:
                return json_response({"error": "gone"}, 503)
            return serve_page(request)

        service.handler = dies_after_half
        service.reset_log()
        assert _sync(warehouse).status == "failed"
        service.handler = serve_page
        service.reset_log()
        assert _sync(warehouse).status == "loaded"
        rerun = service.count()
    finally:
        service.stop()
    assert rerun <= full // 2 + 20 + 1, f"the rerun made {rerun} of a full sync's {full} requests"
    assert {t: table_rows(warehouse, f"action_network.{t}") for t in TABLES} == {
        t: table_rows(clean, f"action_network.{t}") for t in TABLES}


def test_a_new_event_has_all_its_attendances_read_however_old(api, warehouse):
    assert _sync(warehouse).status == "loaded"
    world = api.world
    data = world.vendors["action_network"]
    rng = world.rng("test-late-event")
    event = action_network._event(rng, world.clock.tick(), [])
    event.modified_date = world.clock.now
    data.events[event.id] = event
    world.version += 1
    for person in list(data.people.values())[:30]:  # older than anything the last run saw
        data.add_attendance(action_network.AnAttendance(f"late-{person.id}", event.id, person.id, "accepted",
                                                        None, None, 1_600_000_000, 1_600_000_000))
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert query(warehouse, f"select count(*) from action_network.attendances where event_id = '{event.id}'") == [
        (30,)]
    assert not any("filter" in r.query for r in api.requests if event.id in r.path)


def test_a_new_campaign_has_all_its_hosted_events_and_their_rsvps_read_however_old(api, warehouse):
    assert _sync(warehouse).status == "loaded"
    world = api.world
    data = world.vendors["action_network"]
    campaign = action_network.AnCampaign("new-campaign", "Weekend of Action", "", world.clock.tick(), world.clock.now)
    data.event_campaigns[campaign.id] = campaign
    hosted = action_network._event(world.rng("test-campaign"), world.clock.now, [])
    hosted.campaign_id, hosted.hosted_by_others = campaign.id, True
    hosted.created_date = hosted.modified_date = 1_600_000_000  # older than anything the last run saw
    data.events[hosted.id] = hosted
    person = next(iter(data.people.values()))
    data.add_attendance(action_network.AnAttendance("old-rsvp", hosted.id, person.id, "accepted", None, "email",
                                                    1_600_000_000, 1_600_000_000))
    world.version += 1
    assert _sync(warehouse).status == "loaded"
    assert query(warehouse, f"select event_campaign_id from action_network.events where id = '{hosted.id}'") == [
        (campaign.id,)]
    assert query(warehouse, "select event_id from action_network.attendances where id = 'old-rsvp'") == [(hosted.id,)]


def test_a_full_sync_loads_every_action_once_with_its_person_and_page(api, warehouse):
    assert _sync(warehouse).status == "loaded"
    data = api.world.vendors["action_network"]
    for kind in action_network.ACTION_KINDS:
        actions = data.actions_of(kind)
        rows = query(warehouse, f"select id, person_id, {kind.page}_id from action_network.{kind.actions}")
        assert len(rows) == len(actions) > 0, kind.actions
        assert {i: (person, page) for i, person, page in rows} == {
            a.id: (a.person_id, a.page_id) for a in actions.values()}, kind.actions
        assert {i for (i,) in query(warehouse, f"select id from action_network.{kind.pages}")} == set(
            data.pages_of(kind))
    donations = dict(query(warehouse, "select id, amount from action_network.donations"))
    assert donations == {d.id: d.amount for d in data.donations.values()}, "amounts as the API wrote them"
    truth = {source_id: key for source, source_id, key in api.world.truth if source == "action_network"}
    by_person = Counter(truth[p] for (p,) in query(warehouse, "select person_id from action_network.donations"))
    assert by_person == Counter(truth[d.person_id] for d in data.donations.values())
    assert query(warehouse, "select count(*) from action_network.lists") == [(len(data.lists),)]
    assert not any("filter" in r.query for r in api.requests if r.path.endswith("/lists"))


def test_an_incremental_sync_asks_the_action_collections_a_tenth_of_a_full_syncs_requests(monkeypatch, warehouse):
    """Pages launched over a year and a half, most of their actions in their first weeks: after 1% of
    the world changed, the action collections cost at most 0.1 x what a full sync asked of them."""
    service = _serve(monkeypatch, people=2000, seed=13)
    try:
        assert _sync(warehouse).status == "loaded"
        full, full_actions = service.count(), len(_action_requests(service))
        service.world.advance(0.01)
        service.reset_log()
        assert _sync(warehouse).status == "loaded"
        incremental, incremental_actions = service.count(), len(_action_requests(service))
        data = service.world.vendors["action_network"]
        assert _counts(warehouse) == _world_counts(data)
    finally:
        service.stop()
    ratio = incremental_actions / full_actions
    message = (f"action collections: full {full_actions}, incremental {incremental_actions} requests ({ratio:.3f}); "
               f"whole source: full {full}, incremental {incremental} ({incremental / full:.3f})")
    print(message)
    assert ratio <= 0.1, message


def test_a_late_action_on_a_quiet_old_page_is_read_by_the_sweep(api, warehouse):
    assert _sync(warehouse).status == "loaded"
    world = api.world
    data = world.vendors["action_network"]
    quiet = next(p for p in data.petitions.values() if p.id not in _open_pages(data, world.clock.now))
    person = next(p for p in data.people.values() if not action_network._has_acted(data, quiet, p))
    world.clock.tick(3600)
    world.version += 1
    data.add_action(action_network.AnAction("late-signature", "signatures", quiet.id, person.id, None, None,
                                            world.clock.now, world.clock.now))
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert quiet.id not in _asked_actions(api), "a quiet page is not asked between sweeps"
    assert query(warehouse, "select count(*) from action_network.signatures where id = 'late-signature'") == [(0,)]
    world.clock.tick(7 * 86400)
    world.version += 1
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert _asked_actions(api) == {p.id for p in _pages(data)}, "a sweep asks every known page"
    assert query(warehouse, "select petition_id, person_id from action_network.signatures "
                            "where id = 'late-signature'") == [(quiet.id, person.id)]
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert quiet.id in _asked_actions(api), "acted on this week: open again until it is quiet for a month"


def test_a_new_page_has_all_its_actions_read_however_old(api, warehouse):
    assert _sync(warehouse).status == "loaded"
    world = api.world
    data = world.vendors["action_network"]
    page = action_network.AnPage("old-form", "forms", "Imported form", False, "", 1_600_000_000, world.clock.tick())
    data.add_page(page)
    for person in list(data.people.values())[:30]:  # older than anything the last run saw
        data.add_action(action_network.AnAction(f"old-{person.id}", "submissions", page.id, person.id, "email",
                                                None, 1_600_000_000, 1_600_000_000))
    world.version += 1
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert query(warehouse, "select count(*) from action_network.submissions where form_id = 'old-form'") == [(30,)]
    assert not any("filter" in r.query for r in api.requests if page.id in r.path), "read whole: two pages"


def test_recovers_from_429_storms_and_5xx_bursts(api, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__ACTION_NETWORK__BACKOFF_FACTOR", "0.05")
    monkeypatch.setenv("SOURCES__ACTION_NETWORK__MAX_ATTEMPTS", "8")
    api.faults.storm_429 = 2
    api.faults.error_burst = 3
    api.faults.error_rate = 0.1
    api.faults.truncate_rate = 0.05
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    assert api.count(status=429) >= 2 and api.count(status=503) >= 3
    assert _counts(warehouse) == _world_counts(api.world.vendors["action_network"])


def test_a_wrong_token_fails_with_the_variable_to_set(api, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__ACTION_NETWORK__API_KEY", "not-the-token")
    result = _sync(warehouse)
    assert result.status == "failed"
    assert "SOURCES__ACTION_NETWORK__API_KEY" in result.message and "401" in result.message
    assert "not-the-token" not in result.message


def test_an_unconfigured_source_is_skipped_with_one_line(no_source_config, warehouse):
    [result] = sync(["action_network"], warehouse, echo=lambda _: None)
    assert result.status == "skipped"
    assert "SOURCES__ACTION_NETWORK__API_KEY" in result.message


def test_last_page_quirk_a_full_last_page_ends_with_one_empty_page(api, warehouse):
    data = api.world.vendors["action_network"]
    for person_id in list(data.people)[50:]:  # exactly two full pages of people
        del data.people[person_id]
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    assert _requests_by_collection(api)["people"] == 3, "two full pages, then the empty page past the end"
    assert query(warehouse, "select count(*) from action_network.people") == [(50,)]


def test_a_short_page_mid_collection_does_not_end_paging(api, warehouse):
    """One record filtered out server-side makes page 2 of people short: pages 3 and on still load."""
    serve_page = api.handler

    def short_second_page(request):
        response = serve_page(request)
        if request.path.endswith("/people") and request.args.get("page") == "2":
            body = json.loads(response.get_data())
            hidden = body["_embedded"]["osdi:people"].pop()
            short_second_page.hidden = hidden["identifiers"][0].removeprefix("action_network:")
            response.set_data(json.dumps(body))
        return response

    api.handler = short_second_page
    assert _sync(warehouse).status == "loaded"
    people = set(api.world.vendors["action_network"].people) - {short_second_page.hidden}
    assert {i for (i,) in query(warehouse, "select id from action_network.people")} == people
    assert len(people) > 3 * 25, "the collection goes on well past the short page"


def test_records_edited_while_a_sync_pages_are_read_by_the_next_run(api, warehouse):
    """Edits behind the page being read and ahead of it: the cursor is the vendor's clock at the start."""
    data = api.world.vendors["action_network"]
    world = api.world
    listed = sorted(data.people.values(), key=lambda p: (p.created_date, p.id))
    behind, ahead = listed[0], listed[-1]  # on the first page and on the last
    serve_page = api.handler

    def edits_during_paging(request):
        if request.path.endswith("/people") and request.args.get("page") == "3":
            for person, name in ((behind, "Edited-Behind"), (ahead, "Edited-Ahead")):
                person.given_name, person.modified_date = name, world.clock.tick(1)
            world.version += 1
        return serve_page(request)

    api.handler = edits_during_paging
    assert _sync(warehouse).status == "loaded"
    api.handler = serve_page
    assert _sync(warehouse).status == "loaded"
    names = dict(query(warehouse, "select id, given_name from action_network.people"))
    assert (names[behind.id], names[ahead.id]) == ("Edited-Behind", "Edited-Ahead")


def test_stays_within_four_requests_per_second(monkeypatch, warehouse):
    """At the real limit: the fake answers 429 above 4/s; the source must never trigger it.

    The fake's request log is the judge; how much of the budget the source uses is a measured
    rate, so it is `make bench BENCH=action_network`'s figure, not an assertion here.
    """
    service = _serve(monkeypatch, people=60, seed=4, rate_limit=4, requests_per_second=4)
    try:
        assert _sync(warehouse).status == "loaded"
    finally:
        service.stop()
    stamps = sorted(r.at for r in service.requests)
    assert len(stamps) >= 20
    assert service.count(status=429) == 0, [(round(t - stamps[0], 3), s) for t, s in
                                            sorted((r.at, r.status) for r in service.requests)]


# --- units ------------------------------------------------------------------------------

def _hal_service(pages: list[list[int]], per_page: int, next_on_last: bool, total_pages: bool) -> FakeService:
    def handler(request: Request):
        page = int(request.args.get("page", 1))
        records = pages[page - 1] if page <= len(pages) else []
        links = {"self": {"href": request.url}}
        if page < len(pages) or (next_on_last and records):
            links["next"] = {"href": f"{request.base_url}?page={page + 1}"}
        totals = {"total_pages": len(pages)} if total_pages else {}
        return json_response({"per_page": per_page, "page": page, "_links": links, **totals,
                              "_embedded": {"osdi:things": [{"n": n} for n in records]}})

    return FakeService(handler, name="hal")


@pytest.mark.parametrize("pages, per_page, next_on_last, total_pages, requests", [
    ([[1, 2], [3], [4, 5], [6]], 2, False, False, 4),  # a short page mid-collection does not end paging
    ([[1, 2], [3, 4], [5]], 2, True, False, 4),  # a short last page linking a next: the empty page ends it
    ([[1, 2], [3, 4]], 2, True, False, 3),  # a full last page with next: one empty page past the end
    ([[1, 2], [3, 4]], 2, True, True, 2),  # ... unless the page says it is the last of total_pages
    ([[1, 2], [3, 4]], 2, False, False, 2),  # no next link on the last page
    ([[]], 2, True, False, 1),  # an empty collection
])
def test_hal_paginator_stops_on_the_vendors_signals_only(pages, per_page, next_on_last, total_pages, requests):
    with _hal_service(pages, per_page, next_on_last, total_pages) as service:
        client = VendorClient(vendor="Hal", base_url=service.url, credential_variable="X", policy=HttpPolicy(),
                              paginator=HalNextLinkPaginator(), data_selector=HAL_RECORDS)
        got = [row["n"] for page in client.paginate("things") for row in page]
        assert got == [n for page in pages for n in page]
        assert service.count() == requests


def test_ids_and_filters():
    record = {"identifiers": ["free_events:1", "action_network:d91b4b2e-ae0e-4cd3-9ed7-d0ec501b0bc3"]}
    assert action_network_id(record) == "d91b4b2e-ae0e-4cd3-9ed7-d0ec501b0bc3"
    linked = {"identifiers": [], "_links": {"self": {"href": "https://x/api/v2/people/abc-1"}}}
    assert action_network_id(linked) == "abc-1"
    assert odata_after("2026-01-02T00:00:00Z") == "modified_date gt '2026-01-01T23:59:59Z'"


def test_a_warehouse_synced_before_actions_were_read_lists_every_action_page_once():
    state: dict = {}
    set_cursor_value(state, "modified_date", "2026-01-01T00:00:00Z")
    state |= {"events": {}, "campaigns": [], "tags": [], "last_sweep": "2026-01-01T00:00:00Z"}
    listings = {read["path"]: read["since"] for read in Planner(state, 14, 30, 7).plan["reads"]}
    assert listings["people"] == "2026-01-01T00:00:00Z" and listings["petitions"] is None
    state.pop("plan")
    listings = {read["path"]: read["since"] for read in Planner(state, 14, 30, 7).plan["reads"]}
    assert listings["petitions"] == listings["forms"] == "2026-01-01T00:00:00Z"
    assert listings["lists"] is None and listings["tags"] is None, "no filter where none is documented"


def test_prepare_names_each_actions_person_and_page_in_plain_columns():
    api = "https://actionnetwork.org/api/v2"
    signature = prepare({"identifiers": ["action_network:s-1"], "action_network:person_id": "p-1",
                         "action_network:petition_id": "pe-1", "comments": "Yes",
                         "_links": {"self": {"href": f"{api}/petitions/pe-1/signatures/s-1"},
                                    "osdi:petition": {"href": f"{api}/petitions/pe-1"},
                                    "osdi:person": {"href": f"{api}/people/p-1"}}})
    assert signature == {"identifiers": ["action_network:s-1"], "comments": "Yes", "id": "s-1",
                         "person_id": "p-1", "petition_id": "pe-1"}
    linked_only = prepare({"identifiers": ["action_network:o-1"],
                           "_links": {"osdi:advocacy_campaign": {"href": f"{api}/advocacy_campaigns/a-1"},
                                      "osdi:person": {"href": f"{api}/people/p-2"}}})
    assert (linked_only["advocacy_campaign_id"], linked_only["person_id"]) == ("a-1", "p-2")
    campaign = {"href": f"{api}/advocacy_campaigns/a-2"}
    other_spelling = prepare({"identifiers": ["action_network:o-2"],
                              "_links": {"action_network:advocacy_campaign": campaign}})
    assert other_spelling["advocacy_campaign_id"] == "a-2"
    namespaced_only = prepare({"identifiers": ["action_network:d-1"], "action_network:person_id": "p-3",
                               "action_network:fundraising_page_id": "f-1"})
    assert (namespaced_only["person_id"], namespaced_only["fundraising_page_id"]) == ("p-3", "f-1")
    page = prepare({"identifiers": ["action_network:pe-1"], "_embedded": {"osdi:creator": {"given_name": "Dana"}},
                    "action_network:hidden": True})
    assert page == {"identifiers": ["action_network:pe-1"], "action_network:hidden": True, "id": "pe-1"}
