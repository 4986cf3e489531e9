"""The command line: the demo end to end, and what it refuses to do."""

import duckdb

from pipelines.cli import main
from tests.conftest import query


def test_demo_builds_a_queryable_warehouse_and_says_where_it_is(tmp_path, monkeypatch, capsys, no_source_config):
    warehouse = tmp_path / "demo.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    assert main(["demo", "--people", "150", "--no-rate-limits"]) == 0
    out = capsys.readouterr().out
    assert str(warehouse) in out and "people matched" in out
    [(events, attendances)] = query(warehouse, """
        select (select count(*) from analytics.events), (select count(*) from analytics.attendances)""")
    assert events > 0 and attendances > 0
    # a second demo starts over instead of mixing two worlds
    assert main(["demo", "--people", "100", "--no-rate-limits"]) == 0
    [(people,)] = query(warehouse, "select people from main.sandbox_demo")
    assert people == 100


def test_demo_never_overwrites_a_warehouse_it_did_not_make(tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "real.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table keep_me as select 1 as x")
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    assert main(["demo", "--people", "50"]) == 1
    assert "stays untouched" in capsys.readouterr().out
    assert query(warehouse, "select x from keep_me") == [(1,)]


def test_sync_rejects_unknown_sources(capsys):
    assert main(["sync", "salesforce"]) == 2
    assert "unknown source salesforce" in capsys.readouterr().out
