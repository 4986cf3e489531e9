"""The shared HTTP layer: pacing, retries through dlt's client, errors that say what to do."""

import pytest
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator
from werkzeug.wrappers import Request

from sandbox.fakehttp import FakeService, json_response
from pipelines.sources import http
from pipelines.sources.http import HttpPolicy, RateLimiter, VendorAuthError, VendorClient, VendorHttpError


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _starts(limiter, count, clock):
    starts = []
    for _ in range(count):
        limiter.wait()
        starts.append(clock.now)
    return starts


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(http.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(http.time, "sleep", fake.sleep)
    return fake


def test_rate_limiter_spaces_request_starts_with_a_margin(clock):
    starts = _starts(RateLimiter(4, margin=0.05), 9, clock)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps == pytest.approx([0.2625] * 8)
    # five starts span more than a second, with room for jitter: never five in any one-second window
    assert all(sum(1 for s in starts if t <= s < t + 1.04) <= 4 for t in starts)


def test_rate_limiter_slows_down_on_429_and_recovers(clock):
    limiter = RateLimiter(4, margin=0.05)
    limiter.answered(429)
    slowed = limiter.interval
    assert slowed == pytest.approx(0.2625 * 1.5)
    for _ in range(3):
        limiter.answered(429)
    assert limiter.interval == pytest.approx(0.2625 * RateLimiter.MAX_SLOWDOWN), "slowing down is bounded"
    for _ in range(200):
        limiter.answered(200)
    assert limiter.interval == pytest.approx(0.2625), "back to the base spacing, never below"


def test_rate_limiter_rejects_nonsense():
    with pytest.raises(ValueError):
        RateLimiter(0)


def _echo_service(**kwargs) -> FakeService:
    def handler(request: Request):
        if request.headers.get("X-Key") != "right":
            return json_response({"error": "bad key"}, 403)
        page = int(request.args.get("page", 1))
        nxt = f"{request.host_url}items?page={page + 1}" if page < 3 else None
        return json_response({"data": [{"id": page}], "next": nxt})

    return FakeService(handler, name="echo", **kwargs)


def _client(service: FakeService, key: str = "right", **policy) -> VendorClient:
    return VendorClient(
        vendor="Echo", base_url=service.url, credential_variable="SOURCES__ECHO__KEY",
        policy=HttpPolicy(backoff_factor=0.01, **policy), headers={"X-Key": key},
        paginator=JSONLinkPaginator(next_url_path="next"), data_selector="data",
    )


def test_pages_through_next_links():
    with _echo_service() as service:
        pages = [page for page in _client(service).paginate("items")]
    assert [row["id"] for page in pages for row in page] == [1, 2, 3]


def test_bad_credentials_name_the_variable_and_hide_the_query():
    with _echo_service() as service:
        with pytest.raises(VendorAuthError) as error:
            list(_client(service, key="wrong").paginate("items", params={"token": "s3cret"}))
        assert service.count() == 1, "an auth failure is not retried"
    assert "SOURCES__ECHO__KEY" in str(error.value)
    assert "s3cret" not in str(error.value)


def test_recovers_from_5xx_bursts_and_429_storms():
    with _echo_service() as service:
        service.faults.error_burst = 2
        service.faults.storm_429 = 1
        pages = list(_client(service).paginate("items"))
        assert [row["id"] for page in pages for row in page] == [1, 2, 3]
        assert service.count(status=503) == 2 and service.count(status=429) == 1


def test_recovers_from_truncated_bodies():
    with _echo_service() as service:
        service.faults.truncate_rate = 0.5
        service.faults.seed = 3
        pages = list(_client(service, max_attempts=10).paginate("items"))
        assert [row["id"] for page in pages for row in page] == [1, 2, 3]
        assert service.count() > 3, "some bodies were cut short and fetched again"


def test_gives_up_after_the_retry_budget_with_a_clear_error():
    with _echo_service() as service:
        service.faults.error_burst = 10
        with pytest.raises(VendorHttpError, match="Echo answered HTTP 503"):
            list(_client(service, max_attempts=3).paginate("items"))
        assert service.count() == 3


def test_fake_rate_limit_answers_429_with_retry_after(stopped_fake_clock):
    with _echo_service(rate_limit=2) as service:
        import requests

        statuses = [requests.get(f"{service.url}/items", headers={"X-Key": "right"}, timeout=5) for _ in range(4)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and all(int(r.headers["Retry-After"]) >= 1 for r in limited)


def test_unreachable_hosts_are_reported_without_the_query_string():
    client = VendorClient(
        vendor="Echo", base_url="http://127.0.0.1:9", credential_variable="SOURCES__ECHO__KEY",
        policy=HttpPolicy(max_attempts=2, backoff_factor=0.01, timeout=2),
    )
    with pytest.raises(VendorHttpError) as error:
        client.get("items", params={"access_token": "s3cret"})
    assert "Echo could not be reached at http://127.0.0.1:9/items" in str(error.value)
    assert "s3cret" not in str(error.value)


def test_a_stale_replay_is_followed_three_times_then_stopped_as_a_loop():
    with _echo_service() as service:
        service.faults.replay = 2  # page 1 served again twice: followed, nothing lost
        pages = list(_client(service).paginate("items"))
        assert [row["id"] for page in pages for row in page] == [1, 1, 1, 2, 3]
    with _echo_service() as service:
        service.faults.replay = 100  # a cache stuck on page 1
        with pytest.raises(http.PagingLoopError, match="same page 5 times in a row"):
            list(_client(service).paginate("items"))
        assert service.count() == 5

def test_clients_of_one_api_share_their_pacing_across_loaded_steps(clock):
    """A source run in several steps makes a client per step: the second must not start with a burst."""
    policy = HttpPolicy(requests_per_second=4, rate_margin=0.05)
    first, second = (http.shared_limiter("http://127.0.0.1:1/api", policy) for _ in range(2))
    first.wait()
    second.wait()
    assert clock.sleeps == [pytest.approx(0.2625)]
    assert http.shared_limiter("http://127.0.0.1:2/api", policy) is not first


def test_every_attempt_retries_included_goes_through_the_paced_adapter(monkeypatch):
    """What the layer relies on from dlt beyond its public names: `Client(...).session` retries in the
    session, above the transport adapters, so the adapter mounted on it paces, times and budgets
    every attempt. A dlt upgrade that retries inside its own adapter instead fails here."""
    with _echo_service() as service:
        service.faults.error_burst = 2
        client = _client(service, requests_per_second=1000)
        limiter = http.shared_limiter(service.url, client.policy)
        answered: list[int] = []
        monkeypatch.setattr(limiter, "answered", answered.append)
        pages = list(client.paginate("items"))
    assert [row["id"] for page in pages for row in page] == [1, 2, 3]
    assert answered == [503, 503, 200, 200, 200]
