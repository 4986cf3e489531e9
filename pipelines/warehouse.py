"""The warehouse's files: where they are, who may write them, and what BI tools open.

Three files sit side by side (for the default `warehouse.duckdb`):

- `warehouse.duckdb`: raw vendor tables and dbt's models. Only the pipeline opens it,
  and only one pipeline process at a time (`writer_lock`).
- `warehouse_marts.duckdb`: a read-only copy of the `analytics` marts, published after
  every successful `dbt build` by an atomic rename (`publish_snapshot`). BI tools and
  analysts connect here; a connection held open never blocks the pipeline and never sees
  half-built marts, because the file it holds is never written again.
- `.warehouse.lock` and `.warehouse.dlt/`: the writer lock and dlt's working state.

Every one of them is created readable by its owner only: they hold people's contact details.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines import REPO_ROOT
from pipelines.sql import identifier, literal

MARTS_SCHEMA = "analytics"
OWNER_ONLY = 0o600


class WarehouseBusy(RuntimeError):
    """Another pipeline process is writing the warehouse."""


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
