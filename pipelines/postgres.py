"""The Postgres engine's server-side operations: the writer's advisory lock, the marts' schema swap,
the BI tools' read-only role, and sessions and streams for reading.

On DuckDB these are files (a lock file, a snapshot file renamed into place); on a server they are
the server's own mechanisms, so they hold across machines and die with the connection that holds
them. `pipelines.warehouse` chooses between the engines; nothing here knows about files.

Every name that reaches SQL goes through `psycopg2.sql.Identifier`, every value is a parameter.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import psycopg2
import psycopg2.errors
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg2 import sql

# the writer's advisory lock: one fixed key per database (advisory locks are per database)
WRITER_LOCK_KEY = 0x6F72_6761_6E69_7A65  # "organize" in ASCII, a bigint
# Postgres keeps the first 63 bytes of an application_name
APPLICATION_NAME_BYTES = 63
# a connection a firewall dropped while the writer was idle is noticed within minutes, not hours
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 60, "keepalives_interval": 10, "keepalives_count": 6}


def describe(url: str) -> str:
    """`database warehouse on 127.0.0.1:5432`: the server, without its credentials, for messages."""
    parts = urlsplit(url)
    return f"Postgres database {parts.path.lstrip('/') or '?'} on {parts.hostname or 'localhost'}:{parts.port or 5432}"


def without_password(url: str) -> str:
    """`postgresql://user@host:port/database`: the URL to show, its password left out."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return parts._replace(netloc=f"{user}{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}").geturl()


def connect(url: str, read_only: bool, application_name: str = "organizing warehouse") -> Any:
    """A session in autocommit, in UTC; `read_only` sessions refuse every write (`default_transaction_read_only`)."""
    options = "-c timezone=UTC" + (" -c default_transaction_read_only=on" if read_only else "")
    con = psycopg2.connect(url, options=options, application_name=application_name[:APPLICATION_NAME_BYTES],
                           connect_timeout=15, **KEEPALIVES)
    con.autocommit = True
    return con


# ----------------------------------------------------------------------------- the writer lock


def writer_name() -> str:
    """What a second writer is told holds the warehouse: this process, its host and since when."""
    since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"pid {os.getpid()} on {socket.gethostname()[:16]} since {since}"


@contextmanager
def advisory_lock(url: str, wait_seconds: float, busy: Callable[[str], Exception]) -> Iterator[None]:
    """Holds the database's writer lock (`pg_try_advisory_lock`) for as long as the block runs.

    A session-level lock on a connection of its own: a writer that dies by any means closes the
    connection, and the server releases the lock with it. `busy(holder)` is raised when another
    session holds it past `wait_seconds`.
    """
    con = connect(url, read_only=False, application_name=f"warehouse writer {writer_name()}")
    try:
        deadline = time.monotonic() + wait_seconds
        with con.cursor() as cursor:
            while True:
                cursor.execute("select pg_try_advisory_lock(%s)", [WRITER_LOCK_KEY])
                if cursor.fetchone()[0]:
                    break
                if time.monotonic() >= deadline:
                    raise busy(lock_holder(cursor))
                time.sleep(0.2)
        yield
    finally:
        con.close()  # closing the session releases the lock


def lock_holder(cursor: Any) -> str:
    """The holding session's application_name (`warehouse writer pid … since …`), else its address."""
    cursor.execute(
        "select a.application_name, a.client_addr::text, a.pid from pg_locks as l "
        "join pg_stat_activity as a on a.pid = l.pid "
        "where l.locktype = 'advisory' and l.granted and l.database = "
        "(select oid from pg_database where datname = current_database()) "
        "and ((l.classid::bigint << 32) | l.objid::bigint) = %s", [WRITER_LOCK_KEY])
    found = cursor.fetchone()
    if found is None:
        return "another process"
    name, address, pid = found
    if name and name.startswith("warehouse writer "):
        return name.removeprefix("warehouse writer ")
    return f"server process {pid}" + (f" from {address}" if address else "")


# ----------------------------------------------------------------------------- schemas and the reader role


def schema_exists(cursor: Any, schema: str) -> bool:
    cursor.execute("select 1 from pg_namespace where nspname = %s", [schema])
    return cursor.fetchone() is not None


def ensure_role(cursor: Any, role: str) -> str:
    """Creates the NOLOGIN role when missing; a warning (the grants are skipped) when we may not."""
    cursor.execute("select 1 from pg_roles where rolname = %s", [role])
    if cursor.fetchone() is not None:
        return ""
    try:
        cursor.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    except psycopg2.errors.DuplicateObject:  # another database of the cluster made it just now
        return ""
    except psycopg2.errors.InsufficientPrivilege:
        return (f"the read-only role {role} does not exist and this login may not create it: as a superuser, "
                f"`create role {role} nologin`; the marts are published without its grants until then")
    return ""


def grant_reading(cursor: Any, schema: str, role: str) -> None:
    """USAGE on the schema and SELECT on every table and view in it: all `role` may do."""
    names = {"schema": sql.Identifier(schema), "role": sql.Identifier(role)}
    cursor.execute(sql.SQL("grant usage on schema {schema} to {role}").format(**names))
    cursor.execute(sql.SQL("grant select on all tables in schema {schema} to {role}").format(**names))


# how long dropping the replaced marts waits for readers still inside them before leaving it to the next publish
OLD_MARTS_LOCK_TIMEOUT = "10s"


def swap_schema(url: str, build: str, published: str, role: str) -> str:
    """Publishes `build` as `published` in one transaction; returns a warning, or "".

    Readers of `published` see the old schema until the commit and the new one after it, never a
    mix: renaming a schema takes no lock its readers hold. The old schema, renamed
    `<published>_old_<unix time>`, is dropped after the commit; a drop that waits longer than
    `OLD_MARTS_LOCK_TIMEOUT` for a reader still inside it (a BI session idle in a transaction) is
    left to the next publish, so no reader can stall the pipeline.
    """
    old = f"{published}_old_{time.time_ns()}"
    con = connect(url, read_only=False, application_name=f"warehouse publish {writer_name()}")
    try:
        with con.cursor() as cursor:
            for leftover in replaced_schemas(cursor, published):
                drop_schema(cursor, leftover, OLD_MARTS_LOCK_TIMEOUT)
            warning = ensure_role(cursor, role)
            con.autocommit = False
            if not warning:
                grant_reading(cursor, build, role)
            if schema_exists(cursor, published):
                cursor.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(published),
                                                                              sql.Identifier(old)))
            cursor.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(build),
                                                                          sql.Identifier(published)))
            con.commit()
            con.autocommit = True
            drop_schema(cursor, old, OLD_MARTS_LOCK_TIMEOUT)
    finally:
        con.close()
    return warning


def replaced_schemas(cursor: Any, published: str) -> list[str]:
    """Earlier marts a swap replaced whose drop was left for later (`<published>_old_<n>`)."""
    cursor.execute("select nspname from pg_namespace where nspname ~ %s order by 1", [f"^{published}_old_[0-9]+$"])
    return [name for (name,) in cursor.fetchall()]


def drop_schema(cursor: Any, schema: str, lock_timeout: str = "60s") -> bool:
    """Drops `schema` and everything in it; False when others kept it locked past `lock_timeout`."""
    cursor.execute("select set_config('lock_timeout', %s, false)", [lock_timeout])
    try:
        cursor.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    except psycopg2.errors.LockNotAvailable:
        return False
    finally:
        cursor.execute("select set_config('lock_timeout', '0', false)")
    return True


def reachable(url: str) -> bool:
    try:
        connect(url, read_only=True).close()
    except psycopg2.OperationalError:
        return False
    return True


def has_tables(url: str) -> bool:
    """Whether any schema but the server's own holds a table or view."""
    return _one(url, "select exists (select 1 from information_schema.tables "
                     "where table_schema not in ('information_schema', 'pg_catalog'))", [])


def has_table(url: str, schema: str, table: str) -> bool:
    return _one(url, "select exists (select 1 from information_schema.tables where table_schema = %s "
                     "and table_name = %s)", [schema, table])


def create_marker(url: str, schema: str, table: str, people: int, seed: int) -> None:
    """The table that marks a database as the demo's own (what `demo` may replace)."""
    con = connect(url, read_only=False)
    try:
        with con.cursor() as cursor:
            names = {"schema": sql.Identifier(schema), "table": sql.Identifier(table)}
            cursor.execute(sql.SQL("create schema if not exists {schema}").format(**names))
            cursor.execute(sql.SQL("create table {schema}.{table} as select %s as people, %s as seed, "
                                   "now() as created_at").format(**names), [people, seed])
    finally:
        con.close()


def _one(url: str, query: str, params: list[Any]) -> Any:
    con = connect(url, read_only=True)
    try:
        with con.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchone()[0]
    finally:
        con.close()


def drop_schemas(url: str, keep: tuple[str, ...] = ("public",)) -> list[str]:
    """Drops every schema of the database but the server's own and `keep`: what a demo made."""
    con = connect(url, read_only=False)
    try:
        with con.cursor() as cursor:
            cursor.execute("select nspname from pg_namespace where nspname not like 'pg\\_%%' "
                           "and nspname <> 'information_schema' and nspname <> all(%s) order by 1", [list(keep)])
            schemas = [name for (name,) in cursor.fetchall()]
            for schema in schemas:
                cursor.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))
    finally:
        con.close()
    return schemas


# ----------------------------------------------------------------------------- Parquet from a server-side cursor

# Postgres type oids -> Arrow types; any other type is exported as its text
ARROW_TYPES = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 26: pa.int64(), 700: pa.float32(),
    701: pa.float64(), 25: pa.string(), 1043: pa.string(), 1042: pa.string(), 19: pa.string(), 2950: pa.string(),
    114: pa.string(), 3802: pa.string(), 1082: pa.date32(), 1083: pa.time64("us"), 1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"), 1186: pa.duration("us"), 17: pa.binary(),
    1009: pa.list_(pa.string()), 1015: pa.list_(pa.string()), 1005: pa.list_(pa.int16()),
    1007: pa.list_(pa.int32()), 1016: pa.list_(pa.int64()), 1000: pa.list_(pa.bool_()),
    1022: pa.list_(pa.float64()), 1182: pa.list_(pa.date32()), 1185: pa.list_(pa.timestamp("us", tz="UTC")),
}
NUMERIC = 1700
# the widest decimal Arrow stores in 128 bits; an unconstrained numeric (a sum, an average) is a double
MAX_DECIMAL_PRECISION = 38


def arrow_field(column: Any) -> pa.Field:
    """The Arrow field for one column of a cursor's description."""
    if column.type_code == NUMERIC:
        precision, scale = column.precision, column.scale
        exact = precision is not None and 0 < precision <= MAX_DECIMAL_PRECISION and scale is not None and scale >= 0
        return pa.field(column.name, pa.decimal128(precision, scale) if exact else pa.float64())
    return pa.field(column.name, ARROW_TYPES.get(column.type_code, pa.string()))


def _converter(kind: pa.DataType) -> Callable[[Any], Any]:
    """Values psycopg2 returns that Arrow will not take as they are: JSON objects and other types as text,
    Decimals of an unconstrained numeric as doubles."""
    if kind == pa.string():
        return lambda value: value if value is None or isinstance(value, str) else (
            json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    if kind == pa.float64():
        return lambda value: None if value is None else float(value)
    return lambda value: value


def write_parquet(con: Any, query: sql.Composable, target: Path, batch_rows: int = 10_000) -> int:
    """Streams `query` through a server-side cursor into a Parquet file, `batch_rows` at a time.

    No more than one batch is ever in memory, however large the table. Returns the rows written.
    """
    written = 0
    con.autocommit = False  # a server-side cursor lives in a transaction
    try:
        with con.cursor(name="warehouse_export") as cursor:
            cursor.itersize = batch_rows
            cursor.execute(query)
            rows = cursor.fetchmany(batch_rows)
            schema = pa.schema([arrow_field(column) for column in cursor.description])
            converters = [_converter(field.type) for field in schema]
            with pq.ParquetWriter(str(target), schema, compression="zstd") as writer:
                while True:
                    columns = [pa.array([convert(row[index]) for row in rows], type=field.type)
                               for index, (field, convert) in enumerate(zip(schema, converters))]
                    writer.write_table(pa.Table.from_arrays(columns, schema=schema))
                    written += len(rows)
                    rows = cursor.fetchmany(batch_rows)
                    if not rows:
                        break
    finally:
        con.rollback()
        con.autocommit = True
    return written
