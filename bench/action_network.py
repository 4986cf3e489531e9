"""Action Network against a fake that answers like the live API: pace, bounded incremental runs, crash cost.

1. A full sync of a `BENCH_ACTION_NETWORK_PEOPLE`-person world at the fake's limit (a fifth
   request in any one second is answered 429): elapsed ÷ (requests ÷ 4/s), bar 1.15, and no 429.
2. A world of 2,000 events of which 50 are upcoming (rate limit lifted: requests are counted,
   not timed): a full sync, then an incremental sync after 1% of people changed; bar: the
   incremental makes at most 0.1 × the full sync's requests.
3. The same world synced by a process SIGKILLed at a random moment after half its requests,
   then rerun: bar: the rerun makes at most 0.6 × a full sync's requests, and the warehouse
   holds exactly the rows of a clean run.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines import REPO_ROOT
from pipelines.runner import sync_source
from sandbox import action_network
from sandbox.world import DAY, World, build_world

PEOPLE = int(os.environ.get("BENCH_ACTION_NETWORK_PEOPLE", "1000"))
EVENTS, UPCOMING = 2000, 50
RATE = action_network.RATE_LIMIT
KEY = "bench-key"
PACE_BAR, INCREMENTAL_BAR, CRASH_BAR = 1.15, 0.1, 0.6
TABLES = ("people", "events", "attendances", "tags", "taggings", "event_campaigns", "petitions", "signatures", "forms",
          "submissions", "fundraising_pages", "donations", "advocacy_campaigns", "outreaches", "lists")


def _sync(warehouse: Path, service) -> tuple[float, int]:  # noqa: ANN001
    service.reset_log()
    started = time.perf_counter()
    result = sync_source("action_network", warehouse)
    if result.status != "loaded":
        raise SystemExit(f"sync failed: {result.message}")
    return time.perf_counter() - started, service.count()


def paced_full_sync(folder: Path) -> bool:
    world = build_world(people=PEOPLE, seed=7)
    with action_network.serve(world, KEY, rate_limit=RATE) as service:
        os.environ.update(action_network.client_env(service, KEY))
        elapsed, requests = _sync(folder / "paced.duckdb", service)
        limited = service.count(status=429)
    ratio = elapsed / (requests / RATE)
    print(f"1. full sync at the limit ({PEOPLE:,}-person world): {requests} requests in {elapsed:.1f} s; "
          f"ceiling {requests / RATE:.1f} s at {RATE}/s; elapsed / ceiling {ratio:.3f} (bar {PACE_BAR}); "
          f"429 answered: {limited}")
    return ratio <= PACE_BAR and limited == 0


def world_of_events(events: int = EVENTS, upcoming: int = UPCOMING) -> World:
    """A world whose Action Network slice holds `events` events, `upcoming` of them still ahead."""
    world = build_world(people=PEOPLE, seed=7)
    data = world.vendors["action_network"]
    rng = random.Random(7)
    now = world.clock.now
    people = list(data.people.values())
    while len(data.events) < events:
        event = action_network._event(rng, now, list(data.event_campaigns))  # noqa: SLF001
        data.events[event.id] = event
        for person in rng.sample(people, 2):
            data.add_attendance(action_network._attendance(rng, event, person, now))  # noqa: SLF001
    for n, event in enumerate(data.events.values()):
        # the upcoming ones within two months; the rest spread over the three years before
        event.start_local = now + rng.randrange(DAY, 60 * DAY) if n < upcoming else now - rng.randrange(DAY, 1000 * DAY)
    world.version += 1
    return world


def incremental_after_one_percent(folder: Path) -> tuple[bool, int]:
    world = world_of_events()
    with action_network.serve(world, KEY, rate_limit=None) as service:
        os.environ.update(action_network.client_env(service, KEY))
        _, full = _sync(folder / "incremental.duckdb", service)
        world.advance(0.01)
        _, incremental = _sync(folder / "incremental.duckdb", service)
    ratio = incremental / full
    print(f"2. {EVENTS:,} events ({UPCOMING} upcoming), {len(world.vendors['action_network'].people):,} people: "
          f"full sync {full} requests; after 1% changed {incremental} requests; ratio {ratio:.3f} "
          f"(bar {INCREMENTAL_BAR})")
    return ratio <= INCREMENTAL_BAR, full


def _rows(warehouse: Path) -> dict[str, set]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = {}
        for table in TABLES:
            columns = [c for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'action_network' and table_name = ? "
                "and column_name not like '\\_dlt%' escape '\\' order by 1", [table]).fetchall()]
            select = ", ".join(f'"{c}"' for c in columns)
            rows[table] = set(con.execute(f'select {select} from action_network."{table}"').fetchall())
        return rows


def killed_then_rerun(folder: Path, full: int) -> bool:
    world = world_of_events()
    moment = random.Random(int(os.environ.get("BENCH_KILL_SEED", "31"))).uniform(0.5, 0.95)
    with action_network.serve(world, KEY, rate_limit=None) as service:
        env = {**os.environ, **action_network.client_env(service, KEY)}
        os.environ.update(env)
        _sync(folder / "clean.duckdb", service)
        crashed = folder / "crashed.duckdb"
        service.reset_log()
        process = subprocess.Popen([sys.executable, "-m", "pipelines", "sync", "--no-transform", "action_network"],
                                   env={**env, "WAREHOUSE_PATH": str(crashed)}, cwd=REPO_ROOT,
                                   start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while service.count() < moment * full and process.poll() is None:
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        before_kill = service.count()
        _, rerun = _sync(crashed, service)
    same = _rows(folder / "clean.duckdb") == _rows(crashed)
    ratio = rerun / full
    print(f"3. killed after {before_kill} of {full} requests ({before_kill / full:.0%}); the rerun made {rerun} "
          f"requests, ratio {ratio:.3f} (bar {CRASH_BAR}); warehouse equals a clean run's: {same}")
    return ratio <= CRASH_BAR and same


def main() -> int:
    os.environ["SOURCES__ACTION_NETWORK__REQUESTS_PER_SECOND"] = str(RATE)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        paced = paced_full_sync(folder)
        os.environ["SOURCES__ACTION_NETWORK__REQUESTS_PER_SECOND"] = str(action_network.UNLIMITED_REQUESTS_PER_SECOND)
        bounded, full = incremental_after_one_percent(folder)
        resumed = killed_then_rerun(folder, full)
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0 if paced and bounded and resumed else 1


if __name__ == "__main__":
    sys.exit(main())
