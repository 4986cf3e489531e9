"""ControlShift webhook intake: the receiver that fills the export notification queue.

ControlShift POSTs `data.full_table_exported` and `data.incremental_table_exported` when an
export is ready, with a signed HTTPS URL (valid 6 hours), the table, and, with Direct AWS
Access, its S3 bucket and key. This receiver

- verifies `x-controlshift-webhook-signature` (`sha256:` + HMAC-SHA256 of the raw body with the
  endpoint's secret, compared in constant time) and answers 401, recording nothing, when it is
  missing or wrong;
- writes each export notification to the queue folder (`queue.enqueue`: durable before it
  answers) and only then answers 200, so an acknowledged notification survives a crash; other
  webhook types are acknowledged and ignored;
- answers 503 when it cannot record (ControlShift retries with backoff);
- reads a body up to `MAX_BODY_BYTES`, with or without `Content-Length` (a chunked body is read
  up to the cap, not refused), and refuses a larger one (413);
- records nothing for a notification naming a file (kind, table, key) it has already recorded,
  never judging by `jid`: `jid` is undocumented and ControlShift's own examples reuse one value
  across different notifications. A captured, validly signed request replayed later changes
  nothing. It answers that replay 208 (Already Reported), a 2xx: ControlShift delivers at least
  once and retries a notification whose 200 it did not receive, and it disables an endpoint that
  keeps answering a notification with an error. Files are remembered `SEEN_FILES_KEPT_DAYS`; a
  file is loaded once however often it is queued, so a replay older than that reloads nothing
  either.

The receiver is a long-running service; syncs run from cron and load what it queued
(`python -m pipelines sync controlshift`, see `loader.py`).

Configuration: `SOURCES__CONTROLSHIFT__WEBHOOK_SECRET` (required) and the queue folder (see
`queue.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from pathlib import Path
from typing import Optional

import dlt
from dlt.common.configuration import with_config
from werkzeug.wrappers import Request, Response

from pipelines.sources.controlshift.exports import SCHEMA
from pipelines.sources.controlshift.queue import (EXPORT_TYPES, SEEN_FILES_KEPT_DAYS, default_queue_dir, enqueue,
                                                  notification_file)

SIGNATURE_HEADER = "x-controlshift-webhook-signature"
# export notifications are under 2 KB; anything this large is not ControlShift's
MAX_BODY_BYTES = 1024 * 1024
# seconds a connection may sit idle (ControlShift sends a small body at once)
CONNECTION_TIMEOUT = 30.0


def sign(secret: str, body: bytes) -> str:
    """The header value ControlShift sends for `body`."""
    return "sha256:" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: Optional[str]) -> bool:
    return bool(header) and hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


class SeenFiles:
    """The export files recorded in the last `SEEN_FILES_KEPT_DAYS` (kind, table, key), in a SQLite
    file in the queue folder. A notification is a duplicate when it names a file already recorded,
    never by its `jid`: `jid` is undocumented and ControlShift's own examples reuse one value across
    different notifications."""

    def __init__(self, queue_dir: Path) -> None:
        self.path = queue_dir / "seen_files.sqlite"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("create table if not exists seen (file text primary key, recorded_at real)")
        con.execute("create index if not exists seen_by_age on seen (recorded_at)")
        return con

    @staticmethod
    def _id(file: tuple[str, str, str]) -> str:
        return "\t".join(file)

    def __contains__(self, file: tuple[str, str, str]) -> bool:
        with self._connect() as con:
            return con.execute("select 1 from seen where file = ?", [self._id(file)]).fetchone() is not None

    def add(self, file: tuple[str, str, str]) -> None:
        with self._connect() as con:
            now = time.time()
            con.execute("insert or ignore into seen values (?, ?)", [self._id(file), now])
            con.execute("delete from seen where recorded_at < ?", [now - SEEN_FILES_KEPT_DAYS * 86400])


class WebhookApp:
    """The WSGI receiver."""

    def __init__(self, secret: str, queue_dir: Path) -> None:
        if not secret:
            raise ValueError("SOURCES__CONTROLSHIFT__WEBHOOK_SECRET is empty")
        self.secret, self.queue_dir = secret, queue_dir
        self.seen = SeenFiles(queue_dir)

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204 - WSGI
        return self.respond(Request(environ))(environ, start_response)

    @staticmethod
    def read_body(request: Request) -> Optional[bytes]:
        """The body, up to `MAX_BODY_BYTES`; None past it. A chunked body (no Content-Length) is read
        up to the cap too: refusing it would risk ControlShift disabling the endpoint."""
        if request.content_length is not None:
            return request.get_data() if request.content_length <= MAX_BODY_BYTES else None
        body = request.stream.read(MAX_BODY_BYTES + 1)
        return body if len(body) <= MAX_BODY_BYTES else None

    def respond(self, request: Request) -> Response:
        if request.method != "POST":
            return Response("POST webhooks here\n", status=405)
        body = self.read_body(request)
        if body is None:
            return Response(f"a body up to {MAX_BODY_BYTES} bytes, please\n", status=413)
        if not verify(self.secret, body, request.headers.get(SIGNATURE_HEADER)):
            return Response("bad or missing signature\n", status=401)
        try:
            payload = json.loads(body)
        except ValueError:
            return Response("body is not JSON\n", status=400)
        if not isinstance(payload, dict) or payload.get("type") not in EXPORT_TYPES:
            return Response("ignored\n", status=200)
        try:
            file = notification_file(payload)
        except (KeyError, TypeError, AttributeError, ValueError):
            return Response("an export notification naming no file; ignored\n", status=200)
        try:
            if file in self.seen:
                return Response("this file is already recorded; ignored\n", status=208)
            enqueue(self.queue_dir, payload)
            # after the entry: a crash in between leaves a duplicate entry (its load is idempotent),
            # never an acknowledged notification that was not recorded
            self.seen.add(file)
        except (OSError, sqlite3.Error) as error:
            return Response(f"cannot record the notification: {error}\n", status=503)
        return Response("queued\n", status=200)


def configured_app(warehouse: Path) -> WebhookApp:
    """The receiver as configured: the secret and queue folder resolved the dlt way."""

    @with_config(sections=("sources", SCHEMA))
    def settings(webhook_secret: str = dlt.secrets.value, queue_dir: Optional[str] = None) -> tuple[str, Optional[str]]:
        return webhook_secret, queue_dir

    secret, queue_dir = settings()
    return WebhookApp(secret, Path(queue_dir) if queue_dir else default_queue_dir(warehouse))


def serve(secret: str, queue_dir: Path, host: str = "127.0.0.1", port: int = 0,
          connection_timeout: float = CONNECTION_TIMEOUT):  # noqa: ANN201
    """A werkzeug server for the receiver (call serve_forever(), or shutdown())."""
    return make_receiver_server(WebhookApp(secret, queue_dir), host, port, connection_timeout)


def make_receiver_server(app: WebhookApp, host: str, port: int, connection_timeout: float = CONNECTION_TIMEOUT):  # noqa: ANN201
    """A threaded server that drops a connection idle for `connection_timeout` seconds: a client
    that opens connections and stalls cannot hold a thread each for ever."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class TimingOutHandler(WSGIRequestHandler):
        timeout = connection_timeout

    return make_server(host, port, app, threaded=True, request_handler=TimingOutHandler)
