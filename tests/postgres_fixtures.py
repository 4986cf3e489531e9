"""Fixtures for the Postgres engine, and reading the warehouse on either engine.

- `postgres_server` (session): a throwaway server (`sandbox/postgres.py`), one per pytest-xdist
  worker, discarded at the end; a machine that cannot run one skips the tests that need it, saying why;
- `postgres_warehouse`: a fresh database on it for one test, with `WAREHOUSE_ENGINE=postgres` and
  `DESTINATION__POSTGRES__CREDENTIALS` pointing at it; its URL;
- `engine`: runs a test once per engine, `duckdb` then `postgres` (the Postgres run with
  `postgres_warehouse`), so one test body proves both;
- `query`, `table_rows`, `execute`: what a test reads or writes in the warehouse, on whichever
  engine `WAREHOUSE_ENGINE` names (DuckDB: the `warehouse` path given).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import duckdb
import pytest

from pipelines.sql import identifier
from pipelines.warehouse import POSTGRES_CREDENTIALS, postgres_url, warehouse_engine
from sandbox import postgres

ENGINES = ("duckdb", "postgres")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.LocalPostgres]:
    try:
        server = postgres.start()
    except postgres.PostgresUnavailable as unavailable:
        pytest.skip(f"no Postgres server for the postgres engine: {unavailable}")
    try:
        yield server
    finally:
        postgres.discard(server)


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
