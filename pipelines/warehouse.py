"""The warehouse's files: where they are, who may write them, and what BI tools open.

Three files sit side by side (for the default `warehouse.duckdb`):

- `warehouse.duckdb`: raw vendor tables and dbt's models. Only the pipeline opens it,
  and only one pipeline process at a time (`writer_lock`).
- `warehouse_marts.duckdb`: a read-only copy of the `analytics` marts, published after
  every successful `dbt build` by an atomic rename (`publish_snapshot`). BI tools and
  analysts connect here; a connection held open never blocks the pipeline and never sees
  half-built marts, because the file it holds is never written again.
- `.warehouse.lock` and `.warehouse.dlt/`: the writer lock and dlt's working state.
- `exports/<mart>.parquet`: the marts as files, written from the snapshot (`export_marts`).

Every one of them is created readable by its owner only: they hold people's contact details.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import dlt
import duckdb
from dlt.common.configuration.specs import ConnectionStringCredentials

from pipelines import REPO_ROOT
from pipelines.sql import identifier, literal

MARTS_SCHEMA = "analytics"
OWNER_ONLY = 0o600
ENGINES = ("duckdb", "postgres")
POSTGRES_CREDENTIALS = "DESTINATION__POSTGRES__CREDENTIALS"


class WarehouseBusy(RuntimeError):
    """Another pipeline process is writing the warehouse."""


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
        raise ValueError(f"WAREHOUSE_ENGINE=postgres needs the server: set {POSTGRES_CREDENTIALS} to a "
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

    An OS file lock, so a writer killed by any means releases it with its process.
    """
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
                    raise WarehouseBusy(
                        f"{warehouse} is being written by {holder}; this run did nothing. "
                        f"Wait for it to finish, or pass --wait SECONDS to queue behind it."
                    ) from None
                time.sleep(0.2)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S %Z')}".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def make_private(warehouse: Path) -> None:
    """Owner-only permissions on the warehouse's files (DuckDB creates them with the umask)."""
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal"), snapshot_path(warehouse)):
        if path.exists():
            path.chmod(OWNER_ONLY)
    state = pipelines_dir(warehouse)
    if state.exists():
        state.chmod(0o700)


class SnapshotNotPublished(RuntimeError):
    """The marts snapshot could not be written (a full disk, usually); the previous one stays."""


def publish_snapshot(warehouse: Path) -> Path:
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
    """What analysts and BI tools open: the read-only marts snapshot, or the warehouse until one exists."""
    warehouse = warehouse or warehouse_path()
    snapshot = snapshot_path(warehouse)
    return snapshot if snapshot.exists() else warehouse


def export_dir(warehouse: Path) -> Path:
    return warehouse.parent / "exports"


def export_marts(warehouse: Path | None = None, directory: Path | None = None) -> dict[str, Path]:
    """Every table of the `analytics` schema as `exports/<mart>.parquet`."""
    warehouse = warehouse or warehouse_path()
    directory = directory or export_dir(warehouse)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with duckdb.connect(str(bi_database(warehouse)), read_only=True) as con:
        marts = [name for (name,) in con.execute(
            # a mart's name becomes a file name: only plain names (every dbt model's) are exported
            "select table_name from information_schema.tables where table_schema = ? "
            "and regexp_full_match(table_name, '[a-z0-9_]+') order by 1", [MARTS_SCHEMA]).fetchall()]
        for mart in marts:
            target = directory / f"{mart}.parquet"
            temporary = directory / f".{mart}.parquet.tmp"
            con.execute(f"copy {MARTS_SCHEMA}.{identifier(mart)} to {literal(str(temporary))} "
                        "(format parquet, compression zstd)")
            temporary.replace(target)  # a reader never sees half a file
            written[mart] = target
    return written


def raw_tables(warehouse: Path, schemas: Iterable[str]) -> tuple[dict[str, dict[str, int]], dict[str, float], str]:
    """Rows per raw table of `schemas` and each one's last successful dlt load; a note if unreadable."""
    tables: dict[str, dict[str, int]] = {}
    loads: dict[str, float] = {}
    if not warehouse.exists():
        return tables, loads, f"no warehouse at {warehouse} yet"
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as busy:
        return tables, loads, (f"warehouse busy, row counts unavailable ({str(busy).splitlines()[0]}); "
                               "a sync is probably running")
    with con:
        present = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) and table_type = 'BASE TABLE' order by 1, 2",
            [list(schemas)]).fetchall()
        for schema, table in present:
            if table == "_dlt_loads":
                [(last,)] = con.execute(
                    f"select epoch(max(inserted_at)) from {identifier(schema)}._dlt_loads where status = 0").fetchall()
                if last is not None:
                    loads[schema] = float(last)
            elif not table.startswith("_dlt"):
                [(count,)] = con.execute(f"select count(*) from {identifier(schema)}.{identifier(table)}").fetchall()
                tables.setdefault(schema, {})[table] = count
    return tables, loads, ""


# the table that says a schema has loaded: dlt's load bookkeeping, or ControlShift's own
LOAD_BOOKKEEPING = ("_dlt_loads", "_loaded_files")


def loaded_schemas(warehouse: Path, schemas: Iterable[str]) -> list[str]:
    """Those of `schemas` with at least one load in the warehouse, in the order given."""
    if not warehouse.exists():
        return []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        present = {schema for (schema,) in con.execute(
            "select table_schema from information_schema.tables where table_name in (select unnest(?))",
            [list(LOAD_BOOKKEEPING)]).fetchall()}
    return [schema for schema in schemas if schema in present]
