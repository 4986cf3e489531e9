"""The marts on Postgres are the marts on DuckDB (issue 21): same world, same rows, same person_ids.

The shared world is demoed once per test run on each engine, as a user runs it (`python -m pipelines
demo`; conftest's `demo_warehouse` and `postgres_demo`), the Postgres one in a database sorting text
by language in a far time zone. Every mart is compared row for row (tests/engine_parity.py), and the
demo's closing summary must give the same figures. The marts tests then run on both demos
(`engine_demo`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import snapshot_path
from tests.conftest import DEMO_OUTPUT, PostgresDemo
from tests.engine_parity import marts_differences, summary

pytestmark = pytest.mark.integration


def summary_figures(output: str) -> list[str]:
    """The demo summary's figures: its lines from `Demo result` to the first blank line (rows per source
    and mart, people matched, actions by type), without where the marts are, which names the engine."""
    lines = output.splitlines()
    start = lines.index("Demo result")
    end = lines.index("", start)
    return lines[start:end]


# postgres_demo first: this file starts beside test_actions_mart.py, which builds the DuckDB demo
def test_the_postgres_demo_builds_the_marts_the_duckdb_demo_builds(postgres_demo: PostgresDemo,
                                                                   demo_warehouse: Path) -> None:
    assert postgres_demo.returncode == 0, postgres_demo.output[-3000:] + postgres_demo.stderr
    differences = marts_differences(snapshot_path(demo_warehouse), postgres_demo.url)
    assert not any(differences.values()), summary(differences)
    duckdb_figures = summary_figures((demo_warehouse.parent / DEMO_OUTPUT).read_text())
    assert summary_figures(postgres_demo.output) == duckdb_figures
    assert len(duckdb_figures) > 10, duckdb_figures
