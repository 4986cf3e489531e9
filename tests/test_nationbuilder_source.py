"""The nationbuilder source against the fake: full, incremental, idempotent, token-safe, resilient, explained."""

import math
import re

import pytest
from requests import Request

from pipelines.runner import sync
from pipelines.sources.http import NextPathPaginator, resolve_next_path
from tests.conftest import query, table_rows

pytestmark = pytest.mark.integration


@pytest.fixture
def nb(sandbox, monkeypatch):
    """The running fake and its world's NationBuilder data; pacing fast enough for tests."""
    monkeypatch.setenv("SOURCES__NATIONBUILDER__REQUESTS_PER_SECOND", "1000")
    monkeypatch.setenv("SOURCES__NATIONBUILDER__BACKOFF_FACTOR", "0.05")
    return sandbox.services["nationbuilder"], sandbox.world.vendors["nationbuilder"]


def _sync(warehouse):
    [result] = sync(["nationbuilder"], warehouse, echo=lambda _: None)
    return result


def _api(api):
    """The People API requests answered: token refreshes aside, and a request refused for an expired
    token (sent again with a fresh one) counted once."""
    return [r for r in api.requests if r.path.startswith("/api/v1") and r.status != 401]


def _shown(api):
    """Person ids asked for one by one (GET /people/:id)."""
    return [int(r.path.rsplit("/", 1)[1]) for r in _api(api) if re.fullmatch(r"/api/v1/people/\d+", r.path)]


def _loaded_ids(warehouse):
    return [i for (i,) in query(warehouse, "select id from nationbuilder.people order by id")]


def test_full_sync_reads_the_index_with_one_count_and_a_request_per_page(nb, warehouse):
    api, data = nb
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    assert _loaded_ids(warehouse) == sorted(data.people)
    assert api.count(path_prefix="/api/v1/people/count") == 1
    pages = [r for r in api.requests if r.path == "/api/v1/people"]
    assert len(pages) == math.ceil(len(data.people) / 100) == len(_api(api)) - 1
    assert "limit=100" in pages[0].query and all("__token=" in r.query for r in pages[1:])
    # the token travels in the Authorization header, never in a URL
    assert not any("access_token" in r.query for r in api.requests)
    # what the index returns, with the primary address and tags kept whole
    person = next(p for p in data.people.values() if p.tags and p.primary_address)
    [(email, zip_code, tags, updated_at)] = query(warehouse, f"""
        select email, primary_address->>'zip', tags::varchar, epoch(updated_at)
        from nationbuilder.people where id = {person.id}""")
    assert email == person.email and zip_code == person.primary_address["zip"]
    assert all(tag in tags for tag, _ in person.tags) and updated_at == person.updated_at


def test_second_run_without_changes_asks_once_and_changes_nothing(nb, warehouse):
    api, _ = nb
    assert _sync(warehouse).status == "loaded"
    before = table_rows(warehouse, "nationbuilder.people")
    api.reset_log()
    result = _sync(warehouse)
    assert result.status == "loaded" and result.rows == {}
    assert [r.path for r in _api(api)] == ["/api/v1/people/search"]
    assert "updated_since=" in _api(api)[0].query
    assert table_rows(warehouse, "nationbuilder.people") == before


def test_incremental_sync_fetches_only_what_changed(nb, sandbox, warehouse):
    api, data = nb
    assert _sync(warehouse).status == "loaded"
    sandbox.world.advance(0.1)
    changed = {p.id for p in data.people.values() if p.updated_at == sandbox.world.clock.now}
    api.reset_log()
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    assert result.rows["people"] == len(changed)
    assert {r.path for r in _api(api)} == {"/api/v1/people/search"}
    assert len(_api(api)) == math.ceil(len(changed) / 100)
    assert _loaded_ids(warehouse) == sorted(data.people)
    person = data.people[max(changed)]
    [(support_level, updated_at)] = query(
        warehouse, f"select support_level, epoch(updated_at) from nationbuilder.people where id = {person.id}")
    assert (support_level, updated_at) == (person.support_level, person.updated_at)


def test_a_replayed_page_neither_duplicates_nor_skips_people(nb, warehouse, monkeypatch):
    api, data = nb
    monkeypatch.setenv("SOURCES__NATIONBUILDER__LIMIT", "25")
    listing = api.handler
    served = []

    def then_replay(request):  # once page 2 is out, the next request gets page 2 again (a stale cache)
        served.append(request.path)
        if len(served) == 3:
            api.faults.replay = 1
        return listing(request)

    api.handler = then_replay
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    assert api.faults.replay == 0 and len(_api(api)) == 1 + math.ceil(len(data.people) / 25) + 1
    assert result.rows["people"] == len(data.people)
    assert _loaded_ids(warehouse) == sorted(data.people)


def test_pages_fetched_twice_after_errors_and_cut_bodies_load_everyone_once(nb, warehouse, monkeypatch):
    api, data = nb
    monkeypatch.setenv("SOURCES__NATIONBUILDER__LIMIT", "25")
    monkeypatch.setenv("SOURCES__NATIONBUILDER__MAX_ATTEMPTS", "10")
    api.faults.truncate_rate = 0.3
    api.faults.error_rate = 0.2
    api.faults.seed = 5
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    assert api.count(status=200) < len(api.requests), "some pages were fetched again"
    assert result.rows["people"] == len(data.people)
    assert _loaded_ids(warehouse) == sorted(data.people)


def test_recovers_from_429_storms_and_5xx_bursts(nb, warehouse, monkeypatch):
    api, data = nb
    monkeypatch.setenv("SOURCES__NATIONBUILDER__MAX_ATTEMPTS", "8")
    api.faults.storm_429 = 2
    api.faults.error_burst = 3
    result = _sync(warehouse)
    assert result.status == "loaded", result.message
    assert api.count(status=429) == 2 and api.count(status=503) == 3
    assert _loaded_ids(warehouse) == sorted(data.people)


def test_a_rejected_next_path_fails_the_sync_instead_of_skipping_people(nb, warehouse):
    api, _ = nb
    listing = api.handler

    def forget_cursors(request):  # the nation no longer honours the tokens it handed out
        if request.args.get("__nonce"):
            listing._cursors.clear()
        return listing(request)

    api.handler = forget_cursors
    result = _sync(warehouse)
    assert result.status == "failed"
    assert "HTTP 400" in result.message and "pagination" in result.message
    assert not warehouse.exists() or not query(
        warehouse, "select * from information_schema.tables where table_schema = 'nationbuilder' and table_name = 'people'")
    # the next run starts the full sync again: nothing was recorded as done
    api.handler = listing
    assert _sync(warehouse).status == "loaded"
    assert len(_loaded_ids(warehouse)) == len(listing.data.people)


def test_a_refused_legacy_token_says_how_to_move_to_the_refresh_flow(nb, warehouse, monkeypatch):
    for setting in ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"):
        monkeypatch.delenv(f"SOURCES__NATIONBUILDER__{setting}")
    monkeypatch.setenv("SOURCES__NATIONBUILDER__ACCESS_TOKEN", "not-the-token")
    result = _sync(warehouse)
    assert result.status == "failed"
    assert "SOURCES__NATIONBUILDER__ACCESS_TOKEN" in result.message and "401" in result.message
    assert "SOURCES__NATIONBUILDER__CLIENT_ID" in result.message and "nationbuilder-auth" in result.message
    assert "not-the-token" not in result.message


def test_an_unreachable_nation_fails_without_showing_the_token(no_source_config, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__NATIONBUILDER__BASE_URL", "http://127.0.0.1:9/api/v1")
    monkeypatch.setenv("SOURCES__NATIONBUILDER__ACCESS_TOKEN", "s3cret-token")
    monkeypatch.setenv("SOURCES__NATIONBUILDER__MAX_ATTEMPTS", "2")
    monkeypatch.setenv("SOURCES__NATIONBUILDER__BACKOFF_FACTOR", "0.01")
    result = _sync(warehouse)
    assert result.status == "failed" and "could not be reached" in result.message
    assert "s3cret-token" not in result.message


def test_an_unconfigured_source_is_skipped_with_one_line(no_source_config, warehouse):
    [result] = sync(["nationbuilder"], warehouse, echo=lambda _: None)
    assert result.status == "skipped"
    assert "SOURCES__NATIONBUILDER__CLIENT_ID" in result.message and "BASE_URL" in result.message


def test_fetch_full_person_reads_changed_people_in_full(nb, sandbox, warehouse, monkeypatch):
    api, data = nb
    monkeypatch.setenv("SOURCES__NATIONBUILDER__FETCH_FULL_PERSON", "true")
    assert _sync(warehouse).status == "loaded"
    assert sorted(_shown(api)) == sorted(data.people)
    person = next(p for p in data.people.values() if p.primary_email_id not in (None, 1))
    [row] = query(warehouse, f"""select email1, email2, email3, email4, primary_email_id, home_address is not null
                                 from nationbuilder.people where id = {person.id}""")
    assert list(row[:4]) == person.emails and row[4] == person.primary_email_id
    assert row[5] == ("home_address" in person.addresses)
    # unchanged people are not fetched again; changed ones are, once each
    api.reset_log()
    assert _sync(warehouse).status == "loaded"
    assert [r.path for r in _api(api)] == ["/api/v1/people/search"]
    sandbox.world.advance(0.05)
    changed = {p.id for p in data.people.values() if p.updated_at == sandbox.world.clock.now}
    api.reset_log()
    result = _sync(warehouse)
    assert result.rows["people"] == len(changed)
    assert sorted(_shown(api)) == sorted(changed)
    assert len(_api(api)) == len(changed) + 1


@pytest.mark.parametrize("base, reference, expected", [
    ("https://n.nationbuilder.com/api/v1", "/api/v1/people?__nonce=a&__token=b",
     "https://n.nationbuilder.com/api/v1/people?__nonce=a&__token=b"),
    ("https://proxy.example/nb/api/v1/", "/api/v1/people/search?__nonce=a%2B&__token=b&updated_since=x",
     "https://proxy.example/nb/api/v1/people/search?__nonce=a%2B&__token=b&updated_since=x"),
    ("https://n.nationbuilder.com/api/v1", "https://other.example/api/v1/people?p=2",
     "https://other.example/api/v1/people?p=2"),
    ("https://n.nationbuilder.com/api/v1", "people?page=2", "https://n.nationbuilder.com/api/v1/people?page=2"),
])
def test_next_paths_resolve_under_the_base_url_unchanged(base, reference, expected):
    assert resolve_next_path(base, reference) == expected


class _Body:
    def __init__(self, next_path):
        self.url = "http://h/api/v1/people"
        self._next = next_path

    def json(self):
        return {"next": self._next, "results": []}


def test_next_path_paginator_drops_first_params():
    # an endless replay of the same link is stopped by the HTTP layer's PagingGuard (test_http.py)
    paginator = NextPathPaginator("http://h/api/v1")
    request = Request("GET", "http://h/api/v1/people", params={"limit": 100})
    paginator.update_state(_Body("/api/v1/people?__nonce=n&__token=t"))
    paginator.update_request(request)
    assert request.url == "http://h/api/v1/people?__nonce=n&__token=t" and request.params is None


def test_a_limit_above_100_is_a_configuration_error(nb, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__NATIONBUILDER__LIMIT", "500")
    result = _sync(warehouse)
    assert result.status == "failed" and "SOURCES__NATIONBUILDER__LIMIT" in result.message
