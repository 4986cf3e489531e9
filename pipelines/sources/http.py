"""The one HTTP layer every vendor source uses.

dlt's `RESTClient` and its retrying `Client` already page, retry 429/5xx/timeouts/dropped
connections with exponential backoff and honour `Retry-After`. What they lack, and what
lives here once: pacing to a vendor's published rate limit (shared by every thread of a
source), and errors that tell the operator what to do instead of a bare status line.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from requests import HTTPError, Request, RequestException, Response
from requests.adapters import HTTPAdapter

from dlt.common.jsonpath import compile_path
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator, JSONLinkPaginator

# bodies longer than this are cut in error messages
ERROR_BODY_CHARS = 300


class VendorAuthError(RuntimeError):
    """The vendor refused our credentials: retrying cannot help, configuration can."""


class VendorHttpError(HTTPError):
    """A request still failed after the retry budget was spent."""


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
    """Takes a rate-limit slot before every attempt, retries included, and reports each answer."""

    def __init__(self, limiter: RateLimiter | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    def send(self, request, **kwargs):  # noqa: ANN001, ANN201 - requests' signature
        if self.limiter is None:
            return super().send(request, **kwargs)
        self.limiter.wait()
        response = super().send(request, **kwargs)
        self.limiter.answered(response.status_code)
        return response


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


class _PacedClient(Client):
    """dlt's retrying client, with every thread's session mounted on one paced adapter."""

    def __init__(self, policy: HttpPolicy, limiter: RateLimiter | None) -> None:
        super().__init__(
            request_timeout=policy.timeout,
            max_connections=policy.max_connections,
            raise_for_status=False,
            request_max_attempts=policy.max_attempts,
            request_backoff_factor=policy.backoff_factor,
            request_max_retry_delay=policy.max_retry_delay,
        )
        # dlt mounts `_adapter` on each per-thread session it makes; replacing it paces them all
        self._adapter = _PacedAdapter(limiter, pool_maxsize=policy.max_connections)


def _where(response: Response | Request | None) -> str:
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
    followed again; served more than `max_repeats` times in a row, it is an error rather
    than an endless loop.
    """

    def __init__(self, base_url: str, next_url_path: str = "next", max_repeats: int = 3) -> None:
        super().__init__(next_url_path=next_url_path)
        self.base_url = base_url
        self.max_repeats = max_repeats
        self._previous: str | None = None
        self._repeats = 0

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        if self._next_reference is not None and self._next_reference == self._previous:
            self._repeats += 1
            if self._repeats > self.max_repeats:
                raise VendorHttpError(
                    f"the API at {_where(response)} answered with the same next link "
                    f"{self._repeats} times in a row; stopping instead of looping", response=response)
        else:
            self._repeats = 0
        self._previous = self._next_reference

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
    """
    text = response.content.decode("utf-8", errors="replace")
    document = json.loads(text)
    return _repair_text(document) if "\\ud" in text.lower() else document


def _tolerant_json(response: Response, *args: Any, **kwargs: Any) -> None:
    response.json = functools.partial(_decode_json, response)  # type: ignore[method-assign]


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
            session=_PacedClient(policy, shared_limiter(base_url, policy)).session,
        )
        self._hooks = {"response": [_error_hook(vendor, credential_variable), _tolerant_json]}

    def paginate(self, path: str = "", **kwargs: Any):  # noqa: ANN201 - RESTClient's signature
        kwargs.setdefault("hooks", self._hooks)
        return super().paginate(path, **kwargs)

    def get(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Response:
        kwargs.setdefault("hooks", self._hooks)
        return super().get(path, params=params, **kwargs)

    def _send_request(self, request: Request, **kwargs: Any) -> Response:
        try:
            return super()._send_request(request, **kwargs)
        except (VendorHttpError, VendorAuthError):
            raise
        except RequestException as error:
            # requests' own messages quote the full URL, query string (and token) included
            raise VendorHttpError(
                f"{self.vendor} could not be reached at {_where(request)} after "
                f"{self.policy.max_attempts} attempts: {type(error).__name__}") from None
