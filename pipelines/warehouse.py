"""The warehouse: where it is, who may write it, what BI tools read, and one way to read it.

On DuckDB (the default) three files sit side by side (for the default `warehouse.duckdb`):

- `warehouse.duckdb`: raw vendor tables and dbt's models. Only the pipeline opens it,
  and only one pipeline process at a time (`writer_lock`).
- `warehouse_marts.duckdb`: a read-only copy of the `analytics` marts, published after
  every successful `dbt build` by an atomic rename (`publish_snapshot`). BI tools and
  analysts connect here; a connection held open never blocks the pipeline and never sees
  half-built marts, because the file it holds is never written again.
- `.warehouse.lock` and `.warehouse.dlt/`: the writer lock and dlt's working state.
- `exports/<mart>.parquet`: the marts as files, written from the snapshot (`export_marts`).

Every one of them is created readable by its owner only: they hold people's contact details.

On Postgres (`WAREHOUSE_ENGINE=postgres`) the tables live on the server, and the same three
guarantees are the server's (`pipelines.postgres`): the writer lock is an advisory lock, the
marts are built into `analytics_build` and swapped in as `analytics` in one transaction, and BI
tools log in with a read-only role. dlt's state, the run log, reports and exports stay in the
folder `WAREHOUSE_PATH` names.

Readers (`status`, `report`, `sql`, `export`, the demo's summary, the identity scores) go through
`connect_warehouse()` / `connect_marts()`: a `Reader` with `rows(sql, params)`, `query(sql, params)`
and `value(sql, params)` on either engine, `?` placeholders on both.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import dlt
import duckdb
import psycopg2
from psycopg2 import sql as pgsql
from dlt.common.configuration.specs import ConnectionStringCredentials

from pipelines import REPO_ROOT, output, postgres
from pipelines.sql import identifier, literal, psycopg2_query

MARTS_SCHEMA = "analytics"
# on Postgres dbt builds the marts here (dbt_project/macros/generate_schema_name.sql) until they pass
BUILD_SCHEMA = f"{MARTS_SCHEMA}_build"
OWNER_ONLY = 0o600
ENGINES = ("duckdb", "postgres")
POSTGRES_CREDENTIALS = "DESTINATION__POSTGRES__CREDENTIALS"


class WarehouseBusy(RuntimeError):
    """Another pipeline process is writing the warehouse."""


class WarehouseError(RuntimeError):
    """The warehouse could not be opened or a statement failed; the message is the engine's first line."""


class WarehouseMissing(WarehouseError):
    """No DuckDB warehouse (or snapshot) file yet: nothing has synced."""


class ServerNotConfigured(WarehouseError, ValueError):
    """WAREHOUSE_ENGINE=postgres without the server's credentials."""


def warehouse_engine() -> str:
    """`WAREHOUSE_ENGINE`: `duckdb` (the default, one file) or `postgres` (a server)."""
    engine = (os.environ.get("WAREHOUSE_ENGINE") or "duckdb").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"WAREHOUSE_ENGINE={engine!r} is not an engine this pipeline runs on: use one of {', '.join(ENGINES)}")
    return engine


def postgres_credentials() -> ConnectionStringCredentials:
    """The Postgres warehouse's server, where dlt looks for it: `DESTINATION__POSTGRES__CREDENTIALS`
    or `[destination.postgres] credentials` in .dlt/secrets.toml (a URL or its parts)."""
    value = dlt.secrets.get("destination.postgres.credentials")
    if not value:
        raise ServerNotConfigured(f"WAREHOUSE_ENGINE=postgres needs the server: set {POSTGRES_CREDENTIALS} to a "
                         "postgresql://user:password@host:port/database URL")
    return ConnectionStringCredentials(value)


def postgres_url() -> str:
    return postgres_credentials().to_native_representation()


def dlt_destination(warehouse: Path) -> dlt.destinations.duckdb | dlt.destinations.postgres:
    """Where dlt loads: the DuckDB file, or the Postgres server. A table replaced (a full refresh)
    loads beside, then is swapped in one transaction, on either."""
    if warehouse_engine() == "postgres":
        return dlt.destinations.postgres(postgres_url(), replace_strategy="insert-from-staging")
    return dlt.destinations.duckdb(str(warehouse), replace_strategy="insert-from-staging")


def dbt_profile_environment() -> dict[str, str]:
    """The variables `dbt_project/profiles.yml` reads to reach the engine's warehouse (besides the path)."""
    engine = warehouse_engine()
    if engine != "postgres":
        return {"WAREHOUSE_ENGINE": engine}
    server = postgres_credentials()
    return {"WAREHOUSE_ENGINE": engine, "WAREHOUSE_POSTGRES_HOST": server.host or "127.0.0.1",
            "WAREHOUSE_POSTGRES_PORT": str(server.port or 5432), "WAREHOUSE_POSTGRES_USER": server.username or "",
            "WAREHOUSE_POSTGRES_PASSWORD": str(server.password or ""), "WAREHOUSE_POSTGRES_DATABASE": server.database or ""}


def warehouse_path() -> Path:
    """`WAREHOUSE_PATH`, else `warehouse.duckdb` at the repo root."""
    return Path(os.environ.get("WAREHOUSE_PATH") or REPO_ROOT / "warehouse.duckdb").resolve()


def pipelines_dir(warehouse: Path) -> Path:
    """dlt's working state lives beside the warehouse it belongs to."""
    return warehouse.parent / f".{warehouse.stem}.dlt"


def snapshot_path(warehouse: Path | None = None) -> Path:
    """The read-only marts file BI tools connect to."""
    warehouse = warehouse or warehouse_path()
    return warehouse.with_name(f"{warehouse.stem}_marts{warehouse.suffix}")


def lock_path(warehouse: Path) -> Path:
    return warehouse.parent / f".{warehouse.stem}.lock"


# DuckDB writes a new database's three header blocks (3 x 4 KiB) before anything else, so a
# shorter file is a creation killed part way: it holds no table, and DuckDB refuses to open it
DUCKDB_HEADER_BYTES = 3 * 4096


def discard_unfinished_creation(warehouse: Path) -> bool:
    """Removes a warehouse file a killed first sync left shorter than DuckDB's headers (else every
    later sync fails on it); a file with headers is never touched, whatever state it is in."""
    try:
        if warehouse.stat().st_size >= DUCKDB_HEADER_BYTES:
            return False
    except FileNotFoundError:
        return False
    warehouse.unlink()
    Path(f"{warehouse}.wal").unlink(missing_ok=True)
    return True


@contextmanager
def writer_lock(warehouse: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Holds the warehouse for one writer; waits up to `wait_seconds` for another to finish.

    On DuckDB an OS file lock, on Postgres a session-level advisory lock: either way a writer
    killed by any means releases it with its process (its file descriptor, its connection).
    """
    if warehouse_engine() == "postgres":
        url = postgres_url()
        with postgres.advisory_lock(url, wait_seconds, lambda holder: _busy(postgres.describe(url), holder)):
            yield
        return
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(warehouse)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, OWNER_ONLY)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip() or "another process"
                    raise _busy(str(warehouse), holder) from None
                time.sleep(0.2)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S %Z')}".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _busy(warehouse: str, holder: str) -> WarehouseBusy:
    return WarehouseBusy(f"{warehouse} is being written by {holder}; this run did nothing. "
                         f"Wait for it to finish, or pass --wait SECONDS to queue behind it.")


def make_private(warehouse: Path) -> None:
    """Owner-only permissions on the warehouse's files (DuckDB creates them with the umask)."""
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal"), snapshot_path(warehouse)):
        if path.exists():
            path.chmod(OWNER_ONLY)
    state = pipelines_dir(warehouse)
    if state.exists():
        state.chmod(0o700)


# ----------------------------------------------------------------------------- reading, on either engine


class Reader:
    """A read-only connection to the warehouse, on either engine; parameters are `?` on both.

    `rows(sql, params)` returns tuples, `query` the column names too, `value` the first column of
    the first row. Errors are `WarehouseError`. `where` names what was opened, for messages.
    """

    engine = ""

    def __init__(self, where: str) -> None:
        self.where = where

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        raise NotImplementedError

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.query(sql, params)[1]

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def write_parquet(self, schema: str, table: str, target: Path) -> None:
        """`schema.table` as a zstd Parquet file, without holding the table in memory."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class DuckDBReader(Reader):
    engine = "duckdb"

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        try:
            self.con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as error:
            raise WarehouseError(_first_line(error)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        try:
            cursor = self.con.execute(sql, list(params) if params else None)
            return [column[0] for column in cursor.description or []], cursor.fetchall() if cursor.description else []
        except duckdb.Error as error:
            raise WarehouseError(_first_line(error)) from None

    def relation(self, sql: str) -> duckdb.DuckDBPyRelation | None:
        """DuckDB's own relation, which `make sql` prints as DuckDB's boxes."""
        try:
            return self.con.sql(sql)
        except duckdb.Error as error:
            raise WarehouseError(str(error)) from None

    def write_parquet(self, schema: str, table: str, target: Path) -> None:
        self.query(f"copy {identifier(schema)}.{identifier(table)} to {literal(str(target))} "
                   "(format parquet, compression zstd)")

    def close(self) -> None:
        self.con.close()


class PostgresReader(Reader):
    engine = "postgres"

    def __init__(self, url: str) -> None:
        super().__init__(postgres.describe(url))
        try:
            self.con = postgres.connect(url, read_only=True)
        except psycopg2.Error as error:
            raise WarehouseError(f"{self.where} could not be reached ({_first_line(error)})") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        try:
            with self.con.cursor() as cursor:
                cursor.execute(*psycopg2_query(sql, params))
                if cursor.description is None:
                    return [], []
                return [column.name for column in cursor.description], cursor.fetchall()
        except psycopg2.Error as error:
            raise WarehouseError(_first_line(error)) from None

    def write_parquet(self, schema: str, table: str, target: Path) -> None:
        relation = pgsql.SQL("select * from {}.{}").format(pgsql.Identifier(schema), pgsql.Identifier(table))
        try:
            postgres.write_parquet(self.con, relation, target)
        except psycopg2.Error as error:
            raise WarehouseError(_first_line(error)) from None

    def close(self) -> None:
        self.con.close()


def connect_warehouse(warehouse: Path | None = None) -> Reader:
    """The whole warehouse (raw tables, dbt's schemas, the marts) read-only: what `status` counts."""
    if warehouse_engine() == "postgres":
        return PostgresReader(postgres_url())
    warehouse = warehouse or warehouse_path()
    if not warehouse.exists():
        raise WarehouseMissing(f"no warehouse at {warehouse} yet")
    return DuckDBReader(warehouse)


def connect_marts(warehouse: Path | None = None) -> Reader:
    """What BI tools read, read-only: the published `analytics` marts (on DuckDB, the snapshot file
    or, until one is published, the warehouse; on Postgres, the database, whose `analytics` is swapped whole)."""
    if warehouse_engine() == "postgres":
        return PostgresReader(postgres_url())
    database = bi_database(warehouse)
    if not database.exists():
        raise WarehouseMissing(f"no warehouse at {database} yet")
    return DuckDBReader(database)


def marts_location(warehouse: Path | None = None) -> str:
    """Where BI tools point, for messages: the snapshot file, or the Postgres database's schema."""
    if warehouse_engine() == "postgres":
        return f"schema {MARTS_SCHEMA} of {postgres.describe(postgres_url())}"
    return str(bi_database(warehouse))


def warehouse_label(warehouse: Path) -> str:
    """The warehouse as messages name it: its file, or its Postgres database (never the password)."""
    if warehouse_engine() != "postgres":
        return str(warehouse)
    try:
        return postgres.describe(postgres_url())
    except ServerNotConfigured:
        return "Postgres (no server configured)"


def placeholders(values: Sequence[Any]) -> str:
    """`?, ?, ?` for an `in (…)` list of `values`, on either engine."""
    return ", ".join("?" for _ in values)


# ----------------------------------------------------------------------------- publishing the marts


class SnapshotNotPublished(RuntimeError):
    """The marts snapshot could not be written (a full disk, usually); the previous one stays."""


def reader_role() -> str:
    """`[warehouse] reader_role` (.dlt/config.toml): the Postgres role BI logins are members of."""
    return str(dlt.config["warehouse.reader_role"])


def prepare_build(warehouse: Path) -> None:
    """Before `dbt build` on Postgres: an empty build schema, so a model removed from the project
    (or left by a failed build) is not published with the next marts. Nothing to do on DuckDB."""
    if warehouse_engine() != "postgres":
        return
    con = postgres.connect(postgres_url(), read_only=False)
    try:
        with con.cursor() as cursor:
            postgres.drop_schema(cursor, BUILD_SCHEMA)
    finally:
        con.close()


def publish_snapshot(warehouse: Path) -> Path | str:
    """Publishes the marts dbt just built, whole: a snapshot file on DuckDB, a schema swap on Postgres."""
    if warehouse_engine() == "postgres":
        return _swap_marts()
    return _publish_snapshot_file(warehouse)


def _swap_marts() -> str:
    """`analytics_build` becomes `analytics` in one transaction, readable by the reader role."""
    url = postgres_url()
    try:
        warning = postgres.swap_schema(url, BUILD_SCHEMA, MARTS_SCHEMA, reader_role())
    except psycopg2.Error as error:
        raise SnapshotNotPublished(f"the marts could not be published in {postgres.describe(url)} "
                                   f"({_first_line(error)}); the previous marts stay published") from None
    if warning:
        output.current().warn(f"transform: {warning}")
    return marts_location()


def _publish_snapshot_file(warehouse: Path) -> Path:
    """Copies the marts into a new file and renames it over the published one, atomically.

    A copy that fails part way (a full disk) is deleted: the published snapshot stays as it was.
    """
    target = snapshot_path(warehouse)
    staging = target.with_name(f".{target.name}.new")
    staging.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(warehouse)) as con:
            tables = [name for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE' "
                "order by 1", [MARTS_SCHEMA]).fetchall()]
            con.execute(f"attach {literal(str(staging))} as snapshot")
            con.execute(f"create schema snapshot.{MARTS_SCHEMA}")
            for table in tables:
                con.execute(f"create table snapshot.{MARTS_SCHEMA}.{identifier(table)} as from {MARTS_SCHEMA}.{identifier(table)}")
            con.execute("detach snapshot")
        staging.chmod(OWNER_ONLY)
        os.replace(staging, target)
    except (OSError, duckdb.Error) as error:
        for leftover in (staging, staging.with_name(staging.name + ".wal")):
            leftover.unlink(missing_ok=True)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SnapshotNotPublished(f"the marts snapshot {target} could not be written ({reason}); "
                                   "the previous snapshot stays published") from None
    return target


def bi_database(warehouse: Path | None = None) -> Path:
    """The DuckDB file analysts and BI tools open: the read-only marts snapshot, or the warehouse until one exists."""
    warehouse = warehouse or warehouse_path()
    snapshot = snapshot_path(warehouse)
    return snapshot if snapshot.exists() else warehouse


def export_dir(warehouse: Path) -> Path:
    return warehouse.parent / "exports"


# a mart's name becomes a file name: only plain names (every dbt model's) are exported
EXPORTABLE = re.compile(r"[a-z0-9_]+")


def export_marts(warehouse: Path | None = None, directory: Path | None = None) -> dict[str, Path]:
    """Every table of the `analytics` schema as `exports/<mart>.parquet`."""
    warehouse = warehouse or warehouse_path()
    directory = directory or export_dir(warehouse)
    written: dict[str, Path] = {}
    with connect_marts(warehouse) as marts:
        names = [name for (name,) in marts.rows(
            "select table_name from information_schema.tables where table_schema = ? order by 1", [MARTS_SCHEMA])
            if EXPORTABLE.fullmatch(name)]
        directory.mkdir(parents=True, exist_ok=True)
        for mart in names:
            target = directory / f"{mart}.parquet"
            temporary = directory / f".{mart}.parquet.tmp"
            try:
                marts.write_parquet(MARTS_SCHEMA, mart, temporary)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            temporary.replace(target)  # a reader never sees half a file
            written[mart] = target
    return written


def raw_tables(warehouse: Path, schemas: Iterable[str]) -> tuple[dict[str, dict[str, int]], dict[str, float], str]:
    """Rows per raw table of `schemas` and each one's last successful dlt load; a note if unreadable."""
    tables: dict[str, dict[str, int]] = {}
    loads: dict[str, float] = {}
    schemas = list(schemas)
    try:
        con = connect_warehouse(warehouse)
    except WarehouseMissing as missing:
        return tables, loads, str(missing)
    except WarehouseError as unreadable:
        if warehouse_engine() == "postgres":
            return tables, loads, f"row counts unavailable: {unreadable}"
        return tables, loads, f"warehouse busy, row counts unavailable ({unreadable}); a sync is probably running"
    with con:
        present = con.rows(
            f"select table_schema, table_name from information_schema.tables where table_schema in "
            f"({placeholders(schemas)}) and table_type = 'BASE TABLE' order by 1, 2", schemas) if schemas else []
        for schema, table in present:
            if table == "_dlt_loads":
                last = con.value(f"select extract(epoch from max(inserted_at)) from {identifier(schema)}._dlt_loads "
                                 "where status = 0")
                if last is not None:
                    loads[schema] = float(last)
            elif not table.startswith("_dlt"):
                count = con.value(f"select count(*) from {identifier(schema)}.{identifier(table)}")
                tables.setdefault(schema, {})[table] = count
    return tables, loads, ""


# the table that says a schema has loaded: dlt's load bookkeeping, or ControlShift's own
LOAD_BOOKKEEPING = ("_dlt_loads", "_loaded_files")


def loaded_schemas(warehouse: Path, schemas: Iterable[str]) -> list[str]:
    """Those of `schemas` with at least one load in the warehouse, in the order given."""
    try:
        con = connect_warehouse(warehouse)
    except WarehouseMissing:
        return []
    with con:
        present = {schema for (schema,) in con.rows(
            f"select table_schema from information_schema.tables where table_name in ({placeholders(LOAD_BOOKKEEPING)})",
            LOAD_BOOKKEEPING)}
    return [schema for schema in schemas if schema in present]
