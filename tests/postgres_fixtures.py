"""Fixtures for the Postgres engine, and reading the warehouse on either engine.

- `postgres_server` (session): the run's throwaway server (`sandbox/postgres.py`), one for the whole
  run: the controlling process starts it before the pytest-xdist workers start, hands them its
  address in the environment (`WAREHOUSE_TESTS_POSTGRES`) and discards it at the end (a start costs about
  a second, a server per worker would cost as many). A machine that cannot run one skips the tests
  that need it, saying why;
- `postgres_warehouse`: a fresh database on it for one test, with `WAREHOUSE_ENGINE=postgres` and
  `DESTINATION__POSTGRES__CREDENTIALS` pointing at it; its URL;
- `engine`: runs a test once per engine, `duckdb` then `postgres` (the Postgres run with
  `postgres_warehouse`), so one test body proves both;
- `query`, `table_rows`, `execute`: what a test reads or writes in the warehouse, on whichever
  engine `WAREHOUSE_ENGINE` names (DuckDB: the `warehouse` path given).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import duckdb
import pytest

from pipelines.sql import identifier
from pipelines.warehouse import POSTGRES_CREDENTIALS, postgres_url, warehouse_engine
from sandbox import postgres

ENGINES = ("duckdb", "postgres")
# the run's server as the workers find it: {"folder", "port", "password"}, or {"unavailable": why}
SHARED_SERVER = "WAREHOUSE_TESTS_POSTGRES"
_STARTED = pytest.StashKey[postgres.LocalPostgres]()


def pytest_configure(config: pytest.Config) -> None:
    """The controlling process (not an xdist worker) starts the run's server; workers inherit its address."""
    if hasattr(config, "workerinput"):
        return
    try:
        server = postgres.start()
    except postgres.PostgresUnavailable as unavailable:
        os.environ[SHARED_SERVER] = json.dumps({"unavailable": str(unavailable)})
        return
    config.stash[_STARTED] = server
    os.environ[SHARED_SERVER] = json.dumps({"folder": str(server.folder), "port": server.port,
                                            "password": server.password})


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_STARTED, None)
    if server is not None:
        postgres.discard(server)
        os.environ.pop(SHARED_SERVER, None)


@pytest.fixture(scope="session")
def postgres_server() -> postgres.LocalPostgres:
    """The run's server, shared by every worker: each test keeps to a database of its own."""
    shared = json.loads(os.environ.get(SHARED_SERVER) or '{"unavailable": "the run started no server"}')
    if "unavailable" in shared:
        pytest.skip(f"no Postgres server for the postgres engine: {shared['unavailable']}")
    return postgres.LocalPostgres(Path(shared["folder"]), shared["port"], shared["password"])


@pytest.fixture
def postgres_warehouse(postgres_server: postgres.LocalPostgres, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new empty database for this test, which the pipeline's Postgres engine is pointed at."""
    url = postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("WAREHOUSE_ENGINE", "postgres")
    monkeypatch.setenv(POSTGRES_CREDENTIALS, url)
    return url


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        request.getfixturevalue("postgres_warehouse")
    else:
        monkeypatch.setenv("WAREHOUSE_ENGINE", "duckdb")
    return request.param


def query(warehouse: Path, sql: str) -> list[tuple]:
    """Rows of `sql` (written to run on both engines) from the warehouse the environment names."""
    if warehouse_engine() == "postgres":
        import psycopg2  # noqa: PLC0415

        con = psycopg2.connect(postgres_url())
        try:
            with con.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            con.close()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def execute(warehouse: Path, sql: str) -> None:
    """Runs one statement on the warehouse, committed (a test's own view, say)."""
    if warehouse_engine() == "postgres":
        import psycopg2  # noqa: PLC0415

        con = psycopg2.connect(postgres_url())
        try:
            with con, con.cursor() as cursor:
                cursor.execute(sql)
        finally:
            con.close()
        return
    with duckdb.connect(str(warehouse)) as con:
        con.execute(sql)


def table_rows(warehouse: Path, table: str, exclude_prefix: str = "_dlt") -> set[tuple]:
    """A table's rows (`schema.table`) without dlt's bookkeeping columns, each value as text, for
    exact before/after comparisons on one engine."""
    schema, name = table.split(".")
    columns = [c for (c,) in query(warehouse, "select column_name from information_schema.columns where "
                                              f"table_schema = '{schema}' and table_name = '{name}' "
                                              "order by ordinal_position") if not c.startswith(exclude_prefix)]
    return set(query(warehouse, f"select {', '.join(f'cast({identifier(c)} as text)' for c in columns)} from {table}"))


def create_unfriendly_database(server: postgres.LocalPostgres, name: str) -> str:
    """A new database that sorts text by language (ICU en-US, where "Z" > "a"; when the server has
    ICU) in a session time zone far from UTC (Chatham, +12:45/+13:45): what the marts must not
    notice. Its URL."""
    import psycopg2  # noqa: PLC0415

    con = psycopg2.connect(server.database_url("postgres"))
    con.autocommit = True
    try:
        with con.cursor() as cursor:
            cursor.execute("select count(*) from pg_collation where collprovider = 'i'")
            icu = cursor.fetchone()[0] > 0
            cursor.execute(f"create database {identifier(name)} template template0"
                           + (" locale_provider icu icu_locale 'en-US' locale 'C.utf8'" if icu else ""))
            cursor.execute(f"alter database {identifier(name)} set timezone = 'Pacific/Chatham'")
    finally:
        con.close()
    return server.database_url(name)
