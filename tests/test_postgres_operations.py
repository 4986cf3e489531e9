"""The warehouse on Postgres: one writer (an advisory lock), marts swapped in whole, a read-only
role for BI tools, and every read command (status, export, report, sql, the demo's summary, the
identity scores) through the one reader interface: those tests run one body on each engine.

The marts here are tables made by hand in `analytics_build`, as dbt makes them there; a real sync
and dbt build on Postgres are the integration tests' business.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import duckdb
import psycopg2
import pyarrow.parquet as pq
import pytest

from pipelines import report, status
from pipelines.cli import EXIT_BUSY, main
from pipelines.evaluation import score_identities
from pipelines.summary import demo_summary
from pipelines.warehouse import (BUILD_SCHEMA, MARTS_SCHEMA, WarehouseBusy, WarehouseError, connect_marts,
                                 connect_warehouse, marts_location, postgres_url, publish_snapshot, writer_lock)

@pytest.fixture
def pg_warehouse(postgres_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database as the warehouse (tests/postgres_fixtures.py), the local folder in tmp_path; its URL."""
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    return postgres_warehouse


def execute(target: str | Path, *statements: str) -> list[tuple]:
    """Runs statements on a Postgres URL or a DuckDB file; the last one's rows."""
    if isinstance(target, Path):
        with duckdb.connect(str(target)) as con:
            for statement in statements:
                con.execute(statement)
            return con.fetchall() if con.description else []
    con = psycopg2.connect(target)
    con.autocommit = True
    try:
        with con.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        con.close()


def build_marts(target: str | Path, people: int = 3, schema: str = BUILD_SCHEMA) -> None:
    """The marts as dbt leaves them in its schema for them (standard SQL, run on either engine)."""
    execute(target, f"drop schema if exists {schema} cascade", f"create schema {schema}",
            f"create table {schema}.people as select 'p' || n as person_id, "
            "case when n % 2 = 0 then array['action_network', 'mobilize'] else array['mobilize'] end as sources, "
            "n * 1.5 as total_donated, now() as last_seen_at from generate_series(1, " + str(people) + ") as t(n)",
            f"create table {schema}.person_identities as select 'p' || n as person_id, 'mobilize' as source, "
            "n::text as source_person_id from generate_series(1, " + str(people) + ") as t(n)",
            f"create table {schema}.events as select 'e1' as event_id, timestamptz '2026-11-02 18:00Z' as start_at",
            f"create table {schema}.attendances as select 'mobilize' as source, 'p1' as person_id, 'e1' as event_id, "
            "timestamptz '2026-11-01 12:00Z' as rsvp_at, true as attended",
            f"create table {schema}.actions as select 'rsvp' as action_type, 'p1' as person_id")


def load_raw(target: str | Path) -> None:
    execute(target, "create schema mobilize",
            "create table mobilize.people as select n as id from generate_series(1, 7) as t(n)",
            "create table mobilize._dlt_loads (load_id text, status int, inserted_at timestamptz)",
            "insert into mobilize._dlt_loads values ('1', 0, '2026-12-01 10:00Z'), ('2', 1, '2026-12-02 10:00Z')")


# ----------------------------------------------------------------------------- the writer lock


def test_a_second_writer_exits_with_a_clear_message(pg_warehouse: str, capsys) -> None:  # noqa: ANN001
    with writer_lock(Path("unused")):
        assert main(["transform"]) == EXIT_BUSY
        assert main(["sync", "--no-transform"]) == EXIT_BUSY
    out = capsys.readouterr().out
    assert f"pid {__import__('os').getpid()}" in out and "--wait" in out and "Postgres database" in out


def test_a_second_writer_can_wait_its_turn(pg_warehouse: str) -> None:
    holding, released = threading.Event(), threading.Event()

    def hold_briefly() -> None:
        with writer_lock(Path("unused")):
            holding.set()
            released.wait(5)
            time.sleep(0.3)

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    holding.wait(10)
    with pytest.raises(WarehouseBusy):
        with writer_lock(Path("unused")):
            pass
    released.set()
    with writer_lock(Path("unused"), wait_seconds=10):
        pass
    holder.join()


def test_a_killed_writer_releases_the_lock(pg_warehouse: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        from pathlib import Path
        from pipelines.warehouse import writer_lock
        with writer_lock(Path("unused")):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(WarehouseBusy):
        with writer_lock(Path("unused")):
            pass
    holder.kill()
    holder.wait()
    with writer_lock(Path("unused"), wait_seconds=10):  # the server notices the closed connection at once
        pass


# ----------------------------------------------------------------------------- the schema swap and the reader role


def test_the_swap_publishes_the_build_whole_and_readers_never_see_it_half_built(pg_warehouse: str) -> None:
    build_marts(pg_warehouse, 3)
    publish_snapshot(Path("unused"))
    assert execute(pg_warehouse, "select count(*) from analytics.people") == [(3,)]
    reader = psycopg2.connect(pg_warehouse)  # a BI tool, connected throughout
    with reader.cursor() as cursor:
        build_marts(pg_warehouse, 5)  # the next build, in progress
        cursor.execute("select count(*) from analytics.people")
        assert cursor.fetchone() == (3,)
        reader.rollback()
        publish_snapshot(Path("unused"))
        cursor.execute("select count(*) from analytics.people")
        assert cursor.fetchone() == (5,)
    reader.close()
    assert execute(pg_warehouse, "select nspname from pg_namespace where nspname like 'analytics%' order by 1") == \
        [("analytics",)]


def test_a_reader_idle_inside_the_old_marts_never_stalls_the_publish(pg_warehouse: str, monkeypatch) -> None:  # noqa: ANN001
    from pipelines import postgres

    monkeypatch.setattr(postgres, "OLD_MARTS_LOCK_TIMEOUT", "200ms")
    build_marts(pg_warehouse, 3)
    publish_snapshot(Path("unused"))
    idle = psycopg2.connect(pg_warehouse)  # a BI session left idle in a transaction that read the marts
    with idle.cursor() as cursor:
        cursor.execute("select count(*) from analytics.people")
        build_marts(pg_warehouse, 5)
        publish_snapshot(Path("unused"))  # published; the old marts it still holds are left for later
        cursor.execute("select count(*) from analytics.people")
        assert cursor.fetchone() == (5,)
    idle.commit()
    idle.close()
    [(leftovers,)] = execute(pg_warehouse, "select count(*) from pg_namespace where nspname like 'analytics_old_%'")
    assert leftovers == 1
    build_marts(pg_warehouse, 6)
    publish_snapshot(Path("unused"))  # and dropped by the next publish
    assert execute(pg_warehouse, "select nspname from pg_namespace where nspname like 'analytics%'") == \
        [("analytics",)]


def test_a_member_of_the_reader_role_reads_the_marts_and_nothing_else(pg_warehouse: str) -> None:
    load_raw(pg_warehouse)
    build_marts(pg_warehouse)
    publish_snapshot(Path("unused"))
    build_marts(pg_warehouse, 4)
    publish_snapshot(Path("unused"))  # the grants survive a second swap
    login = f"metabase_{uuid.uuid4().hex[:8]}"
    execute(pg_warehouse, f"create role {login} login password 'bi-secret' in role warehouse_reader")
    as_bi = pg_warehouse.replace(pg_warehouse.split("//")[1].split("@")[0], f"{login}:bi-secret")
    assert execute(as_bi, "select count(*) from analytics.people") == [(4,)]
    for refused in ("insert into analytics.people (person_id) values ('x')", "delete from analytics.people",
                    "create table analytics.scratch (x int)", "drop table analytics.events",
                    "select count(*) from mobilize.people"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            execute(as_bi, refused)
    execute(pg_warehouse, f"drop owned by {login}", f"drop role {login}")


# ----------------------------------------------------------------------------- the read commands


@pytest.fixture
def published(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Raw tables and published marts on the engine `engine` names (tests/postgres_fixtures.py)."""
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    target = postgres_url() if engine == "postgres" else warehouse
    load_raw(target)
    build_marts(target, schema=BUILD_SCHEMA if engine == "postgres" else MARTS_SCHEMA)
    publish_snapshot(warehouse)
    return warehouse


def test_status_counts_raw_rows_and_the_last_load(published: Path) -> None:
    result = status.collect(published)
    [mobilize] = [s for s in result.sources if s.source == "mobilize"]
    assert mobilize.tables == {"people": 7} and not result.note
    assert mobilize.last_success_at == dt.datetime(2026, 12, 1, 10, tzinfo=dt.timezone.utc).timestamp()


def test_export_streams_every_mart_to_parquet_with_its_types(published: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from pipelines import postgres

    original = postgres.write_parquet
    monkeypatch.setattr(postgres, "write_parquet", lambda con, query, target: original(con, query, target, batch_rows=2))
    assert main(["export"]) == 0
    people = pq.read_table(tmp_path / "exports" / "people.parquet")
    assert people.num_rows == 3 and people.column("sources").to_pylist()[1] == ["action_network", "mobilize"]
    assert str(people.schema.field("last_seen_at").type) == "timestamp[us, tz=UTC]"
    assert people.column("total_donated").to_pylist() == [1.5, 3.0, 4.5]
    assert sorted(path.name for path in (tmp_path / "exports").iterdir()) == [
        "actions.parquet", "attendances.parquet", "events.parquet", "people.parquet", "person_identities.parquet"]


def test_report_and_demo_summary_read_the_marts(published: Path) -> None:
    page = report.write(published).read_text()
    assert "analytics.people</td><td class=\"n\">3" in page and "action_network + mobilize: 1" in page
    summary = demo_summary(published)
    assert re.search(r"raw rows from mobilize +7\n", summary) and "analytics.people" in summary
    assert f"The marts are in {marts_location(published)}" in summary


def test_sql_shell_is_read_only(published: Path, capsys) -> None:  # noqa: ANN001
    assert main(["sql", "-c", "select count(*) as people_total from analytics.people;"]) == 0
    out = capsys.readouterr().out
    assert "people_total" in out and re.search(r"│ +3 │", out)
    assert main(["sql", "-c", "create table analytics.scratch as select 1;"]) == 1
    assert "read-only" in capsys.readouterr().out
    assert main(["sql", "--csv", "-c", ".schema analytics.events\nselect 1 as one, 'a,b' as two;"]) == 0
    assert capsys.readouterr().out.endswith('one,two\n1,"a,b"\n')


def test_identity_scores(published: Path) -> None:
    truth = [("mobilize", "1", 1), ("mobilize", "2", 1), ("mobilize", "3", 2)]
    scores = score_identities(published, truth)
    assert (scores.records, scores.people, scores.true_people, scores.recall) == (3, 3, 2, 0.0)


def test_one_reader_interface_on_both_engines(published: Path) -> None:
    with connect_marts() as marts, connect_warehouse() as whole:
        assert marts.rows("select person_id from analytics.people where person_id in (?, ?) order by 1",
                          ["p1", "p2"]) == [("p1",), ("p2",)]
        assert marts.query("select 1 as one")[0] == ["one"]
        assert whole.value("select count(*) from mobilize.people where id > ? and '50%' like '50%'", [3]) == 4
        with pytest.raises(WarehouseError):
            whole.rows("select nope")


# ----------------------------------------------------------------------------- transform and demo on Postgres


def _dbt_building(url: str, people: int, passes: bool):  # noqa: ANN202
    """Stands in for dbt until the models are portable: builds the marts into the build schema."""
    def dbt(*args: str, **kwargs: object) -> subprocess.CompletedProcess:
        assert execute(url, "select count(*) from pg_namespace where nspname = 'analytics_build'") == [(0,)]
        build_marts(url, people)
        return subprocess.CompletedProcess(args, 0 if passes else 1)
    return dbt


def test_transform_publishes_only_a_passing_build(pg_warehouse: str, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from pipelines import runner

    warehouse = tmp_path / "warehouse.duckdb"
    execute(pg_warehouse, f"create schema {BUILD_SCHEMA}", f"create table {BUILD_SCHEMA}.removed_model (x int)")
    monkeypatch.setattr(runner, "dbt", _dbt_building(pg_warehouse, 3, passes=True))
    assert runner.transform(warehouse) == 0
    assert execute(pg_warehouse, "select count(*) from analytics.people") == [(3,)]
    # a model dropped from the project (or left by a failed build) is not published with the next marts
    assert execute(pg_warehouse, "select count(*) from information_schema.tables where table_name = 'removed_model'") \
        == [(0,)]
    monkeypatch.setattr(runner, "dbt", _dbt_building(pg_warehouse, 5, passes=False))
    assert runner.transform(warehouse) == 1
    assert execute(pg_warehouse, "select count(*) from analytics.people") == [(3,)]


def test_the_demo_replaces_only_its_own_database(pg_warehouse: str, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from pipelines.cli import _start_demo_warehouse
    from pipelines.runlog import runlog_path

    warehouse = tmp_path / "warehouse.duckdb"
    execute(pg_warehouse, "create table public.members (id int)")
    assert not _start_demo_warehouse(warehouse, 10, 1)
    assert "not the demo's" in capsys.readouterr().out
    execute(pg_warehouse, "drop table public.members")
    assert _start_demo_warehouse(warehouse, 10, 1)
    load_raw(pg_warehouse)
    build_marts(pg_warehouse)
    runlog_path(warehouse).write_text("{}\n")
    assert _start_demo_warehouse(warehouse, 20, 2)  # a re-run: the earlier demo's schemas and run log go
    assert execute(pg_warehouse, "select nspname from pg_namespace where nspname not like 'pg\\_%' "
                                 "and nspname <> 'information_schema' order by 1") == [("main",), ("public",)]
    assert execute(pg_warehouse, "select people, seed from main.sandbox_demo") == [(20, 2)]
    assert not runlog_path(warehouse).exists()


def test_the_demo_without_credentials_starts_a_local_server_and_reuses_it(
        monkeypatch, postgres_server) -> None:  # noqa: ANN001
    """(The demo starts a server of its own; `postgres_server` skips this where no server can run.)"""
    from sandbox import postgres as local

    from pipelines.cli import _demo_postgres, _stop_instructions

    monkeypatch.setenv("WAREHOUSE_ENGINE", "postgres")
    monkeypatch.delenv("DESTINATION__POSTGRES__CREDENTIALS", raising=False)
    # as root the cluster runs as `postgres`, which cannot reach into pytest's owner-only folders
    tmp_path = Path(tempfile.mkdtemp(prefix="demo-postgres-"))
    tmp_path.chmod(0o711)
    warehouse = tmp_path / "warehouse.duckdb"
    try:
        folder = _demo_postgres(warehouse)
        url = __import__("os").environ["DESTINATION__POSTGRES__CREDENTIALS"]
        assert folder == tmp_path / ".warehouse.postgres" and execute(url, "select 1") == [(1,)]
        assert (folder / "demo_url").stat().st_mode & 0o777 == 0o600
        monkeypatch.delenv("DESTINATION__POSTGRES__CREDENTIALS")
        assert _demo_postgres(warehouse) == folder  # a re-run finds it running
        assert __import__("os").environ["DESTINATION__POSTGRES__CREDENTIALS"] == url
        assert f"-D {folder / 'data'} stop" in _stop_instructions(folder)
    finally:
        local.discard(local.LocalPostgres(tmp_path / ".warehouse.postgres", 0, ""))
        shutil.rmtree(tmp_path)
