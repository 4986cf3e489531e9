"""The marts at scale: dbt build over a sandbox world of a million people (BENCH_SCALE_PEOPLE).

Every source syncs the world from its fake with vendor rate limits lifted (this measures dbt,
not the vendors' budgets, which the per-source benchmarks measure), then `dbt build` runs every
model and test. Printed: the world's size, sync and build times, rows in the marts, identity
resolution against the world's truth, and peak memory of this process and of dbt's.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.evaluation import score_identities
from pipelines.runner import sync, transform
from pipelines.sandbox import Sandbox
from pipelines.sandbox.world import VENDORS

PEOPLE = int(os.environ.get("BENCH_SCALE_PEOPLE", "1000000"))
# the fakes answer as fast as they can; the sources may ask as fast as that
UNTHROTTLED = {"REQUESTS_PER_SECOND": "100000", "PER_PAGE": "1000", "MAX_ATTEMPTS": "8"}


def main() -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, Sandbox(people=PEOPLE, seed=7, throttled=False) as sandbox:
        built_world = time.perf_counter()
        warehouse = Path(folder) / "warehouse.duckdb"
        os.environ.update(sandbox.env())
        for source in VENDORS:
            os.environ.update({f"SOURCES__{source.upper()}__{key}": value for key, value in UNTHROTTLED.items()})
        results = sync(list(VENDORS), warehouse, echo=lambda _: None)
        synced = time.perf_counter()
        if any(r.status != "loaded" for r in results):
            print("sync failed:", [(r.source, r.message) for r in results if r.status != "loaded"])
            return 1
        code = transform(warehouse)
        transformed = time.perf_counter()
        with duckdb.connect(str(warehouse), read_only=True) as con:
            people, identities, events, attendances = con.execute("""
                select (select count(*) from analytics.people), (select count(*) from analytics.person_identities),
                       (select count(*) from analytics.events), (select count(*) from analytics.attendances)""").fetchone()
        scores = score_identities(warehouse, sandbox.world.truth)
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dbt_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"world: {PEOPLE:,} people, built in {built_world - started:.0f} s; sources: {', '.join(VENDORS)}")
    print(f"sync {synced - built_world:.0f} s: {sum(sum(r.rows.values()) for r in results):,} raw rows")
    print(f"dbt build {transformed - synced:.0f} s ({'passed' if code == 0 else 'FAILED'}): {people:,} people from "
          f"{identities:,} source records, {events:,} events, {attendances:,} attendances")
    print(scores.line())
    print(f"peak memory: this process {own_mb:,.0f} MB, dbt {dbt_mb:,.0f} MB")
    return code


if __name__ == "__main__":
    sys.exit(main())
