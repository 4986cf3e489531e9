"""The ControlShift sandbox: export layout, the world's people in it, the fake REST API."""

from __future__ import annotations

import bz2
import csv
import io

import boto3
import pytest
import requests

from sandbox import controlshift
from sandbox.world import build_world

KEY = "test-controlshift-key"


@pytest.fixture(scope="module")
def service():
    world = build_world(people=80, seed=5)
    with controlshift.serve(world, KEY) as running:
        yield running


def test_schema_file_has_all_63_tables_and_every_table_is_exported(service) -> None:
    assert len(controlshift.TABLES) == 63
    full_tables = {key.split("/")[2] for key in service.data.files if "/full/" in key}
    assert full_tables == set(controlshift.TABLES)
    for key in service.data.files:
        org, kind, table, date, name = key.split("/")
        assert (org, kind in ("full", "incremental")) == (service.data.slug, True)
        assert name.startswith(f"{table}_{date}") and name.endswith(".csv")


def test_people_tables_carry_truth_rows_and_tricky_text(service) -> None:
    truth = {source_id for source, source_id, _ in service.world.truth if source == "controlshift"}
    for table in controlshift.PEOPLE_TABLES:
        for row_id in service.data.rows[table]:
            assert f"{table}:{row_id}" in truth
    body = service.data.files[max(k for k in service.data.files if "/full/petitions/" in k)].decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert any("\n" in row["why"] and '"' in row["why"] and "Zoë" in row["why"] for row in rows)


def test_s3_listing_and_compression(service) -> None:
    s3 = boto3.client("s3", endpoint_url=service.s3_endpoint_url, region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x")
    listed = s3.list_objects_v2(Bucket=service.bucket, Prefix=f"{service.data.slug}/full/", Delimiter="/")
    assert len(listed["CommonPrefixes"]) == 63
    service.data.compress = True
    try:
        before = set(service.data.files)
        service.world.advance(0.05)
    finally:
        service.data.compress = False
    new_keys = sorted(set(service.data.files) - before)
    assert new_keys and all(key.endswith(".csv.bz2") for key in new_keys)
    body = s3.get_object(Bucket=service.bucket, Key=new_keys[0])["Body"].read()
    assert bz2.decompress(body).split(b"\n", 1)[0] == ",".join(service.data.columns[new_keys[0].split("/")[2]]).encode()


def test_rest_api_needs_the_bearer_key(service) -> None:
    assert requests.get(f"{service.url}/api/v1/organisation", timeout=5).status_code == 401
    headers = {"Authorization": f"Bearer {KEY}"}
    organisation = requests.get(f"{service.url}/api/v1/organisation", headers=headers, timeout=5).json()["organisation"]
    assert organisation["signatures_count"] == len(service.data.rows["signatures"])
    header = requests.get(f"{service.url}/api/bulk_data/schema/columns", params={"table": "signatures"},
                          headers=headers, timeout=5).text.strip().split(",")
    assert header == list(controlshift.TABLES["signatures"])
    schema = requests.get(f"{service.url}/api/bulk_data/schema.json", headers=headers, timeout=5).json()
    tables = {item["table"]["name"]: item["table"]["columns"] for item in schema["tables"]}
    assert tables["signatures"]["recaptcha_score"]["sql_type"] == "numeric(3,2)"


def test_signed_links_expire_after_six_hours(service) -> None:
    key = next(k for k in service.data.files if "/full/members/" in k)
    payload = service.webhook_payload(key)
    assert payload["type"] == "data.full_table_exported" and payload["data"]["s3"]["key"] == key
    # a path-style S3 URL: the bucket, then the key
    assert f"/{service.bucket}/{key}?" in payload["data"]["url"]
    assert requests.get(payload["data"]["url"], timeout=5).status_code == 200
    service.world.clock.tick(6 * 3600 + 1)
    expired = requests.get(payload["data"]["url"], timeout=5)
    assert expired.status_code == 403 and "AccessDenied" in expired.text


def test_schema_needs_no_key_and_serves_raw_postgres_types(service) -> None:
    schema = requests.get(f"{service.url}/api/bulk_data/schema.json", timeout=5).json()
    tables = {item["table"]["name"]: item["table"]["columns"] for item in schema["tables"]}
    served = {spec["sql_type"] for columns in tables.values() for spec in columns.values()}
    assert {"jsonb", "hstore", "uuid", "character varying[]", "admin_status_enum"} <= served


def test_exports_hold_what_real_ones_do(service) -> None:
    statuses = {row["attending_status"] for row in service.data.rows["attendees"].values()}
    assert statuses == set(controlshift.ATTENDING_STATUSES)
    assert any(row["deleted_at"] for row in service.data.rows["signatures"].values())
    empty = service.data.files[max(k for k in service.data.files if f"/full/{controlshift.EMPTY_TABLE}/" in k)]
    assert empty == ",".join(service.data.columns[controlshift.EMPTY_TABLE]).encode() + b"\n"
    tail = service.data.files[max(k for k in service.data.files if f"/full/{controlshift.MALFORMED_TAIL_TABLE}/" in k)]
    assert tail.endswith(controlshift.MALFORMED_TAIL)


def test_without_bucket_access_listing_is_refused_and_notifications_carry_no_s3(service) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    service.bucket_access = False
    try:
        env = controlshift.client_env(service, KEY)
        s3 = boto3.client("s3", endpoint_url=env["SOURCES__CONTROLSHIFT__S3_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
        with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
            s3.list_objects_v2(Bucket=service.bucket, Prefix=f"{service.data.slug}/")
        received: list[dict] = []

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        keys = sorted(k for k in service.data.files if "/full/" in k)[:3]
        assert service.notify(f"http://127.0.0.1:{server.server_port}/", "secret", keys) == [200] * 3
        server.shutdown()
        server.server_close()
        assert [r["data"]["table"] for r in received] == [k.split("/")[2] for k in keys]
        assert all("s3" not in r["data"] for r in received)
        assert len({r["jid"] for r in received}) == 1, "one export run, one jid"
    finally:
        service.bucket_access = True
