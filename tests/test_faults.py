"""Vendors misbehaving: every source ends with exact data, or fails clearly with its state unmoved."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.runner import sync
from sandbox import Sandbox
from sandbox.world import VENDORS
from tests.conftest import compare_schemas

pytestmark = pytest.mark.integration

# retry budgets and timeouts are configuration: short ones keep the test quick
QUICK_RETRIES = {"BACKOFF_FACTOR": "0.05", "TIMEOUT": "1", "MAX_ATTEMPTS": "8"}
# small pages: many requests, so that a 10% fault rate hits every source many times
SMALL_PAGES = {"PER_PAGE": "10"}


def _configure(sandbox: Sandbox, patch: pytest.MonkeyPatch, **settings: str) -> None:
    for key, value in sandbox.env().items():
        patch.setenv(key, value)
    for source in VENDORS:
        for key, value in settings.items():
            patch.setenv(f"SOURCES__{source.upper()}__{key}", value)


def _sync_all(warehouse: Path) -> list:
    return sync(list(VENDORS), warehouse, echo=lambda _: None)


def test_ten_percent_server_errors_a_429_storm_stalls_and_cut_bodies_end_with_exact_data(tmp_path, report):
    clean, faulty = tmp_path / "clean.duckdb", tmp_path / "faulty.duckdb"
    with pytest.MonkeyPatch.context() as patch, Sandbox(people=120, seed=9, throttled=False) as sandbox:
        _configure(sandbox, patch, **QUICK_RETRIES, **SMALL_PAGES)
        assert all(r.status == "loaded" for r in _sync_all(clean))
        for service in sandbox.services.values():
            service.reset_log()
            service.faults.error_rate = 0.10
            service.faults.storm_429 = 5
            service.faults.slow_rate, service.faults.slow_seconds = 0.03, 1.5  # longer than TIMEOUT
            service.faults.truncate_rate = 0.03
        results = _sync_all(faulty)
        faults_answered = sum(service.count(status=s) for service in sandbox.services.values()
                              for s in (429, 500, 501, 502, 503, 504))
    assert all(r.status == "loaded" for r in results), results
    assert faults_answered > 0
    for source in VENDORS:
        assert compare_schemas(clean, faulty, source) == (0, 0, []), source
    report(f"faults: {faults_answered} error answers over {len(VENDORS)} sources, 0 rows lost, 0 rows duplicated")


def test_a_run_that_exhausts_its_retries_fails_clearly_and_leaves_state_unadvanced(tmp_path):
    clean, retried = tmp_path / "clean.duckdb", tmp_path / "retried.duckdb"
    with pytest.MonkeyPatch.context() as patch, Sandbox(people=80, seed=4, throttled=False) as sandbox:
        _configure(sandbox, patch, BACKOFF_FACTOR="0.01", MAX_ATTEMPTS="2")
        assert all(r.status == "loaded" for r in _sync_all(retried) + _sync_all(clean))
        sandbox.world.advance(0.1)
        for service in sandbox.services.values():
            service.faults.error_rate = 1.0
        failed = _sync_all(retried)
        for service in sandbox.services.values():
            service.faults.error_rate = 0.0
        assert all(r.status == "loaded" for r in _sync_all(retried))
        assert all(r.status == "loaded" for r in _sync_all(clean))
    for result in failed:
        assert result.status == "failed" and "HTTP 5" in result.message, result
    for source in VENDORS:
        assert compare_schemas(clean, retried, source) == (0, 0, []), source
