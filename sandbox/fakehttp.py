"""What every sandbox vendor API has in common.

A `FakeService` runs one vendor's WSGI handler on 127.0.0.1 in a background thread and
wraps it with what real APIs do to their clients: a rate limit (a token bucket, or arrivals
in a sliding one-second window) answered with 429 and `Retry-After`, switchable faults (5xx at
a rate or in a burst, 429 storms, slow responses, bodies cut short, a stale response replayed,
paging that loops, an HTML page instead of JSON, a body dripped a few bytes at a time), and
optionally the vendor's own clock in the `Date` header. It records every request so tests and
benchmarks can count what a source actually asked for.

The last three faults are what issue 18's adversarial probes met through a misbehaving proxy in
front of the fakes: a `next` link cycling back to an earlier page, a 200 carrying an HTML error
page, and a server sending 64 bytes a second.

What the vendors' handlers share lives here too, so each fake module holds only what its vendor
does differently: `VendorApi` routes a request and answers every refusal in the vendor's own
error shape (`ApiError`, which each fake subclasses with that shape), and the small helpers for
paging (`page_count`, `page_items`, `page_link`) and reading requests (`integer_argument`,
`has_bearer`).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import OrderedDict, deque
from urllib.parse import parse_qsl, urlencode
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Hashable, Iterable, TypeVar

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:  # the transport needs the world only to name it
    from sandbox.world import World

Handler = Callable[[Request], Response]
Listing = TypeVar("Listing")


class ListingCache:
    """Filtered, ordered listings a fake has built, so that paging through one only slices it.

    The world's version is part of every key: a listing of an older world is never served.
    Least recently used listings go first, so a sync that reads several listings in turn (dlt
    round-robins its resources; Action Network asks for every event's attendances beside the
    people) keeps the long ones. Requests arrive on many threads.
    """

    def __init__(self, world: World, size: int = 256) -> None:
        self.world = world
        self.size = size
        self._listings: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Listing]) -> Listing:
        key = (key, self.world.version)
        with self._lock:
            if key in self._listings:
                self._listings.move_to_end(key)
                return self._listings[key]  # type: ignore[return-value]
        listing = build()
        with self._lock:
            self._listings[key] = listing
            while len(self._listings) > self.size:
                self._listings.popitem(last=False)
        return listing


@dataclass
class Faults:
    """Switchable misbehaviour; change the fields at any time, from any thread."""

    error_rate: float = 0.0  # share of requests answered 500-599
    error_burst: int = 0  # the next N requests are answered 503
    storm_429: int = 0  # the next N requests are answered 429
    slow_rate: float = 0.0  # share of requests delayed by slow_seconds
    slow_seconds: float = 0.0
    truncate_rate: float = 0.0  # share of bodies cut short (the connection closes mid-body)
    replay: int = 0  # the next N requests get the previous successful response again (a stale cache)
    loop_at_page: int = 0  # a request for `page=N` is answered as page 1: its `next` leads round again
    html_pages: int = 0  # the next N requests get 200 with an HTML page (a proxy's or a login page)
    drip_bytes_per_second: float = 0.0  # bodies are sent 16 bytes at a time at this rate
    seed: int = 0
    _rng: random.Random = field(default=None, repr=False)  # type: ignore[assignment]

    def roll(self) -> float:
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng.random()


@dataclass(slots=True)
class LoggedRequest:
    at: float
    method: str
    path: str
    query: str
    status: int


class TokenBucket:
    """`rate` requests per second with bursts up to `capacity`."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when a request may pass now, else the seconds until it may."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


class SlidingWindowLimit:
    """At most `rate` requests in any `window` seconds, counted at arrival: the next one is refused.

    Stricter than a token bucket (which lets a fifth request through 250 ms after a burst of
    four): what a vendor counting arrivals per second does. Refused requests do not count.
    """

    def __init__(self, rate: float, window: float = 1.0) -> None:
        self.rate = rate
        self.window = window
        self._arrivals: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when a request may pass now, else the seconds until it may."""
        with self._lock:
            now = time.monotonic()
            while self._arrivals and self._arrivals[0] <= now - self.window:
                self._arrivals.popleft()
            if len(self._arrivals) < self.rate:
                self._arrivals.append(now)
                return 0.0
            return self._arrivals[0] + self.window - now


def json_response(payload: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


class ApiError(Exception):
    """A vendor's refusal: its status and the JSON body it sends.

    This base class words a refusal `{"error": message}`; a fake whose vendor words them otherwise
    subclasses it, with a constructor taking what the vendor's refusals carry and `from_message`
    for the refusals that carry only a sentence (a rate limit, a fault, a request werkzeug could not
    route or parse).
    """

    def __init__(self, status: int, body: object) -> None:
        super().__init__(body)
        self.status = status
        self.body = body

    @classmethod
    def from_message(cls, status: int, message: str) -> "ApiError":
        return ApiError(status, {"error": message})

    @classmethod
    def answer(cls, status: int, message: str) -> Response:
        """The vendor's response to a refusal that carries only a sentence."""
        return cls.from_message(status, message).response()

    def response(self) -> Response:
        return json_response(self.body, self.status)


class VendorApi:
    """The WSGI side of a fake, which `FakeService` wraps with limits and faults.

    A subclass sets `vendor` (its key in `World.vendors`), `errors` (its `ApiError`), `not_found`
    (what the vendor says to a path it does not serve) and `routes`, and answers a routed request in
    `handle`, raising `errors` to refuse it.
    """

    vendor: str
    errors: type[ApiError] = ApiError
    not_found = "Not found"
    world: World
    routes: Map

    @property
    def data(self):  # noqa: ANN201 - the vendor module's own data class
        return self.world.vendors[self.vendor]

    def __call__(self, request: Request) -> Response:
        try:
            endpoint, args = self.routes.bind_to_environ(request.environ).match()
            return self.handle(request, endpoint, args)
        except ApiError as error:
            return error.response()
        except NotFound:
            return self.errors.answer(404, self.not_found)
        except HTTPException as error:
            return self.errors.answer(error.code or 400, error.description or "bad request")

    def handle(self, request: Request, endpoint: str, args: dict) -> Response:
        raise NotImplementedError


def integer_argument(raw: object, refusal: ApiError) -> int:
    """`raw` read as an integer; `refusal` (worded as the vendor words it) when it is not one."""
    try:
        return int(str(raw))
    except ValueError:
        raise refusal from None


def has_bearer(request: Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>`, exactly so."""
    return request.headers.get("Authorization") == f"Bearer {token}"


def page_count(items: int, per_page: int) -> int:
    """How many pages of `per_page` hold `items` (0 for none)."""
    return -(-items // per_page)


def page_items(items: list, page: int, per_page: int) -> list:
    """Page `page` (from 1) of `items`, `per_page` to a page: empty past the end."""
    return items[(page - 1) * per_page: page * per_page]


def page_link(request: Request, parameter: str, value: str, drop: tuple[str, ...] = ()) -> str:
    """The request's URL asking for another page: its other parameters as they came (without
    `drop`), then `parameter=value`."""
    query = [(k, v) for k, v in request.args.items(multi=True) if k not in (parameter, *drop)]
    return f"{request.base_url}?{urlencode(query + [(parameter, value)])}"


class _TruncatedBody:
    """Sends the first half of a body under the full Content-Length, then drops the connection."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __iter__(self) -> Iterable[bytes]:
        yield self.body[: len(self.body) // 2]
        raise ConnectionAbortedError("sandbox fault: body truncated")


class _DrippedBody:
    """Sends a body a few bytes at a time: every read succeeds, the whole takes ages."""

    def __init__(self, body: bytes, bytes_per_second: float) -> None:
        self.body = body
        self.pause = 16 / bytes_per_second

    def __iter__(self) -> Iterable[bytes]:
        for start in range(0, len(self.body), 16):
            yield self.body[start:start + 16]
            time.sleep(self.pause)


HTML_PAGE = b"<!doctype html><html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"


def _loop_paging(environ: dict, page: int, page_parameter: str, page_of: Callable[[str], int]) -> dict:
    """The environ of a request for `page` rewritten to ask for the first page (without its page parameter)."""
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    asked = [value for key, value in query if key == page_parameter]
    try:
        if not asked or page_of(asked[0]) != page:
            return environ
    except Exception:  # noqa: BLE001 - a malformed page parameter is the vendor handler's to refuse
        return environ
    first = [(key, value) for key, value in query if key != page_parameter]
    return {**environ, "QUERY_STRING": urlencode(first)}


class _QuietHandler(WSGIRequestHandler):
    """The request log is `FakeService.requests`; keep stderr for real problems."""

    # the server's clock for the `Date` header (unix seconds); None: the real one
    clock: Callable[[], float] | None = None

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is None and self.clock is not None:
            timestamp = self.clock()
        return super().date_time_string(timestamp)


class FakeService:
    """One vendor API on a free loopback port; use as a context manager or start()/stop()."""

    def __init__(
        self,
        handler: Handler,
        *,
        name: str,
        rate_limit: float | None = None,
        rate_burst: float | None = None,
        strict_window: bool = False,
        port: int = 0,
        clock: Callable[[], float] | None = None,
        page_parameter: tuple[str, Callable[[str], int]] = ("page", int),
    ) -> None:
        """`clock`: the vendor's time in unix seconds, served in every response's `Date` header.

        `page_parameter`: the query parameter a `next` link carries its page in, and how to read the
        page number from it (for the `loop_at_page` fault).
        """
        self.name = name
        self.page_parameter = page_parameter
        self.handler = handler
        self.faults = Faults()
        self.bucket: TokenBucket | SlidingWindowLimit | None = None
        if rate_limit:
            self.bucket = SlidingWindowLimit(rate_limit) if strict_window else TokenBucket(rate_limit, rate_burst)
        self.requests: list[LoggedRequest] = []
        # the refusals made here (429, faults) are worded as the vendor words its own
        self._errors = handler.errors if isinstance(handler, VendorApi) else ApiError
        self._port = port
        self._handler_class = type("Handler", (_QuietHandler,), {"clock": staticmethod(clock)} if clock else {})
        self._server = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_ok: tuple[bytes, str | None] | None = None

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> "FakeService":
        self._server = make_server("127.0.0.1", self._port, self._wsgi, threaded=True,
                                   request_handler=self._handler_class)
        # stop() waits for the serving loop's next poll: at the default half second, the hundreds of
        # fakes the test suite starts and stops would idle for minutes
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeService":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the service is not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    # --- accounting ------------------------------------------------------------------
    def count(self, status: int | None = None, path_prefix: str = "") -> int:
        with self._lock:
            return sum(
                1 for r in self.requests
                if (status is None or r.status == status) and r.path.startswith(path_prefix)
            )

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- the request path -------------------------------------------------------------
    def _respond(self, request: Request) -> Response:
        faults = self.faults
        if self.bucket is not None:
            wait = self.bucket.take()
            if wait > 0:
                response = self._errors.answer(429, "rate limit exceeded")
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
        with self._lock:
            if faults.storm_429 > 0:
                faults.storm_429 -= 1
                response = self._errors.answer(429, "rate limit storm")
                response.headers["Retry-After"] = "1"
                return response
            if faults.error_burst > 0:
                faults.error_burst -= 1
                return self._errors.answer(503, "service unavailable")
            if faults.html_pages > 0:
                faults.html_pages -= 1
                return Response(HTML_PAGE, status=200, mimetype="text/html")
            if faults.replay > 0 and self._last_ok is not None:
                faults.replay -= 1
                body, mimetype = self._last_ok
                return Response(body, status=200, mimetype=mimetype)
            roll_error, roll_slow, roll_truncate = faults.roll(), faults.roll(), faults.roll()
        if roll_error < faults.error_rate:
            return self._errors.answer(500 + int(roll_error * 1000) % 5, "internal server error")
        if roll_slow < faults.slow_rate:
            time.sleep(faults.slow_seconds)
        response = self.handler(request)
        if response.status_code == 200 and not response.is_streamed:
            with self._lock:
                self._last_ok = (response.get_data(), response.mimetype)
        if roll_truncate < faults.truncate_rate and response.status_code == 200:
            body = response.get_data()
            response = Response(_TruncatedBody(body), status=200, mimetype=response.mimetype)
            response.headers["Content-Length"] = str(len(body))
        if faults.drip_bytes_per_second and response.status_code == 200:
            body = response.get_data()
            response = Response(_DrippedBody(body, faults.drip_bytes_per_second), status=200,
                                mimetype=response.mimetype)
            response.headers["Content-Length"] = str(len(body))
        return response

    def _wsgi(self, environ, start_response):  # noqa: ANN001 - WSGI signature
        if self.faults.loop_at_page:
            environ = _loop_paging(environ, self.faults.loop_at_page, *self.page_parameter)
        request = Request(environ)
        response = self._respond(request)
        with self._lock:
            self.requests.append(
                LoggedRequest(time.monotonic(), request.method, request.path, request.query_string.decode(), response.status_code)
            )
        return response(environ, start_response)
