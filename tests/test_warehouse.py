"""One writer at a time, and a marts snapshot that BI tools can hold open safely."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import EXIT_BUSY, main
from pipelines.warehouse import WarehouseBusy, publish_snapshot, snapshot_path, writer_lock


def test_a_second_writer_exits_with_a_clear_message(warehouse: Path, capsys) -> None:  # noqa: ANN001
    with writer_lock(warehouse):
        assert main(["transform"]) == EXIT_BUSY
        assert main(["sync", "--no-transform"]) == EXIT_BUSY
    out = capsys.readouterr().out
    assert f"pid {__import__('os').getpid()}" in out and "--wait" in out


def test_a_second_writer_can_wait_its_turn(warehouse: Path) -> None:
    holding, released = threading.Event(), threading.Event()

    def hold_briefly() -> None:
        with writer_lock(warehouse):
            holding.set()
            released.wait(5)
            time.sleep(0.3)

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    holding.wait(10)  # not a pause: a loaded machine may start the holder late
    with pytest.raises(WarehouseBusy):
        with writer_lock(warehouse):
            pass
    released.set()
    with writer_lock(warehouse, wait_seconds=10):
        pass
    holder.join()


def test_a_killed_writer_releases_the_lock(warehouse: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from pipelines.warehouse import writer_lock
        with writer_lock(Path({str(warehouse)!r})):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(WarehouseBusy):
        with writer_lock(warehouse):
            pass
    holder.kill()
    holder.wait()
    with writer_lock(warehouse):
        pass


def _build_marts(warehouse: Path, people: int) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists analytics")
        con.execute("create or replace table analytics.people as select range as person_id from range(?)", [people])
        con.execute("create schema if not exists staging")
        con.execute("create or replace view staging.not_for_bi as select 1")


def test_a_bi_tool_holding_the_snapshot_keeps_a_whole_view_while_the_pipeline_republishes(warehouse: Path) -> None:
    _build_marts(warehouse, 3)
    snapshot = publish_snapshot(warehouse)
    assert snapshot == snapshot_path(warehouse) and snapshot.stat().st_mode & 0o777 == 0o600
    bi_tool = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb
        con = duckdb.connect({str(snapshot)!r}, read_only=True)
        print(con.execute("select count(*) from analytics.people").fetchone()[0], flush=True)
        input()
        print(con.execute("select count(*) from analytics.people").fetchone()[0], flush=True)
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert bi_tool.stdout.readline().strip() == "3"
        _build_marts(warehouse, 5)  # the pipeline writes the warehouse while the BI tool holds the snapshot
        publish_snapshot(warehouse)
        bi_tool.stdin.write("\n")
        bi_tool.stdin.flush()
        assert bi_tool.stdout.readline().strip() == "3", "the open connection must keep the snapshot it opened"
    finally:
        bi_tool.kill()
        bi_tool.wait()
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert con.execute("select count(*) from analytics.people").fetchone()[0] == 5
        schemas = {s for (s,) in con.execute("select schema_name from duckdb_tables()").fetchall()}
    assert schemas == {"analytics"}, "only the marts are published"


def test_a_first_sync_killed_while_creating_the_warehouse_does_not_block_the_next(warehouse: Path, sandbox) -> None:
    warehouse.touch()  # what a kill between DuckDB creating the file and writing its headers leaves
    synced = subprocess.run([sys.executable, "-m", "pipelines", "sync", "--no-transform", "mobilize"],
                            capture_output=True, text=True, timeout=300)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "removed the unfinished file" in synced.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from mobilize.events").fetchone()[0] > 0


def test_a_warehouse_with_duckdbs_headers_is_never_discarded(warehouse: Path) -> None:
    from pipelines.warehouse import discard_unfinished_creation

    duckdb.connect(str(warehouse)).close()
    assert not discard_unfinished_creation(warehouse) and warehouse.exists()
