"""Vendors (or proxies in front of them) that misbehave without failing: issue 18's probes.

Each test drives the product as users do (the runner or `python -m pipelines`) against the
sandbox with one of the fakes' fault switches on, and counts requests instead of timing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator
from werkzeug.wrappers import Request

from pipelines import runlog
from pipelines.cli import main
from pipelines.runner import sync
from sandbox import Sandbox
from sandbox.fakehttp import FakeService, json_response
from pipelines.sources.http import HttpPolicy, PagingLoopError, VendorClient, VendorHttpError

pytestmark = pytest.mark.integration

# a listing that loops is stopped long before this; the old code was not, and would run forever
RUNAWAY_REQUESTS = 400


@pytest.fixture(scope="module")
def small_sandbox():
    with Sandbox(people=60, seed=3, throttled=False) as running:
        yield running


@pytest.fixture
def configured(small_sandbox, monkeypatch, warehouse):
    for key, value in small_sandbox.env().items():
        monkeypatch.setenv(key, value)
    for source in ("MOBILIZE", "ACTION_NETWORK"):
        monkeypatch.setenv(f"SOURCES__{source}__BACKOFF_FACTOR", "0.01")
        monkeypatch.setenv(f"SOURCES__{source}__MAX_ATTEMPTS", "2")
    for service in small_sandbox.services.values():
        service.reset_log()
    yield small_sandbox
    for service in small_sandbox.services.values():
        service.faults.loop_at_page = service.faults.html_pages = 0
        service.faults.drip_bytes_per_second = 0.0


def _stop_looping_after(service: FakeService, requests: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ends the fault after `requests`, so code that never detects the loop finishes (and fails the test)."""
    handler = service.handler

    def counting(request: Request):
        if len(service.requests) >= requests:
            service.faults.loop_at_page = 0
        return handler(request)

    monkeypatch.setattr(service, "handler", counting)


@pytest.mark.parametrize("source", ["mobilize", "action_network"])
def test_a_next_link_that_cycles_back_fails_naming_the_url(configured, warehouse, source, monkeypatch):
    monkeypatch.setenv(f"SOURCES__{source.upper()}__PER_PAGE", "5")  # listings of several pages
    service = configured.services[source]
    service.faults.loop_at_page = 3
    _stop_looping_after(service, RUNAWAY_REQUESTS, monkeypatch)
    [result] = sync([source], warehouse, echo=lambda _: None)
    assert result.status == "failed", result
    assert "PagingLoopError" in result.message and "already served" in result.message
    assert f"{service.url}/" in result.message and "page=" in result.message
    assert service.count() < 60, "stopped within a few pages of the loop"


def test_a_listing_running_past_its_reported_total_pages_is_stopped():
    def endless(request: Request):  # distinct pages forever, under a total that says there are two
        page = int(request.args.get("page", 1))
        return json_response({"total_pages": 2, "data": [{"id": page}],
                              "next": f"{request.host_url}items?page={page + 1}&api_key=s3cret-key"})

    with FakeService(endless, name="endless") as service:
        client = VendorClient(vendor="Endless", base_url=service.url, credential_variable="X",
                              policy=HttpPolicy(backoff_factor=0.01),
                              paginator=JSONLinkPaginator(next_url_path="next"), data_selector="data")
        with pytest.raises(PagingLoopError, match="said has 2") as error:
            list(client.paginate("items"))
        assert service.count() == 4
    assert "s3cret-key" not in str(error.value) and "api_key=***" in str(error.value)


def test_a_sync_past_its_time_budget_stops_before_its_next_request(configured, warehouse, monkeypatch):
    monkeypatch.setenv("SYNC__TIME_BUDGET_SECONDS", "0")
    [result] = sync(["mobilize"], warehouse, echo=lambda _: None)
    assert result.status == "failed" and "TimeBudgetExceeded" in result.message, result
    assert "time_budget_seconds" in result.message
    assert configured.services["mobilize"].count() == 0


def test_a_server_dripping_bytes_is_timed_out_per_request_not_per_read():
    def page(request: Request):
        return json_response({"data": [{"id": n, "padding": "x" * 40} for n in range(10)], "next": None})

    with FakeService(page, name="drip") as service:
        service.faults.drip_bytes_per_second = 64  # every read returns data well within the timeout
        client = VendorClient(vendor="Drip", base_url=service.url, credential_variable="X",
                              policy=HttpPolicy(max_attempts=2, backoff_factor=0.01, timeout=1),
                              paginator=JSONLinkPaginator(next_url_path="next"), data_selector="data")
        with pytest.raises(VendorHttpError, match="ReadTimeout"):
            list(client.paginate("items"))
        assert service.count() == 2, "each attempt was cut at its deadline, then retried once"


def test_an_html_page_is_reported_as_a_decoding_error_with_its_url_and_the_traceback_is_logged(
        configured, warehouse, tmp_path, capsys):
    configured.services["mobilize"].faults.html_pages = 1
    log_file = tmp_path / "sync.log"
    assert main(["--log-file", str(log_file), "sync", "mobilize", "--no-transform"]) == 1
    printed = capsys.readouterr()
    assert "StopIteration" not in printed.err
    assert "VendorDecodeError" in printed.err and "is not JSON" in printed.err and "text/html" in printed.err
    assert f"{configured.services['mobilize'].url}/" in printed.err
    assert "Traceback (most recent call last)" not in printed.err, "the traceback is for --verbose"
    logged = log_file.read_text()
    assert "Traceback (most recent call last)" in logged and "VendorDecodeError" in logged
    configured.services["mobilize"].faults.html_pages = 1
    assert main(["--verbose", "sync", "mobilize", "--no-transform"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_credentials_in_urls_are_masked_on_the_console_and_in_the_run_log(configured, warehouse, monkeypatch, capsys):
    monkeypatch.setenv("SOURCES__MOBILIZE__BASE_URL", "http://analyst:hunter2-password@127.0.0.1:9/v1")
    assert main(["sync", "mobilize", "--no-transform"]) == 1
    printed = capsys.readouterr()
    assert "could not be reached" in printed.err
    recorded = runlog.latest(runlog.read(warehouse), "mobilize")
    for text in (printed.out + printed.err, recorded.message):
        assert "hunter2-password" not in text and "analyst:***@127.0.0.1:9" in text


def test_signed_download_links_are_masked_in_any_message():
    from pipelines.redact import redact

    link = ("https://bucket.s3.amazonaws.com/org/full/signatures.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAEXAMPLE%2F20261202&X-Amz-Security-Token=FwoGZXIvYXdz&X-Amz-Signature=9f0e1d"
            "&Signature=abc123&Expires=1764700000")
    masked = redact(f"download failed at {link}: 403", set())
    for secret in ("AKIAEXAMPLE", "FwoGZXIvYXdz", "9f0e1d", "abc123"):
        assert secret not in masked
    assert "signatures.csv?" in masked and "Expires=1764700000" in masked


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has died and waits only to be reaped


def test_dbt_dies_with_a_transform_killed_by_sigkill(tmp_path, warehouse):
    """A stand-in `dbt` beside a stand-in interpreter (the runner runs the dbt next to sys.executable)."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from pipelines import REPO_ROOT

    environment = tmp_path / "venv"
    (environment / "bin").mkdir(parents=True)
    venv = Path(sys.prefix)
    shutil.copy(venv / "pyvenv.cfg", environment / "pyvenv.cfg")
    (environment / "lib").symlink_to(venv / "lib")
    (environment / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    pid_file = tmp_path / "dbt.pid"
    fake_dbt = environment / "bin" / "dbt"
    fake_dbt.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 120\n")
    fake_dbt.chmod(0o755)
    transform = subprocess.Popen([str(environment / "bin" / "python"), "-m", "pipelines", "transform"], cwd=REPO_ROOT,
                                 env={**os.environ, "WAREHOUSE_PATH": str(warehouse)})
    try:
        for _ in range(600):  # dbt started, or the transform gave up
            if pid_file.exists() and pid_file.read_text().strip() or transform.poll() is not None:
                break
            time.sleep(0.1)
        dbt_pid = int(pid_file.read_text())
        transform.send_signal(signal.SIGKILL)
        transform.wait()
        for _ in range(100):
            if not _alive(dbt_pid):
                break
            time.sleep(0.1)
        still_running = _alive(dbt_pid)
        if still_running:
            os.kill(dbt_pid, signal.SIGKILL)
        assert not still_running, "dbt kept running without the writer lock"
    finally:
        transform.kill()


def test_records_without_a_usable_id_are_rejected_and_the_rest_load(configured, warehouse, monkeypatch, tmp_path):
    from sandbox import mobilize as fake
    from tests.conftest import query

    events = sorted(configured.world.vendors["mobilize"].events)
    broken = {events[5]: "not-a-number", events[6]: [7]}
    render = fake.MobilizeApi._event_json

    def with_broken_ids(api, event, *args, **kwargs):  # noqa: ANN001, ANN202
        rendered = render(api, event, *args, **kwargs)
        if event.id in broken:
            rendered["id"] = broken[event.id]
        return rendered

    monkeypatch.setattr(fake.MobilizeApi, "_event_json", with_broken_ids)
    # the fake caches listings by world version: a version of their own, given back afterwards
    monkeypatch.setattr(configured.world, "version", -1)
    log_file = tmp_path / "sync.log"
    assert main(["--quiet", "--log-file", str(log_file), "sync", "mobilize", "--no-transform"]) == 0
    summary = log_file.read_text()  # the run summary's plain text
    assert "rejected: table events: 2 records without a usable id, in mobilize._rejected_records" in summary
    result = runlog.latest(runlog.read(warehouse), "mobilize")
    assert result.status == "loaded", result.message
    assert result.rejected == {"events": "2 records without a usable id, in mobilize._rejected_records"}
    rejected = query(warehouse, "select source, resource, table_name, reason, record "
                                "from mobilize._rejected_records order by reason")
    assert [row[:4] for row in rejected] == [
        ("mobilize", "events_org_1", "events", "id is text where the table's ids are numbers"),
        ("mobilize", "events_org_1", "events", "id of type list")]
    assert '"id": [7]' in rejected[1][4], "the record is kept whole, to fix at the vendor"
    [(loaded,)] = query(warehouse, "select count(*) from mobilize.events")
    assert loaded > 0, "every other event loaded"
    assert not query(warehouse, "select column_name from information_schema.columns where table_schema = 'mobilize' "
                                "and table_name = 'events' and column_name like 'id\\_\\_%' escape '\\'"), \
        "no variant id column: the text id never reached the table"


def test_a_failed_load_package_is_retried_once_then_set_aside_and_never_blocks_again(configured, warehouse, capsys):
    import dlt
    from dlt.pipeline.exceptions import PipelineStepFailed

    from pipelines import status
    from pipelines.runner import make_pipeline

    assert sync(["mobilize"], warehouse, echo=lambda _: None)[0].status == "loaded"
    pipeline = make_pipeline("mobilize", warehouse)

    @dlt.resource(name="people", primary_key="id", write_disposition="merge")
    def people_without_ids():  # what a vendor sent before ids were checked: fails at the NOT NULL key
        yield [{"id": 1, "given_name": "A"}, {"given_name": "B"}]

    with pytest.raises(PipelineStepFailed):
        pipeline.run(people_without_ids())
    assert pipeline.has_pending_data

    # a full refresh, the hardest case: the cursors must come back from the warehouse to be reset
    first, second = (sync(["mobilize"], warehouse, echo=lambda _: None, refresh=refresh)[0]
                     for refresh in ("drop_sources", None))
    assert first.status == "loaded", first.message
    [(package, why)] = first.rejected.items()
    assert package.startswith("load package ") and "set aside" in why and ("NOT NULL" in why or "non-nullable" in why)
    assert second.status == "loaded" and not second.rejected
    people = len(configured.world.vendors["mobilize"].people)
    from tests.conftest import query
    [(loaded,)] = query(warehouse, "select count(*) from mobilize.people")
    assert loaded == people
    [mobilize] = [s for s in status.collect(warehouse).sources if s.source == "mobilize"]
    assert mobilize.set_aside == [package.removeprefix("load package ")]
    main(["status"])
    assert "mobilize: 1 failed load package(s) set aside" in capsys.readouterr().out


def test_a_full_refresh_killed_during_its_load_leaves_every_table_whole(configured, warehouse, monkeypatch):
    from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient

    from tests.conftest import query

    tables = ("people", "events", "attendances", "tags", "taggings")

    def counts() -> dict[str, int]:
        return {table: query(warehouse, f'select count(*) from action_network."{table}"')[0][0] for table in tables}

    [first] = sync(["action_network"], warehouse, echo=lambda _: None)
    assert first.status == "loaded", first.message
    before = counts()
    assert all(before.values()), before

    execute_sql = DuckDbSqlClient.execute_sql

    def dies_writing_people(self, sql, *args, **kwargs):  # noqa: ANN001, ANN202 - the process killed mid-load
        if 'INSERT INTO "action_network"."people"' in sql:
            raise RuntimeError("killed while writing action_network.people")
        return execute_sql(self, sql, *args, **kwargs)

    monkeypatch.setattr(DuckDbSqlClient, "execute_sql", dies_writing_people)
    [killed] = sync(["action_network"], warehouse, echo=lambda _: None, refresh="drop_sources")
    assert killed.status == "failed"
    monkeypatch.setattr(DuckDbSqlClient, "execute_sql", execute_sql)
    assert counts() == before, "no table was emptied or half-replaced"

    [again] = sync(["action_network"], warehouse, echo=lambda _: None, refresh="drop_sources")
    assert again.status == "loaded", again.message
    assert counts() == before
    configured.world.advance(0.05)
    [incremental] = sync(["action_network"], warehouse, echo=lambda _: None)
    assert 0 < sum(incremental.rows.values()) < sum(before.values()), "reads only what changed"
    after = counts()
    assert all(after[table] >= before[table] for table in tables), "and merges it again, replacing nothing"


def test_transform_refuses_to_rebuild_the_marts_after_a_sharp_drop_without_a_full_refresh(
        configured, warehouse, monkeypatch, capsys):
    import duckdb

    from pipelines import runner, status

    monkeypatch.setattr(runner, "dbt", lambda *args, **kwargs: type("Done", (), {"returncode": 0})())
    monkeypatch.setattr(runner, "publish_snapshot", lambda warehouse: None)
    [loaded] = sync(["mobilize"], warehouse, echo=lambda _: None)
    assert loaded.status == "loaded" and runner.transform(warehouse) == 0
    with duckdb.connect(str(warehouse)) as con:  # what a killed refresh or an empty vendor answer leaves
        con.execute("delete from mobilize.people where id % 10 <> 0")

    assert runner.transform(warehouse) == 1
    refused = runlog.latest(runlog.read(warehouse), "transform")
    assert refused.status == "failed" and "fell from" in refused.rejected["mobilize.people"]
    assert status.collect(warehouse).transform_state == "failed"
    main(["status"])
    assert "mobilize.people: fell from" in capsys.readouterr().out
    assert main(["--quiet", "sync", "mobilize"]) == 1  # a sync's own transform is refused the same way
    said = capsys.readouterr().err
    assert said.count("marts not rebuilt") == 1 and "dbt.log" not in said, "what to do, once; dbt did not run"

    [refreshed] = sync(["mobilize"], warehouse, echo=lambda _: None, refresh="drop_sources")
    assert refreshed.status == "loaded" and runner.transform(warehouse) == 0, "a completed full refresh is believed"
    monkeypatch.setenv("TRANSFORM__MAX_ROW_DROP", "1")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from mobilize.people")
    assert runner.transform(warehouse) == 0, "the guard is configurable"


def test_a_full_disk_fails_publishing_and_run_logging_with_one_line_each(configured, warehouse, monkeypatch, capsys):
    import errno
    import os

    import duckdb

    from pipelines import runner
    from pipelines.warehouse import snapshot_path

    monkeypatch.setattr(runner, "dbt", lambda *args, **kwargs: type("Done", (), {"returncode": 0})())
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema analytics; create table analytics.people as select 1 as person_id")
    assert main(["transform"]) == 0
    published = snapshot_path(warehouse).read_bytes()

    connect = duckdb.connect

    class FullDisk:
        def __init__(self, con):  # noqa: ANN001
            self.con = con

        def execute(self, sql, *args):  # noqa: ANN001, ANN202
            if sql.startswith("create table snapshot."):
                raise duckdb.IOException('Could not write file ".warehouse_marts.duckdb.new": No space left on device')
            return self.con.execute(sql, *args)

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc):  # noqa: ANN001, ANN204
            self.con.close()

        def close(self):  # noqa: ANN202
            self.con.close()

    monkeypatch.setattr(duckdb, "connect", lambda *args, **kwargs: FullDisk(connect(*args, **kwargs)))
    capsys.readouterr()
    assert main(["transform"]) == 1
    monkeypatch.setattr(duckdb, "connect", connect)
    printed = capsys.readouterr().err
    assert "No space left on device" in printed and "previous snapshot stays" in printed
    assert "Traceback" not in printed and len(printed.strip().splitlines()) == 1
    recorded = runlog.latest(runlog.read(warehouse), "transform")
    assert recorded.status == "failed" and "No space left on device" in recorded.message
    assert [p.name for p in warehouse.parent.iterdir() if ".new" in p.name] == []
    assert snapshot_path(warehouse).read_bytes() == published

    def no_space(descriptor, data):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runlog.os, "write", no_space)
    assert main(["sync", "mobilize", "--no-transform"]) == 0, "the sync itself loaded"
    printed = capsys.readouterr().err
    assert "could not record the mobilize run" in printed and "No space left on device" in printed
    assert "Traceback" not in printed


def test_loaded_packages_are_kept_bounded_and_staging_copies_emptied(configured, warehouse, monkeypatch):
    from pipelines.runner import make_pipeline
    from tests.conftest import query

    monkeypatch.setenv("SYNC__KEEP_LOADED_PACKAGES", "1")
    for _ in range(2):
        configured.world.advance(0.05)
        assert sync(["mobilize"], warehouse, echo=lambda _: None)[0].status == "loaded"
    assert len(make_pipeline("mobilize", warehouse).list_completed_load_packages()) == 1
    staged = query(warehouse, "select table_name from information_schema.tables where table_schema = 'mobilize_staging' "
                              "and table_name not like '\\_dlt%' escape '\\'")
    assert staged, "merges load through the staging dataset"
    for (table,) in staged:
        assert query(warehouse, f'select count(*) from mobilize_staging."{table}"') == [(0,)], table


def test_a_load_error_quoting_a_record_names_no_person(configured, warehouse, monkeypatch):
    import duckdb
    from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient

    execute_sql = DuckDbSqlClient.execute_sql

    def refuses_a_person(self, sql, *args, **kwargs):  # noqa: ANN001, ANN202 - how DuckDB words a bad value
        if 'INSERT INTO "mobilize"."people"' in sql or 'INSERT INTO "mobilize_staging"."people"' in sql:
            raise duckdb.ConversionException(
                "Conversion Error: Could not convert string 'Ada Lovelace <ada@example.org>' to INT64")
        return execute_sql(self, sql, *args, **kwargs)

    monkeypatch.setattr(DuckDbSqlClient, "execute_sql", refuses_a_person)
    [result] = sync(["mobilize"], warehouse, echo=lambda _: None)
    assert result.status == "failed" and "Conversion Error" in result.message, result
    recorded = runlog.latest(runlog.read(warehouse), "mobilize")
    for text in (result.message, *result.rejected.values(), result.detail, recorded.message, *recorded.rejected.values()):
        assert "Ada" not in text and "ada@example.org" not in text


def test_table_names_with_quotes_are_names_not_statements(warehouse, tmp_path, no_source_config):
    """A raw or mart table named to break out of its quotes: `status`, `report` and `export` only
    ever count or copy it, and a name that is not a plain file name is not exported."""
    import duckdb

    from pipelines.sql import identifier
    from pipelines.warehouse import publish_snapshot

    injected = tmp_path / "injected.csv"
    name = f"x\"; copy (select 42) to '{injected}'; --"
    with duckdb.connect(str(warehouse)) as con:
        for schema in ("controlshift", "analytics"):
            con.execute(f"create schema {schema}")
            con.execute(f"create table {schema}.{identifier(name)} as select 1 as id")
        con.execute("create table analytics.people as select 1 as person_id")
    publish_snapshot(warehouse)
    main(["--quiet", "status", "--json"])
    main(["--quiet", "report"])
    assert main(["--quiet", "export"]) == 0
    assert not injected.exists(), "a table name ran as SQL"
    assert sorted(path.name for path in (warehouse.parent / "exports").iterdir()) == ["people.parquet"]
