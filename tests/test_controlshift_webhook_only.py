"""ControlShift as most organisations have it: webhooks and signed links, no bucket access.

Driven the way a user runs it: the receiver as a service, the fake ControlShift POSTing its
notifications to it, `python -m pipelines sync controlshift` and `python -m pipelines status`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from pipelines.sources.controlshift import webhook
from pipelines.cli import main
from sandbox import controlshift
from sandbox.world import build_world
from tests.conftest import compare_schemas, query, table_rows

pytestmark = pytest.mark.integration

SECRET = "whsec-webhook-only"
KEY = "test-controlshift-key"


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch, no_source_config, tmp_path: Path):  # noqa: ANN001, ANN201
    """An organisation without Direct AWS Access, its receiver running, the source configured
    without a bucket; yields (service, receiver URL)."""
    world = build_world(people=40, seed=6)
    controlshift.keep_tables(world)
    queue = tmp_path / "queue"
    server = webhook.serve(SECRET, queue)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with controlshift.serve(world, KEY, bucket_access=False) as service:
        for name, value in controlshift.client_env(service, KEY).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("SOURCES__CONTROLSHIFT__BUCKET")
        monkeypatch.setenv("SOURCES__CONTROLSHIFT__QUEUE_DIR", str(queue))
        monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "webhook.duckdb"))
        yield service, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def sync_cli() -> int:
    return main(["--quiet", "sync", "controlshift", "--no-transform"])


def controlshift_status(capsys: pytest.CaptureFixture) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["status", "--json"])
    [found] = [s for s in json.loads(capsys.readouterr().out)["sources"] if s["source"] == "controlshift"]
    return code, found


def new_files(service, change) -> list[str]:  # noqa: ANN001
    before = set(service.data.files)
    change()
    return sorted(set(service.data.files) - before)


def new_rows(service) -> None:  # noqa: ANN001
    """New rows in incremental files, and no nightly full export whatever the clock says."""
    world, data = service.world, service.data
    before = {table: set(rows) for table, rows in data.rows.items()}
    builder = controlshift._Builder(world, data, world.rng("new-rows"))
    builder.new_activity([person.key for person in world.persons[:8]], world.clock.now)
    controlshift.write_incrementals(data, before, world.clock.now)


def test_webhook_only_loads_every_table_as_the_bucket_would(org, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    service, receiver = org
    service.data.compress = True  # one more hour of activity, its files bzip2-compressed
    new_files(service, lambda: service.world.advance(0.2))
    service.data.compress = False
    keys = sorted(service.data.files)
    assert any(k.endswith(".bz2") for k in keys) and any("/full/" in k for k in keys)
    # one jid for every notification of the run, as ControlShift's examples show: all are queued
    assert service.notify(receiver, SECRET, keys) == [200] * len(keys)
    assert sync_cli() == 0
    webhook_warehouse = tmp_path / "webhook.duckdb"

    # the same exports through the bucket, as an organisation with Direct AWS Access loads them
    service.bucket_access = True
    bucket_warehouse = tmp_path / "bucket.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(bucket_warehouse))
    monkeypatch.setenv("SOURCES__CONTROLSHIFT__BUCKET", service.bucket)
    monkeypatch.setenv("SOURCES__CONTROLSHIFT__S3_ENDPOINT_URL", service.s3_endpoint_url)
    monkeypatch.setenv("SOURCES__CONTROLSHIFT__QUEUE_DIR", str(tmp_path / "no-queue"))
    assert sync_cli() == 0
    assert compare_schemas(bucket_warehouse, webhook_warehouse, "controlshift") == (0, 0, [])

    # ControlShift delivering the same files again, under a new jid: nothing is queued or loaded twice
    service.bucket_access = False
    monkeypatch.setenv("WAREHOUSE_PATH", str(webhook_warehouse))
    signatures = table_rows(webhook_warehouse, "controlshift.signatures")
    files = query(webhook_warehouse, "select count(*) from controlshift._loaded_files")
    assert set(service.notify(receiver, SECRET, keys)) == {208}
    assert sync_cli() == 0
    assert table_rows(webhook_warehouse, "controlshift.signatures") == signatures
    assert query(webhook_warehouse, "select count(*) from controlshift._loaded_files") == files


def test_an_expired_link_fails_that_file_only_until_the_next_full_export(org, monkeypatch, capsys) -> None:  # noqa: ANN001
    service, receiver = org
    # a bucket configured, but ControlShift never granted access: listing is refused
    monkeypatch.setenv("SOURCES__CONTROLSHIFT__BUCKET", service.bucket)
    service.notify(receiver, SECRET, sorted(service.data.files))
    assert sync_cli() == 0

    lost = new_files(service, lambda: service.world.advance(0.2))
    service.notify(receiver, SECRET, lost)
    service.world.clock.tick(7 * 3600)  # the receiver ran, the syncs did not: the links expired
    later = new_files(service, lambda: new_rows(service))
    service.notify(receiver, SECRET, later)
    assert sync_cli() == 0, "an expired file never fails the run"

    warehouse = Path(os.environ["WAREHOUSE_PATH"])
    lost_signatures = next(k for k in lost if "/signatures/" in k)
    later_signatures = next(k for k in later if "/signatures/" in k)
    outcomes = dict(query(warehouse, "select key, outcome from controlshift._loaded_files"))
    assert outcomes[lost_signatures] == "expired" and outcomes[later_signatures] == "loaded"
    code, found = controlshift_status(capsys)
    assert code == 1 and found["state"] == "warning"
    [warning] = [w for w in found["warnings"] if w.startswith("signatures:")]
    assert lost_signatures in warning and "next nightly full export" in warning
    assert main(["report"]) == 0 and lost_signatures in (warehouse.parent / "reports" / "latest.html").read_text()

    # the next nightly full export repairs the table, and status is ok again
    service.world.clock.tick(3600)
    service.notify(receiver, SECRET, controlshift.export_full(service.world))
    assert sync_cli() == 0
    live = {i for i, row in service.data.rows["signatures"].items()}
    assert {i for (i,) in query(warehouse, "select id from controlshift.signatures")} == live
    code, found = controlshift_status(capsys)
    assert (code, found["state"], found["warnings"]) == (0, "ok", [])
