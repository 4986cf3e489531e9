"""Fixtures shared by every test: an isolated warehouse, a running sandbox, its configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import duckdb
import pytest

from pipelines.sandbox import Sandbox


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB warehouse path for one test; WAREHOUSE_PATH points at it."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(path))
    return path


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A small world with every fake vendor running, and the sources configured for it."""
    with Sandbox(people=300, seed=11) as running:
        for key, value in running.env().items():
            monkeypatch.setenv(key, value)
        yield running


@pytest.fixture
def no_source_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No vendor configured from the environment (a developer's shell may have some)."""
    for key in list(os.environ):
        if key.startswith("SOURCES__"):
            monkeypatch.delenv(key)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def table_rows(warehouse: Path, table: str, exclude_prefix: str = "_dlt") -> set[tuple]:
    """A table's rows without dlt's bookkeeping columns, for exact before/after comparisons."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema || '.' || table_name = ? "
            "order by ordinal_position", [table]).fetchall() if not c.startswith(exclude_prefix)]
        return set(con.execute(f"select {', '.join(columns)} from {table}").fetchall())


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small demo warehouse (sandbox -> sync -> marts -> run report), shared read-only by tests."""
    from pipelines.cli import main

    warehouse = tmp_path_factory.mktemp("demo") / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("SOURCES__", "STATUS__"))]:
            patch.delenv(key)
        patch.setenv("WAREHOUSE_PATH", str(warehouse))
        assert main(["--quiet", "demo", "--people", "150", "--seed", "5"]) == 0
    return warehouse
