"""The warehouse side of the ControlShift loader: the DuckDB file itself, or a Postgres server.

The loader (`loader.py`) plans and orders the files and `tables.py` parses them with DuckDB's
`read_csv` (its rejects and type rules are the behaviour both engines keep); a store is the few
operations that differ by engine (`WAREHOUSE_ENGINE`), so that the planning stays single:

- `execute` / `rows`: portable SQL on the warehouse (`?` placeholders): the bookkeeping, and
  `begin transaction` / `commit` / `rollback` around each table;
- `parser`: the DuckDB connection `read_csv` runs in. On DuckDB the warehouse itself, so a parsed
  file lands in its table without a copy; on Postgres a scratch DuckDB database on disk in the
  sync's temporary folder (deleted with it), never a file held in memory;
- `land(select, target)`: a new warehouse table holding what a parser query selects. Postgres
  gets it by `COPY … FROM STDIN` from a CSV file DuckDB wrote, streamed in chunks, inside the
  open transaction;
- `swap_in(staging, table)`: a full export's table replaces the old one in that transaction.

Names reaching SQL are quoted (`pipelines.sql.identifier` in the SQL both engines share,
`psycopg2.sql.Identifier` in Postgres's own); values travel as parameters or through COPY.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol, Sequence

import duckdb

from pipelines.sources.controlshift.exports import SCHEMA
from pipelines.sql import identifier, literal, psycopg2_query  # noqa: F401 - psycopg2_query: tests import it here

# what Postgres holds a parsed DuckDB column as; anything else travels as text
POSTGRES_TYPES = {
    "VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint", "TINYINT": "smallint",
    "UINTEGER": "bigint", "USMALLINT": "integer", "UTINYINT": "smallint", "UBIGINT": "numeric(20,0)",
    "HUGEINT": "numeric(38,0)", "DOUBLE": "double precision", "FLOAT": "real", "BOOLEAN": "boolean",
    "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIMESTAMPTZ": "timestamptz",
    "TIME": "time", "JSON": "jsonb", "UUID": "uuid", "INTERVAL": "interval",
}
# and back: a Postgres column (`format_type`) as the DuckDB type read_csv is told
DUCKDB_TYPES = {
    "text": "VARCHAR", "bigint": "BIGINT", "integer": "INTEGER", "smallint": "SMALLINT",
    "double precision": "DOUBLE", "real": "FLOAT", "boolean": "BOOLEAN", "date": "DATE",
    "timestamp without time zone": "TIMESTAMP", "timestamp with time zone": "TIMESTAMPTZ",
    "time without time zone": "TIME", "jsonb": "JSON", "json": "JSON", "uuid": "UUID", "interval": "INTERVAL",
}
# Postgres's longest name (NAMEDATALEN - 1); it silently cuts longer ones
MAX_NAME_BYTES = 63
DECIMAL = re.compile(r"(?:DECIMAL|numeric)\((\d+),\s*(\d+)\)", re.IGNORECASE)


def postgres_type(duckdb_type: str) -> str:
    decimal = DECIMAL.fullmatch(duckdb_type)
    return f"numeric({decimal[1]},{decimal[2]})" if decimal else POSTGRES_TYPES.get(duckdb_type.upper(), "text")


def duckdb_type_of(postgres_type_name: str) -> str:
    decimal = DECIMAL.fullmatch(postgres_type_name)
    return f"DECIMAL({decimal[1]},{decimal[2]})" if decimal else DUCKDB_TYPES.get(postgres_type_name, "VARCHAR")


class Store(Protocol):
    """What the loader and `TableWriter` need of a warehouse (see the module docstring)."""

    errors: tuple[type[Exception], ...]  # what a failed statement raises
    parser: duckdb.DuckDBPyConnection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    def existing_types(self, table: str) -> dict[str, str]: ...  # column -> DuckDB type

    def land(self, select: str, target: str, temporary: bool = False) -> dict[str, str]: ...  # column -> type

    def append(self, select: str, target: str) -> int: ...  # rows

    def swap_in(self, staging: str, table: str) -> None: ...


class DuckDBStore:
    """The DuckDB warehouse: parsing, landing and swapping all happen in its one connection."""

    errors: tuple[type[Exception], ...] = (duckdb.Error,)

    def __init__(self, warehouse: Path) -> None:
        self.con = duckdb.connect(str(warehouse))
        self.con.execute("set enable_progress_bar = false")
        self.parser = self.con

    def close(self) -> None:
        self.con.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def existing_types(self, table: str) -> dict[str, str]:
        return dict(self.rows("select column_name, data_type from information_schema.columns "
                              "where table_schema = ? and table_name = ? order by ordinal_position", [SCHEMA, table]))

    def land(self, select: str, target: str, temporary: bool = False) -> dict[str, str]:
        """`create table target as select` (in the warehouse: the parser is it); its column types."""
        self.con.execute(f"create {'temp ' if temporary else ''}table {target} as {select}")
        return {name: data_type for name, data_type, *_ in self.con.execute(f"describe {target}").fetchall()}

    def append(self, select: str, target: str) -> int:
        return int(self.con.execute(f"insert into {target} {select}").fetchone()[0] or 0)

    def swap_in(self, staging: str, table: str) -> None:
        self.con.execute(f"drop table if exists {SCHEMA}.{identifier(table)}")
        self.con.execute(f"alter table {staging} rename to {identifier(table)}")


class PostgresStore:
    """A Postgres warehouse, fed from a scratch DuckDB database by `COPY … FROM STDIN`.

    The connection runs in autocommit, so that the loader's `begin transaction` … `commit` is the
    one transaction of a table, exactly as on DuckDB."""

    # a chunk of the CSV file COPY streams to the server
    COPY_CHUNK = 1024 * 1024

    def __init__(self, url: str, scratch: Path) -> None:
        import psycopg2  # noqa: PLC0415 - only the Postgres engine needs the driver

        self.errors = (duckdb.Error, psycopg2.Error)
        self.con = psycopg2.connect(url, application_name="controlshift-loader")
        self.con.autocommit = True
        scratch.mkdir(parents=True, exist_ok=True)
        self.parser = duckdb.connect(str(scratch / "parser.duckdb"))
        self.parser.execute("set enable_progress_bar = false")
        self.parser.execute(f"set temp_directory = {literal(str(scratch / 'parser.tmp'))}")
        self.transfer = scratch / "to-postgres.csv"

    def close(self) -> None:
        try:
            self.parser.close()
        finally:
            self.con.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.con.cursor() as cursor:
            cursor.execute(*psycopg2_query(sql, params))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.con.cursor() as cursor:
            cursor.execute(*psycopg2_query(sql, params))
            return cursor.fetchall()

    def _relation(self, qualified: str) -> Optional[int]:
        """The table's oid, or None when there is no such table (`qualified`: quoted `schema.table`)."""
        [(oid,)] = self.rows("select to_regclass(?)::oid", [qualified])
        return oid

    def _postgres_types(self, qualified: str) -> dict[str, str]:
        oid = self._relation(qualified)
        if oid is None:
            return {}
        return dict(self.rows("select attname, format_type(atttypid, atttypmod) from pg_attribute "
                              "where attrelid = ? and attnum > 0 and not attisdropped order by attnum", [oid]))

    def existing_types(self, table: str) -> dict[str, str]:
        """The table's columns as the DuckDB types they were loaded from."""
        return {name: duckdb_type_of(kind) for name, kind in
                self._postgres_types(f"{identifier(SCHEMA)}.{identifier(table)}").items()}

    def land(self, select: str, target: str, temporary: bool = False) -> dict[str, str]:
        """The parser's `select` as a new Postgres table `target` (columns named and typed alike)."""
        from psycopg2 import sql  # noqa: PLC0415

        self.parser.execute(f"create or replace table parsed as {select}")
        try:
            parsed = [(name, kind) for name, kind, *_ in self.parser.execute("describe parsed").fetchall()]
            too_long = [name for name, _ in parsed if len(name.encode()) > MAX_NAME_BYTES]
            if too_long:  # Postgres would cut it short, and the next file would no longer find its column
                raise ValueError(f"column {too_long[0][:100]!r} is longer than the {MAX_NAME_BYTES} bytes "
                                 "Postgres allows in a name")
            types = {name: postgres_type(kind) for name, kind in parsed}
            columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
                                         for name, kind in types.items())
            self.execute(sql.SQL("create {} table {} ({})").format(
                sql.SQL("temp" if temporary else ""), sql.SQL(target), columns).as_string(self.con))
            self._copy(f"select {', '.join(_as_postgres_text(name, kind) for name, kind in parsed)} from parsed",
                       target, list(types))
        finally:
            self.parser.execute("drop table if exists parsed")
        return types

    def append(self, select: str, target: str) -> int:
        columns = [name for name, *_ in self.parser.execute(f"describe {select}").fetchall()]
        return self._copy(select, target, columns)

    def _copy(self, select: str, target: str, columns: list[str]) -> int:
        """What the parser selects, into `target`: DuckDB writes it as CSV on disk (every value
        quoted, a null left empty: Postgres's CSV reading of the two), COPY streams it in chunks."""
        from psycopg2 import sql  # noqa: PLC0415

        self.parser.execute(f"copy ({select}) to {literal(str(self.transfer))} (format csv, header false, force_quote *)")
        statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
            sql.SQL(target), sql.SQL(", ").join(map(sql.Identifier, columns)))
        try:
            with self.transfer.open("rb") as rows, self.con.cursor() as cursor:
                cursor.copy_expert(statement.as_string(self.con), rows, size=self.COPY_CHUNK)
                return cursor.rowcount
        finally:
            self.transfer.unlink(missing_ok=True)

    def swap_in(self, staging: str, table: str) -> None:
        """Drop and rename, as on DuckDB, unless views (dbt's staging models) depend on the table:
        Postgres refuses to drop it then, so its rows are replaced in place, in the same transaction."""
        target = f"{identifier(SCHEMA)}.{identifier(table)}"
        old, new = self._postgres_types(target), self._postgres_types(staging)
        if old and self._has_views(target) and all(new.get(column) == kind for column, kind in old.items()):
            for column in (c for c in new if c not in old):
                self.execute(f"alter table {target} add column {identifier(column)} {new[column]}")
            names = ", ".join(identifier(column) for column in new)
            self.execute(f"delete from {target}")
            self.execute(f"insert into {target} ({names}) select {names} from {staging}")
            self.execute(f"drop table {staging}")
            return
        self.execute(f"drop table if exists {target}")
        self.execute(f"alter table {staging} rename to {identifier(table)}")

    def _has_views(self, qualified: str) -> bool:
        [(found,)] = self.rows(
            "select exists (select 1 from pg_depend as d join pg_rewrite as r on r.oid = d.objid "
            "where d.classid = 'pg_rewrite'::regclass and d.refobjid = to_regclass(?) and r.ev_class <> d.refobjid)",
            [qualified])
        return bool(found)


def _as_postgres_text(name: str, duckdb_type: str) -> str:
    """A parsed column as Postgres reads it back: text without NUL characters (Postgres text cannot
    hold one), dates before year 1 as `… BC` (DuckDB writes `(BC)` after the date part)."""
    column = identifier(name)
    if duckdb_type in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        return rf"regexp_replace(cast({column} as varchar), ' \(BC\)(.*)$', '\1 BC') as {column}"
    if postgres_type(duckdb_type) == "text":
        return f"replace(cast({column} as varchar), chr(0), '') as {column}"
    return column


@contextmanager
def open_store(warehouse: Path, scratch: Path) -> Iterator[Store]:
    """The warehouse `WAREHOUSE_ENGINE` names; `scratch` is a private folder for the parser's database."""
    from pipelines.warehouse import postgres_url, warehouse_engine  # noqa: PLC0415

    store = PostgresStore(postgres_url(), scratch) if warehouse_engine() == "postgres" else DuckDBStore(warehouse)
    try:
        yield store
    finally:
        store.close()
