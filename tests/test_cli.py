"""The command line: the demo end to end, and what it refuses to do."""

import os
import re
import subprocess
import sys

import duckdb
import pytest

from pipelines import REPO_ROOT, runlog
from pipelines.cli import main, parser
from sandbox import mobilize
from sandbox.world import build_world
from tests.conftest import DEMO_OUTPUT, DEMO_PEOPLE, EARLIER_DEMO_ROWS, query


@pytest.mark.integration
def test_the_demo_replaces_an_earlier_demo_builds_a_queryable_warehouse_and_says_where_it_is(demo_warehouse):
    # the shared demo: `python -m pipelines demo` run over an earlier demo of another world (conftest)
    out = (demo_warehouse.parent / DEMO_OUTPUT).read_text()  # dbt's output too: it runs as a child process
    assert re.search(r"/demo\d*/warehouse\.duckdb", out) and "people matched" in out
    # short, ending in the result and what to try next; no progress snapshots or dbt's per-model lines
    assert len(out.splitlines()) < 60, out
    result = out[out.index("Demo result"):]
    assert "make sql" in result and "docs/queries/" in result and "reports/latest.html" in result
    assert "duckdb CLI" not in out and "START sql" not in out
    [(events, attendances)] = query(demo_warehouse, """
        select (select count(*) from analytics.events), (select count(*) from analytics.attendances)""")
    assert events > 0 and attendances > 0
    # the actions mart's rows per type, each on its own line with its count
    per_type = query(demo_warehouse, "select action_type, count(*) from analytics.actions group by 1")
    assert len(per_type) == 6, per_type
    for action_type, count in per_type:
        assert re.search(rf"^ +{action_type} +{count:,}$", result, re.MULTILINE), (action_type, count, result)
    # the demo started over instead of mixing two worlds, run log included (else the guard refuses)
    assert query(demo_warehouse, "select people from main.sandbox_demo") == [(DEMO_PEOPLE,)]
    assert all(max(record.rows.values(), default=0) < EARLIER_DEMO_ROWS for record in runlog.read(demo_warehouse))


def test_the_demo_serves_its_fakes_unthrottled_unless_asked_and_warns_when_big(tmp_path, monkeypatch, capsys):
    assert parser().parse_args(["demo"]).rate_limits is False
    assert parser().parse_args(["demo", "--rate-limits"]).rate_limits is True
    warehouse = tmp_path / "real.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table keep_me as select 1 as x")
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    assert main(["demo", "--people", "20000"]) == 1  # refused before building anything: not the demo's file
    assert "takes minutes" in capsys.readouterr().err


def test_demo_never_overwrites_a_warehouse_it_did_not_make(tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "real.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table keep_me as select 1 as x")
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    assert main(["demo", "--people", "50"]) == 1
    assert "stays untouched" in capsys.readouterr().out
    assert query(warehouse, "select x from keep_me") == [(1,)]


def test_unknown_source_is_an_error_even_when_quiet(capsys):
    assert main(["--quiet", "sync", "salesforce"]) == 2
    err = capsys.readouterr().err
    assert "unknown source salesforce" in err and "mobilize" in err


def test_a_source_named_but_not_configured_fails_loudly_under_quiet(warehouse, no_source_config, capsys):
    assert main(["--quiet", "sync", "--no-transform", "nationbuilder"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("SOURCES__NATIONBUILDER__CLIENT_ID") == 1, captured.err


@pytest.mark.parametrize("base_url, settings", [
    # nothing listens on the discard port: connection refused
    ("http://127.0.0.1:9/v1", ["SOURCES__MOBILIZE__BASE_URL"]),
    # a server that answers, but not at this path: HTTP 404
    (None, ["SOURCES__MOBILIZE__BASE_URL", "SOURCES__MOBILIZE__ORGANIZATION_ID"]),
])
def test_unreachable_or_missing_vendor_names_the_setting_once(warehouse, no_source_config, monkeypatch, capsys,
                                                                base_url, settings):
    with mobilize.serve(build_world(people=20, seed=1), "key", rate_limit=None) as service:
        for key, value in mobilize.client_env(service, "key").items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("SOURCES__MOBILIZE__BASE_URL", base_url or f"{service.url}/v9")
        monkeypatch.setenv("SOURCES__MOBILIZE__MAX_ATTEMPTS", "1")
        assert main(["--quiet", "sync", "--no-transform", "mobilize"]) == 1
    err = capsys.readouterr().err
    assert err.count("MobilizeAmerica") == 1, err  # printed once
    assert "run it again later" not in err
    assert all(setting in err.split("—")[-1] for setting in settings), err


def test_subcommand_help_says_what_it_does_and_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "sync sources into the warehouse, then build the marts" in help_text
    assert "(default: 0.0)" in help_text
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "(default: 2000)" in capsys.readouterr().out


def test_status_json_into_a_pipe_closed_early_ends_without_a_traceback(warehouse):
    """`status --json | head`: a reader that has gone (here before the first byte, so it never races)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        writer = subprocess.run([sys.executable, "-m", "pipelines", "status", "--json"], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT, timeout=120)
    finally:
        os.close(write_end)
    assert "Traceback" not in writer.stderr and "BrokenPipe" not in writer.stderr, writer.stderr
