"""Identity resolution on 2,000,000 ControlShift signatures full of hub keys, within 8 GB.

Issue 18: such a table (emails repeating every 700,000 rows, few names, few thousand postcodes,
placeholder emails and phones, an office postcode) made `int_person_records__resolved` run out
of memory (18.8 GiB) enumerating every pair of records in its huge components. The table is
written straight into a warehouse (`sandbox.hub_keys`, BENCH_HUBS_ROWS rows), then
`dbt build` runs every model and test with DuckDB's memory limit (WAREHOUSE_MEMORY_LIMIT) at 8GB. Printed: build time, records per second, the hub keys found, the largest
person, and dbt's peak resident memory as a ratio to the limit.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bench.marts_scale import ChildPeakMemory
from pipelines.runner import transform
from sandbox.hub_keys import HubWorld, write_signatures

ROWS = int(os.environ.get("BENCH_HUBS_ROWS", "2000000"))
LIMIT_GB = 8


def main() -> int:
    world = HubWorld(rows=ROWS, people=ROWS * 7 // 20, given_names=20, family_names=50, postcodes=3000,
                     placeholder_email_every=25, placeholder_phone_every=10, office_every=20)
    os.environ["WAREHOUSE_MEMORY_LIMIT"] = f"{LIMIT_GB}GB"
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "warehouse.duckdb"
        started = time.perf_counter()
        write_signatures(warehouse, world)
        written = time.perf_counter()
        with ChildPeakMemory() as dbt_memory:
            code = transform(warehouse)
        built = time.perf_counter()
        with duckdb.connect(str(warehouse), read_only=True) as con:
            records, people, largest = con.execute("""
                select count(*), count(distinct person_id), (select max(source_record_count) from analytics.people)
                from analytics.person_identities""").fetchone()
            hubs = con.execute("""select rule || ' ' || key_value || ' (' || record_count || ')'
                                  from analytics.identity_hub_keys order by record_count desc""").fetchall()
    seconds = built - written
    print(f"world: {world.rows:,} signatures by {world.people:,} people ({world.given_names} given names, "
          f"{world.family_names} family names, {world.postcodes:,} postcodes), written in {written - started:.0f} s")
    print(f"dbt build {seconds:.0f} s ({'passed' if code == 0 else 'FAILED'}): {records / seconds:,.0f} records/s, "
          f"{records:,} records -> {people:,} people, the largest {largest:,} records")
    print(f"hub keys ({len(hubs)}): {', '.join(h for (h,) in hubs[:5])}")
    print(f"peak memory: dbt {dbt_memory.peak_mb:,.0f} MB, ratio {dbt_memory.peak_mb / (LIMIT_GB * 1024):.2f} "
          f"of memory_limit {LIMIT_GB} GB")
    return code


if __name__ == "__main__":
    sys.exit(main())
