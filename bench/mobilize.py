"""Mobilize: a full sync against the fake's 15-requests-in-any-second limit gets no 429 and stays close to it.

MobilizeAmerica allows 15 GET requests per second. The ceiling is the time those requests take
at exactly that rate, requests ÷ 15 seconds; the figure is the sync's wall time (requests, dlt's
normalize and load) against it, which must stay at or under 1.15 with no 429 answered. One row
a page (`BENCH_MOBILIZE_PER_PAGE`) makes the requests, not the rows, the work, and enough of
them (`BENCH_MOBILIZE_PEOPLE`) that dlt's fixed cost of a run (schema, normalize, load: a few
seconds) is not the figure.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from pipelines.runner import sync
from sandbox import mobilize
from sandbox.world import build_world

PEOPLE = int(os.environ.get("BENCH_MOBILIZE_PEOPLE", "800"))
PER_PAGE = os.environ.get("BENCH_MOBILIZE_PER_PAGE", "1")
KEY = "bench-key"
MAX_RATIO = 1.15


def main() -> int:
    world = build_world(people=PEOPLE, seed=7)
    with tempfile.TemporaryDirectory() as folder, mobilize.serve(world, KEY) as service:
        os.environ.update(mobilize.client_env(service, KEY))
        os.environ["SOURCES__MOBILIZE__PER_PAGE"] = PER_PAGE
        started = time.perf_counter()
        [result] = sync(["mobilize"], Path(folder) / "warehouse.duckdb", echo=lambda _: None)
        elapsed = time.perf_counter() - started
    if result.status != "loaded":
        print(f"sync {result.status}: {result.message}")
        return 1
    made, refused = len(service.requests), service.count(status=429)
    ceiling = made / mobilize.RATE_LIMIT
    ratio = elapsed / ceiling
    span = service.requests[-1].at - service.requests[0].at
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"full sync, {PEOPLE} people, per_page {PER_PAGE}: {made} requests, {refused} answered 429, "
          f"{sum(result.rows.values()):,} rows")
    print(f"wall time {elapsed:.1f} s / ceiling {ceiling:.1f} s (requests / 15) = {ratio:.3f} (max {MAX_RATIO}); "
          f"first to last request {span:.1f} s = {span / ceiling:.3f}; peak memory {peak_mb:.0f} MB")
    return 0 if refused == 0 and ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
