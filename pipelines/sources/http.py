"""The one HTTP layer every vendor source uses.

dlt's `RESTClient` and its retrying `Client` already page, retry 429/5xx/timeouts/dropped
connections with exponential backoff and honour `Retry-After`. What they lack, and what
lives here once: pacing to a vendor's published rate limit (shared by every thread of a
source), errors that tell the operator what to do instead of a bare status line, and the
defences against a vendor (or a proxy) that misbehaves without failing:

- a listing that goes round in circles (a `next` link back to an earlier page, the same page
  under another URL) or runs past the totals the vendor reported is stopped by `PagingGuard`,
  which every paginator's pages pass through in `VendorClient.paginate`;
- a sync is given a wall-clock budget (`time_budget`, set by the runner from
  `[sync] time_budget_seconds`): past it, the next request fails instead of being sent;
- `timeout` bounds a whole request, body included: a server dripping a few bytes a second is
  timed out (and retried) like one that sends nothing, not after every read;
- a body that is not JSON (an HTML error page, a truncated document) fails with the decoding
  error and the URL.

URLs in messages have their credentials masked (`pipelines.redact.mask_urls`).

Only dlt's public API is used: `Client(...).session` is dlt's retrying session, its transports
are replaced with requests' own `Session.mount`, `VendorClient` extends `RESTClient`'s public
`request` and `paginate`, and the paginators set `_next_reference`, which dlt documents as what a
`BaseReferencePaginator` subclass sets. `tests/test_http.py` pins the one thing relied on beyond
the names: dlt retries in the session, above the transport, so every attempt goes through ours.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Protocol
from urllib.parse import urljoin, urlsplit

from requests import HTTPError, PreparedRequest, Request, RequestException, Response, Session
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.exceptions import ChunkedEncodingError, ReadTimeout
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from dlt.common.jsonpath import compile_path
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.client import PageData
from dlt.sources.helpers.rest_client.paginators import BasePaginator, JSONLinkPaginator

from pipelines.redact import mask_urls

# bodies longer than this are cut in error messages
ERROR_BODY_CHARS = 300


class VendorAuthError(RuntimeError):
    """The vendor refused our credentials: retrying cannot help, configuration can."""


class VendorHttpError(HTTPError):
    """A request still failed after the retry budget was spent."""


class PagingLoopError(VendorHttpError):
    """A listing served a page it had served before, or more pages than it said it holds."""


class TimeBudgetExceeded(VendorHttpError):
    """The sync ran past its wall-clock budget (`[sync] time_budget_seconds`)."""


class VendorDecodeError(VendorHttpError):
    """A vendor answered 200 with a body that is not the JSON it documents."""


_deadline: float | None = None


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """No request of any source starts more than `seconds` after entering (None: no budget)."""
    global _deadline
    previous = _deadline
    _deadline = None if seconds is None else time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline = previous


@dataclass(frozen=True)
class HttpPolicy:
    """How hard and how fast a source may talk to its vendor (configurable per source)."""

    requests_per_second: float | None = None
    max_attempts: int = 5
    backoff_factor: float = 1.0
    max_retry_delay: float = 60.0
    timeout: float = 60.0
    max_connections: int = 8
    # how far below `requests_per_second` request starts are spaced (0.08: 8% wider apart)
    rate_margin: float = 0.08


class RateLimiter:
    """Request starts below `rate` per second across all threads, slowing down on 429 and recovering.

    Starts exactly `1 / rate` apart earn 429s from a vendor that counts arrivals in any one-second
    window: network jitter puts `rate + 1` of them in one window. So starts are spaced `margin`
    wider than that, a 429 widens the spacing by `slowdown` (up to `MAX_SLOWDOWN` times the
    base), and every other answer narrows it by `recovery` back toward the base: close to the
    limit, and off it while the vendor says so.
    """

    MAX_SLOWDOWN = 4.0

    def __init__(self, rate: float, margin: float = 0.08, slowdown: float = 1.5, recovery: float = 0.99) -> None:
        if rate <= 0:
            raise ValueError("requests_per_second must be positive")
        self.base_interval = (1.0 + margin) / rate
        self.interval = self.base_interval
        self.slowdown = slowdown
        self.recovery = recovery
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)

    def answered(self, status: int) -> None:
        """Adapts the spacing to the vendor's answer: wider after a 429, back toward the base otherwise."""
        with self._lock:
            if status == 429:
                self.interval = min(self.interval * self.slowdown, self.base_interval * self.MAX_SLOWDOWN)
            else:
                self.interval = max(self.base_interval, self.interval * self.recovery)


class _PacedAdapter(HTTPAdapter):
    """Refuses every attempt past the sync's time budget, takes a rate-limit slot before every
    attempt, retries included, reports each answer to the limiter, and bounds each attempt's
    total time.

    requests' `timeout` applies to each socket read, so a body sent a few bytes at a time never
    times out. Bodies are read here instead, a socket read at a time, against `total_timeout`;
    running past it raises `ReadTimeout`, which dlt's client retries like any other timeout.
    """

    def __init__(self, vendor: str, limiter: RateLimiter | None, total_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vendor = vendor
        self.limiter = limiter
        self.total_timeout = total_timeout

    def send(self, request, stream=False, **kwargs):  # noqa: ANN001, ANN201 - requests' signature
        if _deadline is not None and time.monotonic() > _deadline:
            raise TimeBudgetExceeded(
                f"the sync ran past its time budget ([sync] time_budget_seconds) before requesting "
                f"{mask_urls(request.url or '')} from {self.vendor}; stopped (the next run resumes from its cursors)")
        if self.limiter is not None:
            self.limiter.wait()
        deadline = time.monotonic() + self.total_timeout
        response = super().send(request, stream=True, **kwargs)
        if self.limiter is not None:
            self.limiter.answered(response.status_code)
        if not stream:
            self._read_body(response, deadline)
        return response

    def _read_body(self, response: Response, deadline: float) -> None:
        chunks = []
        try:
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise ReadTimeout(f"the response took longer than {self.total_timeout:g} s in all "
                                      f"(timeout) at {_where(response)}", request=response.request)
        except (ProtocolError, ReadTimeoutError, ReadTimeout) as failed:
            response.close()  # the connection is in an unknown state: never reused
            if isinstance(failed, ProtocolError):
                raise ChunkedEncodingError(failed, request=response.request) from None
            raise ReadTimeout(failed, request=response.request) from None
        response._content = b"".join(chunks)
        response._content_consumed = True
        response.raw.release_conn()  # read to the end: the connection goes back to the pool


_LIMITERS: dict[tuple, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(base_url: str, policy: HttpPolicy) -> RateLimiter | None:
    """One limiter per API root and pace in a process: a source run in several loaded steps
    (a client each) keeps its spacing across them instead of starting afresh with a burst."""
    if not policy.requests_per_second:
        return None
    key = (base_url, policy.requests_per_second, policy.rate_margin)
    with _LIMITERS_LOCK:
        return _LIMITERS.setdefault(key, RateLimiter(policy.requests_per_second, policy.rate_margin))


def paced_session(vendor: str, base_url: str, policy: HttpPolicy) -> Session:
    """dlt's retrying session with HTTP(S) sent through one paced adapter: dlt retries in the
    session's `send`, above the transport, so every attempt, retries included, is paced, timed and
    checked against the time budget."""
    session = Client(
        request_timeout=policy.timeout,
        max_connections=policy.max_connections,
        raise_for_status=False,
        request_max_attempts=policy.max_attempts,
        request_backoff_factor=policy.backoff_factor,
        request_max_retry_delay=policy.max_retry_delay,
    ).session
    adapter = _PacedAdapter(vendor, shared_limiter(base_url, policy), policy.timeout,
                            pool_maxsize=policy.max_connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _where(response: Response | Request | PreparedRequest | None) -> str:
    """The URL without its query string: query strings can carry tokens."""
    parts = urlsplit(getattr(response, "url", None) or "")
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def resolve_next_path(base_url: str, reference: str) -> str:
    """A vendor's `next` reference as a URL, its query string kept byte for byte.

    Absolute URLs are used as given. A path from the host ("/api/v1/people?…") is put
    under `base_url`'s host *and* any prefix before the API's own path, so a base URL
    behind a proxy (`https://proxy/nb/api/v1`) keeps working; other relative references
    resolve against `base_url` as a directory.
    """
    if urlsplit(reference).scheme:
        return reference
    base = urlsplit(base_url.rstrip("/"))
    if not reference.startswith("/"):
        return urljoin(base_url.rstrip("/") + "/", reference)
    path = reference.split("?", 1)[0]
    segments = base.path.split("/")  # ["", "nb", "api", "v1"]
    for cut in range(1, len(segments)):
        api_path = "/".join(["", *segments[cut:]])
        if api_path != "/" and (path == api_path or path.startswith(api_path + "/")):
            return f"{base.scheme}://{base.netloc}{'/'.join(segments[:cut])}{reference}"
    return f"{base.scheme}://{base.netloc}{reference}"


class NextPathPaginator(JSONLinkPaginator):
    """Follows a `next` link or path from the response body exactly as the vendor gave it.

    For opaque cursors such as NationBuilder's `__nonce`/`__token` paths: nothing is
    re-encoded and the first request's query parameters are not sent again (the next
    path carries what the vendor needs). The same link served again (a stale replay) is
    followed again, within `PagingGuard`'s limit.
    """

    def __init__(self, base_url: str, next_url_path: str = "next") -> None:
        super().__init__(next_url_path=next_url_path)
        self.base_url = base_url

    def update_request(self, request: Request) -> None:
        if self._next_reference:
            request.url = resolve_next_path(self.base_url, self._next_reference)
        request.params = None


def _error_hook(vendor: str, credential_variable: str):  # noqa: ANN202
    def check(response: Response, *args: Any, **kwargs: Any) -> None:
        status = response.status_code
        if status in (401, 403):
            raise VendorAuthError(
                f"{vendor} refused the credentials (HTTP {status}) at {_where(response)}. "
                f"Set {credential_variable} to a valid key (see .dlt/secrets.toml.example)."
            )
        if status >= 400:
            body = response.text[:ERROR_BODY_CHARS]
            raise VendorHttpError(f"{vendor} answered HTTP {status} at {_where(response)}: {body}", response=response)

    return check


def _repair_text(value: Any) -> Any:
    """Lone UTF-16 surrogates (JSON's `\\udcff` escapes) to U+FFFD, in every string of a document."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_repair_text(item) for item in value]
    if isinstance(value, dict):
        return {_repair_text(key): _repair_text(item) for key, item in value.items()}
    return value


def _decode_json(response: Response) -> Any:
    """JSON is UTF-8 (RFC 8259): bytes that are not become U+FFFD instead of failing the page.

    A JSON escape can also name half a UTF-16 pair, which Python accepts but no UTF-8 writer
    (Parquet, DuckDB) does; such documents are repaired, so one bad name never fails a load.
    A body that is not JSON at all fails with what was wrong and where.
    """
    text = response.content.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise VendorDecodeError(
            f"the answer from {mask_urls(response.url)} is not JSON ({error}; "
            f"Content-Type {response.headers.get('Content-Type', 'missing')}, {len(response.content)} bytes, "
            f"starting {text[:80]!r})", response=response) from None
    return _repair_text(document) if "\\ud" in text.lower() else document


def _tolerant_json(response: Response, *args: Any, **kwargs: Any) -> None:
    # decoded once: dlt's data selector, the paginator and the paging guard all read the body
    response.json = functools.cache(functools.partial(_decode_json, response))  # type: ignore[method-assign]


class HalNextLinkPaginator(JSONLinkPaginator):
    """HAL+JSON collections (OSDI): follows `_links.next.href` until the vendor signals the end.

    The end is a page without a `next` link, an empty page (a page past the end: Action
    Network's people collection links a `next` from its last page), or the page numbered
    `total_pages` where the collection reports it. A page shorter than `per_page` is *not* the
    end: a record filtered out server-side makes a short page in the middle of a collection.
    Use with data_selector `HAL_RECORDS`.
    """

    def __init__(self) -> None:
        super().__init__(next_url_path="_links.next.href")

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        body = response.json()
        page, total_pages = body.get("page"), body.get("total_pages")
        last_numbered = isinstance(page, int) and isinstance(total_pages, int) and page >= total_pages
        if not data or last_numbered:
            self._next_reference = None

    @property
    def next_url(self) -> str | None:
        """The next page's URL, None after the last page: where a read interrupted here resumes."""
        return self._next_reference


# the records of a HAL collection page, whatever their relation is called (`osdi:people`, …)
HAL_RECORDS = "_embedded.*"


class TokenSource(Protocol):
    """Where a `RenewingBearerAuth` gets its access token, and a new one when the vendor refuses it."""

    def current(self) -> str: ...

    def renew(self, rejected: str) -> str | None:
        """A token to replace `rejected`, or None when there is none (a static token)."""


class StaticToken:
    """A token that cannot be renewed (a legacy, non-expiring one)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def current(self) -> str:
        return self.token

    def renew(self, rejected: str) -> None:
        return None


class RenewingBearerAuth(AuthBase):
    """`Authorization: Bearer <token>`; a request refused with 401 is sent once more with a renewed token.

    For vendors whose access tokens expire (NationBuilder's after 24 hours). Renewing is the token
    source's business (refresh grant, store, locks: `pipelines/sources/oauth.py`); this class only
    signs requests and resends a refused one, once, through the same paced adapter. With a token
    that cannot be renewed and `query_fallback` set, a 401 to the header is tried once with the
    token as that query parameter, and if the vendor takes it, every later request uses the query
    form (for an API, or a proxy, that ignores the header; errors never quote query strings).
    """

    def __init__(self, tokens: TokenSource, query_fallback: str | None = None) -> None:
        self.tokens = tokens
        self.query_fallback = query_fallback
        self.in_query = False

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        self._sign(request, self.tokens.current())
        request.register_hook("response", self._resend_once)
        return request

    def _sign(self, request: PreparedRequest, token: str) -> None:
        if self.in_query:
            request.headers.pop("Authorization", None)
            request.prepare_url(request.url, {self.query_fallback: token})
        else:
            request.headers["Authorization"] = f"Bearer {token}"
        request.signed_with = token  # type: ignore[attr-defined]

    def _resend_once(self, response: Response, **send_kwargs: Any) -> Response:
        refused = response.request
        if response.status_code != 401 or getattr(refused, "resent", False):
            return response
        rejected = refused.signed_with  # type: ignore[attr-defined]
        token = self.tokens.renew(rejected)
        if token is None:
            if not self.query_fallback or "Authorization" not in refused.headers:
                return response
            self.in_query, token = True, rejected
        retry = refused.copy()
        self._sign(retry, token)
        retry.resent = True  # type: ignore[attr-defined]
        response.content  # noqa: B018 - read the refusal so its connection can serve the retry
        response.close()
        resent = response.connection.send(retry, **send_kwargs)
        resent.history.append(response)
        return resent


class PagingGuard:
    """Stops one listing that loops or overruns, whatever paginator walks it.

    A page fetched again from the URL just fetched, or identical to the page just served, is a
    stale replay: followed up to `max_repeats` times in a row (NationBuilder's caches do this).
    A URL or a body met earlier in the listing is a loop. Where the vendor reports totals
    (`total_pages`; `count` or `total_records` of records), a listing that runs past them by more
    than a page is stopped too: its `next` links are not to be trusted.
    """

    def __init__(self, vendor: str, max_repeats: int = 3) -> None:
        self.vendor = vendor
        self.max_repeats = max_repeats
        self._urls: set[str] = set()
        self._bodies: set[bytes] = set()
        self._previous: tuple[str, bytes] | None = None
        self._repeats = 0
        self.pages = self.records = 0
        self.reported_pages = self.reported_records = 0

    def check(self, page: PageData) -> None:
        url, body = page.response.url, hashlib.sha256(page.response.content).digest()
        self.pages += 1
        self.records += len(page)
        if self._previous is not None and (url == self._previous[0] or body == self._previous[1]):
            self._repeats += 1
            if self._repeats > self.max_repeats:
                self._fail(url, f"served the same page {self._repeats + 1} times in a row")
        elif url in self._urls or body in self._bodies:
            self._fail(url, f"led back to a page it had already served (page {self.pages} of this listing)")
        else:
            self._repeats = 0
        self._urls.add(url)
        self._bodies.add(body)
        self._previous = (url, body)
        self._check_totals(page)

    def _check_totals(self, page: PageData) -> None:
        document = page.response.json()
        if not isinstance(document, dict) or not page:
            return
        pages = document.get("total_pages")
        records = document.get("total_records", document.get("count"))
        if isinstance(pages, int) and not isinstance(pages, bool):
            self.reported_pages = max(self.reported_pages, pages)
        if isinstance(records, int) and not isinstance(records, bool):
            self.reported_records = max(self.reported_records, records)
        if self.reported_pages and self.pages > self.reported_pages + 1:
            self._fail(page.response.url, f"served {self.pages} pages of a listing it said has "
                                          f"{self.reported_pages}")
        if self.reported_records and self.records - len(page) >= self.reported_records:
            self._fail(page.response.url, f"kept serving records after the {self.reported_records} it said "
                                          f"the listing holds ({self.records} read)")

    def _fail(self, url: str, what: str) -> None:
        raise PagingLoopError(f"{self.vendor}'s paging {what} at {mask_urls(url)}; stopped instead of looping")


class VendorClient(RESTClient):
    """A `RESTClient` whose every request is paced, retried and explained."""

    def __init__(
        self,
        *,
        vendor: str,
        base_url: str,
        credential_variable: str,
        policy: HttpPolicy,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        paginator: BasePaginator | None = None,
        data_selector: str | None = None,
    ) -> None:
        self.vendor = vendor
        self.policy = policy
        super().__init__(
            base_url=base_url.rstrip("/"),
            headers=headers,
            auth=auth,
            paginator=paginator,
            # parsed once: dlt would parse a string selector again for every page
            data_selector=compile_path(data_selector) if data_selector else None,
            session=paced_session(vendor, base_url, policy),
        )
        self._hooks = {"response": [_error_hook(vendor, credential_variable), _tolerant_json]}

    def paginate(self, path: str = "", **kwargs: Any) -> Iterator[PageData[Any]]:
        kwargs.setdefault("hooks", self._hooks)
        guard = PagingGuard(self.vendor)
        with self._unreachable_explained(path):
            for page in super().paginate(path, **kwargs):
                guard.check(page)
                yield page

    def request(self, path: str = "", method: str = "GET", **kwargs: Any) -> Response:
        kwargs.setdefault("hooks", self._hooks)
        with self._unreachable_explained(path):
            return super().request(path, method, **kwargs)

    @contextmanager
    def _unreachable_explained(self, path: str) -> Iterator[None]:
        """A request that still fails once dlt's retries are spent, as a `VendorHttpError` naming the
        vendor and the URL without its query string: requests' own messages quote the full URL,
        query string (and token) included."""
        try:
            yield
        except (VendorHttpError, VendorAuthError):
            raise
        except RequestException as error:
            where = _where(error.request or Request(url=urljoin(self.base_url + "/", path)))
            raise VendorHttpError(
                f"{self.vendor} could not be reached at {where} after "
                f"{self.policy.max_attempts} attempts: {type(error).__name__}") from None
