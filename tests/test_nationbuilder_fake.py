"""The fake NationBuilder People API: paging by opaque next paths, search, show, auth, limits, the world."""

import pytest
import requests

from sandbox import nationbuilder as nb
from sandbox.world import build_world

TOKEN = "test-token"


@pytest.fixture(scope="module")
def world():
    return build_world(people=250, seed=3)


@pytest.fixture
def api(world):
    with nb.serve(world, TOKEN) as service:
        yield service


def get(service, path, **params):
    url = path if path.startswith("http") else f"{service.url}{path}"
    return requests.get(url, params={"access_token": TOKEN, **params}, timeout=10)


def walk(service, first_path, **params):
    """Every page of a listing, following next paths as given."""
    pages = [get(service, first_path, **params).json()]
    while pages[-1]["next"]:
        pages.append(get(service, pages[-1]["next"]).json())
    return pages


def test_every_person_record_is_in_the_truth_and_overlaps_mobilize(world):
    people = world.vendors["nationbuilder"].people
    truth = {sid: key for source, sid, key in world.truth if source == "nationbuilder"}
    assert set(truth) == {str(i) for i in people}
    assert 0.45 * len(world.persons) < len(people) < 0.75 * len(world.persons)
    mobilize_keys = {key for source, _, key in world.truth if source == "mobilize"}
    assert len(set(truth.values()) & mobilize_keys) > 0.25 * len(people)
    # several emails per person, the primary not always in email1, sometimes a work email
    assert any(p.primary_email_id not in (None, 1) for p in people.values())
    assert any(sum(e is not None for e in p.emails) >= 2 for p in people.values())
    assert any(p.employer and p.email and p.email.endswith(".org") for p in people.values())


def test_index_pages_by_limit_through_next_paths(api, world):
    people = world.vendors["nationbuilder"].people
    pages = walk(api, "/api/v1/people", limit=100)
    ids = [row["id"] for page in pages for row in page["results"]]
    assert ids == sorted(people) and len(pages) == -(-len(people) // 100)
    nxt = pages[0]["next"]
    assert nxt.startswith("/api/v1/people?") and "__nonce=" in nxt and "__token=" in nxt and "limit" not in nxt
    assert set(pages[0]["results"][0]) == set(nb.ABBREVIATED_FIELDS)
    assert len(get(api, "/api/v1/people").json()["results"]) == nb.DEFAULT_LIMIT


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_outside_1_to_100_is_a_400(api, limit):
    response = get(api, "/api/v1/people", limit=limit)
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_a_next_path_fetched_twice_gives_the_same_page(api):
    nxt = get(api, "/api/v1/people", limit=20).json()["next"]
    assert get(api, nxt).json()["results"] == get(api, nxt).json()["results"]


@pytest.mark.parametrize("alter", [
    lambda n: n.replace("__token=", "__token=0"),
    lambda n: n.replace("__nonce=", "__nonce=x"),
    lambda n: n + "&limit=50",
    lambda n: n.replace("/people?", "/people/search?"),
])
def test_an_altered_next_path_is_rejected(api, alter):
    nxt = get(api, "/api/v1/people", limit=20).json()["next"]
    response = get(api, alter(nxt))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_pagination_token"


def test_search_filters_keep_their_parameters_in_the_next_path(api, world):
    people = world.vendors["nationbuilder"].people
    since = sorted(p.updated_at for p in people.values())[len(people) // 2]
    stamp = nb._timestamp(since)
    pages = walk(api, "/api/v1/people/search", updated_since=stamp, limit=30)
    ids = {row["id"] for page in pages for row in page["results"]}
    assert ids == {p.id for p in people.values() if p.updated_at >= since}
    assert all("updated_since=" in page["next"] for page in pages[:-1])
    # dropping the filter from a search next path is an alteration
    assert get(api, pages[0]["next"].split("&updated_since")[0]).status_code == 400
    assert get(api, pages[0]["next"] + "&first_name=Ana").status_code == 400
    assert get(api, "/api/v1/people/search", updated_since="yesterday").status_code == 400


def test_search_by_email_matches_any_slot_and_other_parameters(api, world):
    people = world.vendors["nationbuilder"].people
    person = next(p for p in people.values() if p.primary_email_id not in (None, 1) and p.emails[0])
    found = get(api, "/api/v1/people/search", email=person.emails[0].strip().upper()).json()["results"]
    assert person.id in {row["id"] for row in found}
    with_mobile = walk(api, "/api/v1/people/search", with_mobile="true", limit=100)
    assert {r["id"] for page in with_mobile for r in page["results"]} == {p.id for p in people.values() if p.mobile}
    city_person = next(p for p in people.values() if p.primary_address)
    city, state = city_person.primary_address["city"], city_person.primary_address["state"]
    rows = [r for page in walk(api, "/api/v1/people/search", city=city, state=state, limit=100) for r in page["results"]]
    assert city_person.id in {r["id"] for r in rows}
    assert all(r["primary_address"]["city"] == city for r in rows)


def test_count_show_external_id_and_taggings(api, world):
    people = world.vendors["nationbuilder"].people
    assert get(api, "/api/v1/people/count").json() == {"people_count": len(people)}
    person = next(p for p in people.values() if p.external_id and p.tags)
    shown = get(api, f"/api/v1/people/{person.id}").json()["person"]
    assert shown["id"] == person.id and shown["primary_email_id"] == person.primary_email_id
    assert [shown[f"email{n}"] for n in range(1, 5)] == person.emails
    assert "home_address" in shown and "email4_is_bad" in shown and "donations_count" in shown
    by_external = get(api, f"/api/v1/people/{person.external_id}", id_type="external").json()["person"]
    assert by_external["id"] == person.id
    taggings = get(api, f"/api/v1/people/{person.id}/taggings").json()["taggings"]
    assert [t["tag"] for t in taggings] == [tag for tag, _ in person.tags]
    assert get(api, "/api/v1/people/999999999").status_code == 404


@pytest.mark.parametrize("token", [None, "wrong"])
def test_missing_or_wrong_access_token_is_a_401(api, token):
    params = {} if token is None else {"access_token": token}
    response = requests.get(f"{api.url}/api/v1/people", params=params, timeout=10)
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_rate_limit_answers_429_with_retry_after(world):
    with nb.serve(world, TOKEN, rate_limit=2) as service:
        statuses = [get(service, "/api/v1/people/count") for _ in range(5)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and all(int(r.headers["Retry-After"]) >= 1 for r in limited)


def test_replay_fault_serves_the_previous_page_again(api):
    first = get(api, "/api/v1/people", limit=20).json()
    api.faults.replay = 1
    replayed = get(api, first["next"]).json()
    assert replayed == first
    assert get(api, first["next"]).json()["results"] != first["results"]


def test_advance_bumps_some_people_and_adds_a_few():
    world = build_world(people=200, seed=4)
    data = world.vendors["nationbuilder"]
    before = len(data.people)
    world.advance(0.05)
    changed = [p for p in data.people.values() if p.updated_at == world.clock.now]
    assert len(data.people) > before
    assert len(changed) >= int(before * 0.05)
    assert {str(p.id) for p in data.people.values()} == {sid for s, sid, _ in world.truth if s == "nationbuilder"}


# --- OAuth: the authorization-code flow, expiring access tokens, single-use refresh tokens ------

def token(service, **grant):
    client_id, client_secret = nb.client_credentials(TOKEN)
    return requests.post(f"{service.url}/oauth/token", json={"client_id": client_id, "client_secret": client_secret,
                                                             **grant}, timeout=10)


def bearer(service, access_token):
    return requests.get(f"{service.url}/api/v1/people/count", headers={"Authorization": f"Bearer {access_token}"},
                        timeout=10)


def test_an_authorization_code_is_exchanged_once_for_a_pair_that_works_as_bearer(api):
    client_id, _ = nb.client_credentials(TOKEN)
    redirect = "http://127.0.0.1:1/callback"

    def approve():
        approved = requests.get(f"{api.url}/oauth/authorize", params={
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect, "state": "s1"},
            allow_redirects=False, timeout=10)
        assert approved.status_code == 302 and approved.headers["Location"].startswith(f"{redirect}?code=")
        assert approved.headers["Location"].endswith("&state=s1")
        return approved.headers["Location"].split("code=")[1].split("&")[0]

    code = approve()
    granted = token(api, grant_type="authorization_code", code=code, redirect_uri=redirect)
    assert granted.status_code == 200 and bearer(api, granted.json()["access_token"]).ok
    assert token(api, grant_type="authorization_code", code=code, redirect_uri=redirect).status_code == 400
    assert token(api, grant_type="authorization_code", code=approve(), redirect_uri="http://elsewhere/").status_code == 400


def test_access_tokens_expire_and_each_refresh_token_works_once(world):
    with nb.serve(world, TOKEN, access_token_requests=3) as service:
        first = token(service, grant_type="refresh_token", refresh_token=TOKEN).json()  # the migration path
        assert first["token_type"] == "bearer" and first["expires_in"] == 86400
        assert [bearer(service, first["access_token"]).status_code for _ in range(4)] == [200, 200, 200, 401]
        second = token(service, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
        assert second["refresh_token"] != first["refresh_token"] and bearer(service, second["access_token"]).ok
        again = token(service, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        third = token(service, grant_type="refresh_token", refresh_token=second["refresh_token"]).json()
        assert bearer(service, second["access_token"]).status_code == 401, "a refresh revokes the old access token"
        assert bearer(service, third["access_token"]).ok
        assert [p.refresh_token for p in service.handler.oauth.issued] == [
            first["refresh_token"], second["refresh_token"], third["refresh_token"]]
        # the legacy token keeps working, and wrong app credentials are refused as such
        assert bearer(service, TOKEN).ok and get(service, "/api/v1/people/count").ok
        wrong = requests.post(f"{service.url}/oauth/token", json={"grant_type": "refresh_token", "refresh_token": TOKEN,
                              "client_id": "x", "client_secret": "y"}, timeout=10)
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_a_nation_that_ignores_the_header_takes_the_query_parameter(world):
    with nb.serve(world, TOKEN, accepts_bearer=False) as service:
        assert bearer(service, TOKEN).status_code == 401
        assert get(service, "/api/v1/people/count").ok
