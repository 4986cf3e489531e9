"""OAuth 2.0 refresh tokens that rotate, kept without loss: a durable token store and one refresher at a time.

For vendors whose access tokens expire and whose refresh tokens are single use (NationBuilder:
each refresh returns a new pair and the old refresh token stops working). Contract:

- The new pair is written to the token store (an owner-only file: write, fsync, atomic rename,
  fsync of its folder) *before* the new access token is handed out, so a process killed at any
  moment leaves a refresh token that works. (The instant between the vendor answering a refresh
  and the rename is the one window no client can close.)
- One refresh at a time across threads and processes: an OS lock on `<store>.lock`, held across
  read, refresh and write. A token refused because another thread or process has since
  refreshed is replaced by the stored one, without a refresh of its own.
- The configured refresh token is the seed: used when the store is empty or was seeded from
  another one (the operator configured a new token), and tried once more when the stored
  refresh token is refused (a legacy token migrating stays a valid seed).
- Tokens never appear in messages: errors name the endpoint without its query and the OAuth
  error code only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from functools import cached_property
from typing import Callable, Iterator

from dlt.sources.helpers.requests import Client
from requests import RequestException

from pipelines.sources.http import HttpPolicy, VendorAuthError, VendorHttpError

OWNER_ONLY = 0o600


class TokenRefused(VendorAuthError):
    """The token endpoint refused the app's credentials or the grant: only a person can fix it."""


def fingerprint(token: str | None) -> str | None:
    """Which configured token a store was seeded from, without keeping the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else None


class TokenStore:
    """The current token pair in an owner-only JSON file; `locked()` makes read-refresh-write one step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f"{path.name}.lock")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes and threads (each call opens its own lock file description)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, OWNER_ONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock, as a killed process's exit does

    def load(self) -> dict | None:
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            raise TokenRefused(f"the token store {self.path} is not valid JSON: delete it and authorize again") from None
        return stored if isinstance(stored, dict) else None

    def save(self, tokens: dict) -> None:
        """Replaces the stored pair atomically and durably; a crash leaves the old file or the new one."""
        temporary = self.path.with_name(f"{self.path.name}.new")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
        try:
            os.write(descriptor, json.dumps(tokens).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)


@dataclass(frozen=True)
class OAuthApp:
    """A registered OAuth application and the vendor's token endpoint."""

    vendor: str
    token_url: str
    client_id: str
    client_secret: str
    policy: HttpPolicy
    # what to tell the operator when the vendor refuses a grant
    reauthorize: str

    def exchange(self, grant: dict[str, str]) -> dict:
        """POSTs a grant (refresh token or authorization code) to the token endpoint; the new pair."""
        where = self.token_url.split("?", 1)[0]
        session = Client(request_timeout=self.policy.timeout, raise_for_status=False,
                         request_max_attempts=self.policy.max_attempts,
                         request_backoff_factor=self.policy.backoff_factor,
                         request_max_retry_delay=self.policy.max_retry_delay).session
        try:
            response = session.post(self.token_url, json={**grant, "client_id": self.client_id,
                                                          "client_secret": self.client_secret})
        except RequestException as error:
            raise VendorHttpError(f"{self.vendor} could not be reached at {where} after "
                                  f"{self.policy.max_attempts} attempts: {type(error).__name__}") from None
        if response.status_code in (400, 401, 403):
            raise TokenRefused(f"{self.vendor} refused the {grant['grant_type'].replace('_', ' ')} "
                               f"(HTTP {response.status_code} {_oauth_error(response)}) at {where}. {self.reauthorize}")
        if response.status_code != 200:
            raise VendorHttpError(f"{self.vendor} answered HTTP {response.status_code} at {where}", response=response)
        try:
            pair = response.json()
            return {"access_token": str(pair["access_token"]), "refresh_token": str(pair["refresh_token"])}
        except (ValueError, KeyError, TypeError):
            raise VendorHttpError(f"{self.vendor} answered {where} without an access and a refresh token") from None


def _oauth_error(response) -> str:  # noqa: ANN001
    """RFC 6749's error code, if the body has one that looks like a code (never the body itself)."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return "no error code"
    return code if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 40 else "no error code"


class RotatingTokens:
    """Access tokens from a rotating refresh token: the `TokenSource` of `http.RenewingBearerAuth`.

    The first request of a process refreshes (a sync starts with a fresh token); later ones
    refresh only when the vendor refuses the token they carried.
    """

    def __init__(self, app: OAuthApp, store: Callable[[], TokenStore], seed: str | None) -> None:
        """`store` is called once, when first needed; `seed` is the configured refresh token, if any."""
        self.app = app
        self._open_store = store
        self.seed = seed
        self._access: str | None = None
        self._lock = threading.Lock()

    @cached_property
    def store(self) -> TokenStore:
        return self._open_store()

    def current(self) -> str:
        with self._lock:
            if self._access is None:
                self._access = self._refresh(rejected=None)
            return self._access

    def renew(self, rejected: str) -> str:
        with self._lock:
            self._access = self._refresh(rejected)
            return self._access

    def authorize(self, code: str, redirect_uri: str) -> None:
        """Stores the pair an authorization code is exchanged for (the first token of a nation)."""
        with self.store.locked():
            self._save(self.app.exchange({"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": redirect_uri}))

    def _refresh(self, rejected: str | None) -> str:
        with self.store.locked():
            stored = self.store.load()
            if stored is not None and self.seed and stored.get("seed") != fingerprint(self.seed):
                stored = None  # the operator configured a new refresh token since: start from it
            if rejected is not None and stored is not None and stored.get("access_token") != rejected:
                return stored["access_token"]  # refreshed meanwhile by another thread or process
            candidates = list(dict.fromkeys(token for token in ((stored or {}).get("refresh_token"), self.seed) if token))
            if not candidates:
                raise TokenRefused(f"no {self.app.vendor} refresh token yet: {self.app.reauthorize}")
            for refresh_token in candidates[:-1]:
                try:
                    return self._rotate(refresh_token)
                except TokenRefused:
                    continue  # lost to a crash mid-refresh, say: the seed may still be good
            return self._rotate(candidates[-1])

    def _rotate(self, refresh_token: str) -> str:
        pair = self.app.exchange({"grant_type": "refresh_token", "refresh_token": refresh_token})
        self._save(pair)
        return pair["access_token"]

    def _save(self, pair: dict) -> None:
        self.store.save({**pair, "seed": fingerprint(self.seed), "refreshed_at": int(time.time())})
