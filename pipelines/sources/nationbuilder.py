"""NationBuilder: the nation's people.

Specification: `../shared/seeds/001_365259b0b4adad46.txt`. The first sync reads the whole
nation through the people index (`/people`, `limit` 100, plus one `/people/count` to check
nothing was skipped); later syncs ask `/people/search?updated_since=` for people updated
since the highest `updated_at` already loaded (dlt's incremental cursor, stored with the
data). Both page by an opaque `next` path (`__nonce`, `__token`) that is followed exactly as
given. Rows merge on `id`. Listings return the abbreviated person resource; the option
`fetch_full_person` replaces each listed person with the full resource (`/people/:id`: all
emails, every address, voter and donation fields), one request per changed person, paced
like every other request.

Auth: NationBuilder's current access tokens expire after 24 hours and come with single-use
refresh tokens (`../shared/reference/vendor-behaviour.md`). With `client_id` and
`client_secret` the source refreshes before its first request and again on any 401, keeping
the rotating pair in a token store (`pipelines/sources/oauth.py`; default
`tokens/nationbuilder.json` in the warehouse's dlt folder, `.<warehouse>.dlt/`), seeded by
`refresh_token` or by `python -m pipelines nationbuilder-auth`. Without them, a legacy
`access_token` is used as it is. Either travels as `Authorization: Bearer`; a legacy token a
nation refuses in the header is tried once as the `access_token` query parameter.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional
from urllib.parse import urlsplit

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.time import ensure_pendulum_datetime
from dlt.common.typing import TSecretStrValue

from pipelines.sources.columns import column_hints
from pipelines.sources.http import (HttpPolicy, NextPathPaginator, RenewingBearerAuth, StaticToken, VendorAuthError,
                                    VendorClient)
from pipelines.sources.oauth import OAuthApp, RotatingTokens, TokenStore

ACCESS_TOKEN_VARIABLE = "SOURCES__NATIONBUILDER__ACCESS_TOKEN"
REFRESH_TOKEN_VARIABLE = "SOURCES__NATIONBUILDER__REFRESH_TOKEN"
MAX_LIMIT = 100
REAUTHORIZE = (f"Run `python -m pipelines nationbuilder-auth` to authorize the app again (or set {REFRESH_TOKEN_VARIABLE} "
               "to a new refresh token); see README, NationBuilder.")
MOVE_TO_REFRESH_FLOW = (
    "NationBuilder's current tokens (the Settings > Developer test token too) expire after 24 hours: move to the "
    "refresh flow by setting SOURCES__NATIONBUILDER__CLIENT_ID and SOURCES__NATIONBUILDER__CLIENT_SECRET (your app's) "
    f"and {REFRESH_TOKEN_VARIABLE} (a legacy token works: NationBuilder's migration path), or by running "
    "`python -m pipelines nationbuilder-auth`; see README, NationBuilder.")

logger = logging.getLogger(__name__)


def _column_hints() -> dict:
    hints = column_hints("nationbuilder", "people")
    # one person listed twice in a run (updated while we paged) keeps its newest version
    hints["updated_at"]["dedup_sort"] = "desc"
    return hints


def token_store_path(pipelines_dir: Path) -> Path:
    """Where the rotating token pair lives by default: in the warehouse's dlt folder (owner-only, git-ignored)."""
    return pipelines_dir / "tokens" / "nationbuilder.json"


def default_token_url(base_url: str) -> str:
    """The nation's `/oauth/token`: the API root without its `/api/v1` (kept behind a proxy's prefix)."""
    parts = urlsplit(base_url.rstrip("/"))
    prefix = parts.path.rsplit("/api/", 1)[0] if "/api/" in parts.path else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}/oauth/token"


def _running_pipelines_dir() -> Path:
    return Path(dlt.current.pipeline().pipelines_dir)


def rotating_tokens(base_url: str, client_id: str, client_secret: str, refresh_token: Optional[str],
                    token_url: Optional[str], token_store: Optional[str], policy: HttpPolicy,
                    pipelines_dir: Callable[[], Path] = _running_pipelines_dir) -> RotatingTokens:
    """The refresh flow's token source. The store is found when first needed: `token_store` if set, else in
    `pipelines_dir()` (in a sync, the running pipeline's folder beside the warehouse)."""
    app = OAuthApp("NationBuilder", token_url or default_token_url(base_url), client_id, client_secret, policy,
                   REAUTHORIZE)

    def store() -> TokenStore:
        return TokenStore(Path(token_store) if token_store else token_store_path(pipelines_dir()))

    return RotatingTokens(app, store, refresh_token)


@dlt.source(name="nationbuilder")
def nationbuilder_source(
    base_url: Optional[str] = None,
    access_token: Optional[TSecretStrValue] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[TSecretStrValue] = None,
    refresh_token: Optional[TSecretStrValue] = None,
    token_url: Optional[str] = None,
    token_store: Optional[str] = None,
    limit: int = dlt.config.value,
    fetch_full_person: bool = dlt.config.value,
    requests_per_second: float = dlt.config.value,
    max_attempts: int = dlt.config.value,
    backoff_factor: float = dlt.config.value,
    timeout: float = dlt.config.value,
) -> dlt.sources.DltResource:
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise ValueError(f"SOURCES__NATIONBUILDER__LIMIT must be from 1 to {MAX_LIMIT}, got {limit!r}")
    has_credentials = access_token or (client_id and client_secret)
    if not base_url or not has_credentials:
        # the refresh flow's settings are what to ask for: a legacy access token is being retired
        settings = {"base_url": base_url, **({} if has_credentials else {"client_id": client_id,
                                                                         "client_secret": client_secret})}
        raise ConfigFieldMissingException(BaseConfiguration(), {name: [] for name, value in settings.items()
                                                                if not value})
    policy = HttpPolicy(requests_per_second, max_attempts, backoff_factor, timeout=timeout)
    if client_id and client_secret:
        tokens = rotating_tokens(base_url, client_id, client_secret, refresh_token, token_url, token_store, policy)
        auth, variable, advice = RenewingBearerAuth(tokens), REFRESH_TOKEN_VARIABLE, None
    else:
        auth = RenewingBearerAuth(StaticToken(access_token), query_fallback="access_token")
        variable, advice = ACCESS_TOKEN_VARIABLE, MOVE_TO_REFRESH_FLOW
    client = VendorClient(
        vendor="NationBuilder",
        base_url=base_url,
        credential_variable=variable,
        policy=policy,
        auth=auth,
        paginator=NextPathPaginator(base_url),
        data_selector="results",
    )
    return people(client, int(limit), fetch_full_person, advice)


@contextmanager
def _advising(advice: str | None) -> Iterator[None]:
    """A refused legacy token says how to move to the refresh flow."""
    try:
        yield
    except VendorAuthError as refused:
        if advice is None:
            raise
        raise VendorAuthError(f"{refused} {advice}") from None


def people(client: VendorClient, limit: int, fetch_full_person: bool,
           advice: str | None = None) -> dlt.sources.DltResource:
    """The nation's people: the listing, or (fetch_full_person) the listing piped into /people/:id."""

    @dlt.resource(name="people", primary_key="id", write_disposition="merge", columns=_column_hints())
    def people_resource(
        updated_at: dlt.sources.incremental = dlt.sources.incremental("updated_at"),
    ) -> Iterator[list[dict]]:
        since = updated_at.last_value
        seen: set[tuple[int, str]] = set()
        with _advising(advice):
            if since is None:
                counted = client.get("people/count").json()["people_count"]
                pages = client.paginate("people", params={"limit": limit})
            else:
                counted = None
                pages = client.paginate("people/search", params={"limit": limit, "updated_since": since.isoformat()})
            for page in pages:
                rows = []
                for person in page:
                    # a page served twice (retried, or replayed by a cache) adds nothing
                    version = (person["id"], person["updated_at"])
                    if version not in seen:
                        seen.add(version)
                        rows.append(_typed(person))
                if rows:
                    yield rows
        listed = len({person_id for person_id, _ in seen})
        if counted is not None and listed < counted:
            logger.warning("NationBuilder counted %d people but the index listed %d; people deleted during the "
                           "sync explain a difference, anything else is worth a full re-sync", counted, listed)

    if not fetch_full_person:
        return people_resource

    # a transformer sees the listing after its incremental step: only people changed since
    # the last run are fetched again; the cursor stays with the listing ("people") either way
    @dlt.transformer(name="people_full", table_name="people", primary_key="id", write_disposition="merge",
                     columns=_column_hints())
    def full_people(page: list[dict]) -> Iterator[list[dict]]:
        with _advising(advice):
            yield [_typed(client.get(f"people/{person['id']}").json()["person"]) for person in page]

    return people_resource | full_people


def _typed(person: dict) -> dict:
    """Timestamps as datetimes, so the cursor compares instants, not strings with offsets."""
    for column in ("updated_at", "created_at"):
        if person.get(column):
            person[column] = ensure_pendulum_datetime(person[column])
    return person
