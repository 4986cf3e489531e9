"""Action Network at its 4 requests/s limit: does a full sync use the whole budget, and no more?

A full sync of a 2,000-person world (200 events, about 5,000 RSVPs) against the fake, which
answers 429 above 4 requests/s, then an incremental sync after 1% of the world changed.
The ceiling is the time the requests alone need at 4/s; the issue's bar is elapsed at most
1.15 × that ceiling, with no 429 answered.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from pipelines.runner import sync_source
from pipelines.sandbox import action_network
from pipelines.sandbox.world import build_world

PEOPLE = int(os.environ.get("BENCH_ACTION_NETWORK_PEOPLE", "2000"))
RATE = action_network.RATE_LIMIT
KEY = "bench-key"
BAR = 1.15


def _by_collection(service) -> Counter:  # noqa: ANN001
    counts: Counter = Counter()
    for request in service.requests:
        parts = request.path.split("/")[3:]  # after /api/v2
        counts[parts[-1] if len(parts) == 3 else parts[0]] += 1
    return counts


def _timed_sync(warehouse: Path, service) -> tuple[float, object]:  # noqa: ANN001
    service.reset_log()
    started = time.perf_counter()
    result = sync_source("action_network", warehouse)
    return time.perf_counter() - started, result


def main() -> int:
    world = build_world(people=PEOPLE, seed=7)
    data = world.vendors["action_network"]
    print(f"world: {PEOPLE:,} people; Action Network holds {len(data.people):,} people, {len(data.events):,} events, "
          f"{len(data.attendances):,} RSVPs, {len(data.tags)} tags ({len(data.taggings):,} taggings)")
    with tempfile.TemporaryDirectory() as folder, action_network.serve(world, KEY, rate_limit=RATE) as service:
        warehouse = Path(folder) / "warehouse.duckdb"
        os.environ.update(action_network.client_env(service, KEY))
        os.environ["SOURCES__ACTION_NETWORK__REQUESTS_PER_SECOND"] = str(RATE)

        elapsed, result = _timed_sync(warehouse, service)
        if result.status != "loaded":
            print("full sync failed:", result.message)
            return 1
        requests, limited = service.count(), service.count(status=429)
        ratio = elapsed / (requests / RATE)
        stamps = sorted(r.at for r in service.requests)
        used = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        print(f"full sync: {requests} requests in {elapsed:.1f} s (extract, normalize and load); "
              f"ceiling at {RATE}/s {requests / RATE:.1f} s; elapsed / ceiling {ratio:.3f} (bar {BAR}); "
              f"429 answered: {limited}; request rate while fetching {used:.2f}/s")
        full = _by_collection(service)

        world.advance(0.01)
        changed = sum(1 for p in data.people.values() if p.modified_date == world.clock.now)
        elapsed_incremental, result = _timed_sync(warehouse, service)
        if result.status != "loaded":
            print("incremental sync failed:", result.message)
            return 1
        incremental = _by_collection(service)
        print(f"incremental after 1% changed ({changed} people modified): {service.count()} requests in "
              f"{elapsed_incremental:.1f} s; people pages {incremental['people']} of {full['people']} for a full "
              f"read; attendance requests {incremental['attendances']} for {len(data.events)} events; "
              f"taggings requests {incremental['taggings']} for {len(data.tags)} tags; "
              f"429 answered: {service.count(status=429)}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:.0f} MB")
    within = ratio <= BAR and limited == 0 and incremental["attendances"] <= len(data.events)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
