"""`dbt build` on each engine: one sandbox world (100,000 people, BENCH_ENGINES_PEOPLE) synced into
a DuckDB file and into a Postgres server, then the marts built on each.

The Postgres server is a local one from Debian's package (`sandbox/postgres.py`), started for the
run with its disk flushes on, as a real server has them. The ceiling is DuckDB's build of the same
world in the same run: printed are both build times, Postgres's as a ratio to DuckDB's, dbt's peak
memory on each, and whether the five mart tables came out row-for-row identical.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bench.marts_scale import ChildPeakMemory, SandboxDidNotStart, served_world
from pipelines.runner import sync, transform
from pipelines.warehouse import POSTGRES_CREDENTIALS
from sandbox import postgres
from sandbox.world import VENDORS
from tests.engine_parity import marts_differences, summary

PEOPLE = int(os.environ.get("BENCH_ENGINES_PEOPLE", "100000"))


def sync_and_build(engine: str, warehouse: Path) -> tuple[float, float, float, int]:
    """Sync seconds, dbt build seconds, dbt's peak memory (MB), and transform's exit code."""
    os.environ["WAREHOUSE_ENGINE"] = engine
    started = time.perf_counter()
    results = sync(list(VENDORS), warehouse, echo=lambda line: None)
    synced = time.perf_counter()
    failed = [(r.source, r.message) for r in results if r.status != "loaded"]
    if failed:
        raise SystemExit(f"{engine} sync failed: {failed}")
    with ChildPeakMemory() as dbt_memory:
        code = transform(warehouse)
    return synced - started, time.perf_counter() - synced, dbt_memory.peak_mb, code


def main() -> int:
    try:
        server = postgres.start(durable=True)
    except postgres.PostgresUnavailable as missing:
        print(f"skipped: {missing}")
        return 1
    try:
        with tempfile.TemporaryDirectory() as folder:
            folder_path = Path(folder)
            os.environ[POSTGRES_CREDENTIALS] = server.url
            try:
                with served_world(folder_path / "truth.csv", PEOPLE):
                    figures = {engine: sync_and_build(engine, folder_path / engine / "warehouse.duckdb")
                               for engine in ("duckdb", "postgres")}
            except SandboxDidNotStart as failed:
                print(failed)
                return 1
            differences = marts_differences(folder_path / "duckdb" / "warehouse.duckdb", server.url)
            identical = not any(differences.values())
    finally:
        postgres.discard(server)
    print(f"world: {PEOPLE:,} people; sources: {', '.join(VENDORS)}")
    for engine, (sync_seconds, build_seconds, peak_mb, code) in figures.items():
        print(f"{engine}: sync {sync_seconds:.0f} s; dbt build {build_seconds:.1f} s "
              f"({'passed' if code == 0 else 'FAILED'}); dbt peak memory {peak_mb:,.0f} MB")
    ratio = figures["postgres"][1] / figures["duckdb"][1]
    print(f"dbt build on Postgres / on DuckDB: ratio {ratio:.2f}")
    print("marts row-for-row identical on both engines" if identical else f"marts DIFFER:\n{summary(differences)}")
    return 0 if all(code == 0 for *_, code in figures.values()) and identical else 1


if __name__ == "__main__":
    sys.exit(main())
