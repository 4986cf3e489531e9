"""The ControlShift webhook receiver and the source loading what it queued."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import requests

from pipelines.sources.controlshift import queue as notifications
from pipelines.sources.controlshift import webhook
from pipelines.runner import sync_source
from sandbox import controlshift
from sandbox.world import build_world
from tests.conftest import query

SECRET = "whsec-test"
KEY = "test-controlshift-key"


@pytest.fixture
def receiver(tmp_path: Path):  # noqa: ANN201
    server = webhook.serve(SECRET, tmp_path / "queue")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", tmp_path / "queue"
    server.shutdown()
    server.server_close()


def post(url: str, payload: dict, signature: str | None) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[webhook.SIGNATURE_HEADER] = signature
    return requests.post(url, data=body, headers=headers, timeout=5)


PAYLOAD = {"type": "data.incremental_table_exported",
           "data": {"url": "https://example.invalid/x.csv", "table": "signatures",
                    "s3": {"bucket": "b", "key": "/org/incremental/signatures/20260101/signatures_20260101000000.csv"},
                    "compression_format": "none"}, "jid": "abc"}


def test_good_signature_is_queued_durably(receiver) -> None:  # noqa: ANN001
    url, queue = receiver
    body = json.dumps(PAYLOAD).encode()
    response = requests.post(url, data=body, headers={webhook.SIGNATURE_HEADER: webhook.sign(SECRET, body)}, timeout=5)
    assert response.status_code == 200
    entries = list(queue.glob("*.json"))
    assert len(entries) == 1 and json.loads(entries[0].read_text()) == PAYLOAD
    rules = notifications.QueueRules("org", "default-bucket", ("https://example.invalid",), ("b",))
    queued, set_aside = notifications.read_queue(queue, rules)
    assert not set_aside
    assert [(q.table, q.incremental, q.key, q.bucket, q.stamp) for q in queued] == [
        ("signatures", True, "org/incremental/signatures/20260101/signatures_20260101000000.csv", "b", "20260101000000")]


@pytest.mark.parametrize("signature", [None, "", "sha256:" + "0" * 64, "deadbeef"])
def test_bad_or_missing_signature_is_refused_and_nothing_recorded(receiver, signature) -> None:  # noqa: ANN001
    url, queue = receiver
    assert post(url, PAYLOAD, signature).status_code == 401
    assert not queue.exists() or not list(queue.iterdir())


def test_signature_is_over_the_exact_body(receiver) -> None:  # noqa: ANN001
    url, queue = receiver
    signature = webhook.sign(SECRET, json.dumps(PAYLOAD).encode())
    tampered = {**PAYLOAD, "jid": "other"}
    assert post(url, tampered, signature).status_code == 401
    other_types = {"type": "petition.created", "data": {}}
    assert post(url, other_types, webhook.sign(SECRET, json.dumps(other_types).encode())).status_code == 200
    assert not queue.exists() or not list(queue.glob("*.json"))


def test_duplicates_are_judged_by_file_never_by_jid(receiver) -> None:  # noqa: ANN001
    url, queue = receiver
    signature = webhook.sign(SECRET, json.dumps(PAYLOAD).encode())
    assert post(url, PAYLOAD, signature).status_code == 200
    # a replay: a 2xx, because ControlShift would retry an error, then disable the endpoint
    assert post(url, PAYLOAD, signature).status_code == 208
    # the same file under another jid is the same file
    same_file = {**PAYLOAD, "jid": "def"}
    assert post(url, same_file, webhook.sign(SECRET, json.dumps(same_file).encode())).status_code == 208
    assert len(list(queue.glob("*.json"))) == 1
    # another file under the same jid (ControlShift's own examples reuse one) is a new file
    other_key = "/org/full/petitions/20260101/petitions_20260101000000.csv"
    other_file = {**PAYLOAD, "type": "data.full_table_exported",
                  "data": {**PAYLOAD["data"], "table": "petitions", "s3": {"bucket": "b", "key": other_key}}}
    assert post(url, other_file, webhook.sign(SECRET, json.dumps(other_file).encode())).status_code == 200
    assert len(list(queue.glob("*.json"))) == 2


def test_a_chunked_notification_is_read_up_to_the_cap(receiver) -> None:  # noqa: ANN001
    url, queue = receiver
    body = json.dumps(PAYLOAD).encode()
    # a generator body is sent chunked, with no Content-Length
    response = requests.post(url, data=iter([body[:40], body[40:]]), timeout=5,
                             headers={webhook.SIGNATURE_HEADER: webhook.sign(SECRET, body)})
    assert response.status_code == 200 and len(list(queue.glob("*.json"))) == 1
    huge = b"{" + b" " * webhook.MAX_BODY_BYTES + b"}"
    response = requests.post(url, data=iter([huge]), timeout=10,
                             headers={webhook.SIGNATURE_HEADER: webhook.sign(SECRET, huge)})
    assert response.status_code == 413 and len(list(queue.glob("*.json"))) == 1


def test_recorded_files_are_forgotten_after_the_retention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = webhook.SeenFiles(tmp_path)
    seen.add(("full", "t", "old"))
    later = time.time() + (notifications.SEEN_FILES_KEPT_DAYS + 1) * 86400
    monkeypatch.setattr(webhook.time, "time", lambda: later)
    seen.add(("full", "t", "new"))
    assert ("full", "t", "new") in seen and ("full", "t", "old") not in seen


def test_an_oversized_body_is_refused_unread(receiver) -> None:  # noqa: ANN001
    url, queue = receiver
    body = b"{" + b" " * webhook.MAX_BODY_BYTES + b"}"
    response = requests.post(url, data=body, headers={webhook.SIGNATURE_HEADER: webhook.sign(SECRET, body)}, timeout=10)
    assert response.status_code == 413
    assert not list(queue.glob("*.json"))


@pytest.fixture
def cs(monkeypatch: pytest.MonkeyPatch, no_source_config, tmp_path: Path):  # noqa: ANN001, ANN201
    world = build_world(people=40, seed=4)
    controlshift.keep_tables(world)
    with controlshift.serve(world, KEY) as service:
        for name, value in controlshift.client_env(service, KEY).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SOURCES__CONTROLSHIFT__QUEUE_DIR", str(tmp_path / "queue"))
        yield service


def _queue_new_incremental(cs, tmp_path: Path, with_s3: bool = True) -> str:  # noqa: ANN001
    before = set(cs.data.files)
    cs.world.advance(0.2)
    key = next(k for k in sorted(set(cs.data.files) - before) if "/incremental/signatures/" in k)
    payload = cs.webhook_payload(key)
    if not with_s3:
        del payload["data"]["s3"]
    notifications.enqueue(tmp_path / "queue", payload)
    return key


def test_queued_file_loads_from_its_signed_url(cs, warehouse: Path, tmp_path: Path) -> None:  # noqa: ANN001
    assert sync_source("controlshift", warehouse).status == "loaded"
    key = _queue_new_incremental(cs, tmp_path)
    cs.rest.reset_log()
    result = sync_source("controlshift", warehouse)
    assert result.status == "loaded", result.message
    assert cs.count(200, f"/{cs.bucket}/") == 1
    assert query(warehouse, f"select outcome from controlshift._loaded_files where key = '{key}'") == [("loaded",)]
    assert not list((tmp_path / "queue").glob("*.json")), "a loaded entry leaves the queue"


def test_expired_url_falls_back_to_the_s3_key(cs, warehouse: Path, tmp_path: Path) -> None:  # noqa: ANN001
    assert sync_source("controlshift", warehouse).status == "loaded"
    key = _queue_new_incremental(cs, tmp_path)
    cs.world.clock.tick(7 * 3600)  # past the 6-hour lifetime
    result = sync_source("controlshift", warehouse)
    assert result.status == "loaded", result.message
    assert "signed URL has expired" in result.message and f"s3://{cs.bucket}/{key}" in result.message
    assert query(warehouse, f"select outcome from controlshift._loaded_files where key = '{key}'") == [("loaded",)]
    assert set(cs.data.rows["signatures"]) <= {i for (i,) in query(warehouse, "select id from controlshift.signatures")}


def test_a_download_cut_short_loads_nothing_and_keeps_the_queue_entry(  # noqa: ANN001
        cs, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sync_source("controlshift", warehouse).status == "loaded"
    key = _queue_new_incremental(cs, tmp_path)
    # downloads cut short, and no REST API (served by the same fake) to take the faults too
    monkeypatch.delenv("SOURCES__CONTROLSHIFT__BASE_URL")
    cs.rest.faults.truncate_rate = 1.0
    result = sync_source("controlshift", warehouse)
    assert result.status == "failed" and f"cannot download {key}" in result.message, result.message
    assert query(warehouse, f"select count(*) from controlshift._loaded_files where key = '{key}'") == [(0,)]
    assert len(list((tmp_path / "queue").glob("*.json"))) == 1
    cs.rest.faults.truncate_rate = 0.0
    assert sync_source("controlshift", warehouse).status == "loaded"
    assert query(warehouse, f"select outcome from controlshift._loaded_files where key = '{key}'") == [("loaded",)]


def test_cli_says_which_secret_to_set(no_source_config, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    from pipelines.cli import main

    assert main(["controlshift-webhook", "--port", "0"]) == 2
    assert "SOURCES__CONTROLSHIFT__WEBHOOK_SECRET" in capsys.readouterr().out


def _hostile(cs, key: str, **data) -> dict:  # noqa: ANN001
    payload = cs.webhook_payload(key)
    payload["data"].update(data)
    return payload


def test_hostile_notifications_are_set_aside_and_the_sync_goes_on(cs, warehouse: Path, tmp_path: Path) -> None:  # noqa: ANN001
    assert sync_source("controlshift", warehouse).status == "loaded"
    queue = tmp_path / "queue"
    key = next(k for k in sorted(cs.data.files) if "/full/members/" in k)
    hostile = [
        _hostile(cs, key, url="http://127.0.0.1:9/internal"),  # a host that is not an export host
        _hostile(cs, key, table="_loaded_files"),  # a bookkeeping table
        _hostile(cs, key, table="x\"; drop table y; --"),  # a name with quotes
        _hostile(cs, key, s3={"bucket": "someone-elses-bucket", "key": key}),
        _hostile(cs, key.replace(cs.data.slug, "other-org"), s3={"bucket": cs.bucket, "key": key.replace(
            cs.data.slug, "other-org")}),  # another organisation's key
    ]
    for payload in hostile:
        notifications.enqueue(queue, payload)
    (queue / "99999999999999999999-junk.json").write_text("{not json")
    good = _queue_new_incremental(cs, tmp_path)
    result = sync_source("controlshift", warehouse)
    assert result.status == "loaded", result.message
    assert len([w for w in result.warnings if "set aside" in w]) == len(hostile) + 1
    assert len(list((queue / "dead-letter").glob("*.json"))) == len(hostile) + 1
    assert not list(queue.glob("*.json")), "nothing is left to fail the next sync"
    assert query(warehouse, f"select outcome from controlshift._loaded_files where key = '{good}'") == [("loaded",)]
    assert query(warehouse, "select count(*) from information_schema.tables where table_name like '%drop%'") == [(0,)]


def test_a_redirect_off_the_export_hosts_is_refused(cs, warehouse: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from pipelines.sources.controlshift import exports as source

    assert sync_source("controlshift", warehouse).status == "loaded"
    with pytest.raises(source.ControlShiftError, match="not an allowed export host"):
        source.fetch_link("http://127.0.0.1:9/x", (cs.url.lower(),))
    redirected: list[str] = []

    def redirect_off_host(url, **kwargs):  # noqa: ANN001, ANN202
        redirected.append(url)
        response = requests.Response()
        response.status_code, response.headers["Location"] = 302, "http://127.0.0.1:9/internal"
        response.raw = __import__("io").BytesIO(b"")
        return response

    monkeypatch.setattr(requests, "get", redirect_off_host)
    with pytest.raises(source.ControlShiftError, match="not an allowed export host"):
        source.fetch_link(cs.signed_url(next(iter(cs.data.files))), (cs.url.lower(),))
    assert len(redirected) == 1, "the redirect target is never requested"


def test_a_stalled_connection_is_dropped(tmp_path: Path) -> None:
    import socket

    server = webhook.serve(SECRET, tmp_path / "queue", connection_timeout=0.5)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=20) as stalled:
            stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # and nothing more
            while stalled.recv(1024):  # whatever the server says as it gives up, then the close
                pass
    finally:
        server.shutdown()
        server.server_close()


def test_notifications_without_jid_or_data(receiver) -> None:  # noqa: ANN001
    url, queue = receiver
    no_jid = {key: value for key, value in PAYLOAD.items() if key != "jid"}
    assert post(url, no_jid, webhook.sign(SECRET, json.dumps(no_jid).encode())).status_code == 200
    assert len(list(queue.glob("*.json"))) == 1, "jid is undocumented: a notification without one is queued"
    no_data = {"type": "data.full_table_exported"}
    # acknowledged, so ControlShift does not disable the endpoint, and not queued: it names no file
    assert post(url, no_data, webhook.sign(SECRET, json.dumps(no_data).encode())).status_code == 200
    assert len(list(queue.glob("*.json"))) == 1


def test_queue_entries_never_loaded_expire_into_dead_letter(tmp_path: Path) -> None:
    import os
    import time as clock

    queue = tmp_path / "queue"
    entry = notifications.enqueue(queue, PAYLOAD)
    old = clock.time() - (notifications.SEEN_FILES_KEPT_DAYS + 1) * 86400
    os.utime(entry, (old, old))
    rules = notifications.QueueRules("org", "b", ("https://example.invalid",), ("b",))
    queued, set_aside = notifications.read_queue(queue, rules)
    assert not queued and "never loaded" in set_aside[0]
    dead = queue / notifications.DEAD_LETTER / entry.name
    os.utime(dead, (old, old))
    notifications.read_queue(queue, rules)
    assert not dead.exists(), "set-aside entries are deleted after the retention too"
