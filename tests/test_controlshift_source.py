"""The controlshift bulk-data source against the sandbox's local S3 and fake REST API."""

from __future__ import annotations

import bz2
import os
from pathlib import Path

import pytest

from pipelines.runner import sync_source
from sandbox import controlshift
from sandbox.world import build_world
from pipelines.sources.controlshift import controlshift_source
from pipelines.sources.controlshift.stores import duckdb_type_of, postgres_type, psycopg2_query
from pipelines.sources.controlshift.tables import TableWriter, duckdb_type
# the warehouse read on the engine a test runs on (`engine`: both, DuckDB then Postgres)
from tests.postgres_fixtures import execute, query, table_rows

pytestmark = pytest.mark.integration

KEY = "test-controlshift-key"


@pytest.fixture
def cs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, no_source_config):  # noqa: ANN001, ANN201
    """A small world's ControlShift; only the tables that carry people unless marked `all_tables`."""
    world = build_world(people=60, seed=3)
    if request.node.get_closest_marker("all_tables") is None:
        controlshift.keep_tables(world)
    with controlshift.serve(world, KEY) as service:
        for name, value in controlshift.client_env(service, KEY).items():
            monkeypatch.setenv(name, value)
        yield service


def ids(warehouse: Path, table: str) -> set[int]:
    return {row_id for (row_id,) in query(warehouse, f"select id from controlshift.{table}")}


def postcodes(warehouse: Path) -> dict[int, str]:
    return dict(query(warehouse, "select id, postcode from controlshift.signatures"))


def sync(warehouse: Path):  # noqa: ANN201
    result = sync_source("controlshift", warehouse)
    assert result.status == "loaded", result.message
    return result


def signature_file(service, rows: list[dict], stamp: str, kind: str = "incremental", columns=None) -> str:  # noqa: ANN001
    """Put a signatures export of `rows` on the sandbox S3 at `stamp` (YYYYMMDDHHMMSS)."""
    key = f"{service.data.slug}/{kind}/signatures/{stamp[:8]}/signatures_{stamp}.csv"
    service.put_object(key, controlshift.encode_csv(columns or service.data.columns["signatures"], rows))
    return key


def new_signature(service, row_id: int, **values) -> dict:  # noqa: ANN001
    template = dict(next(iter(service.data.rows["signatures"].values())))
    return {**template, "id": row_id, **values}


@pytest.mark.all_tables
def test_full_then_incremental_then_next_full(cs, engine: str, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    tables = {t for (t,) in query(warehouse, "select table_name from information_schema.tables where "
                                             "table_schema = 'controlshift' and left(table_name, 1) <> '_'")}
    assert tables == set(controlshift.TABLES)  # all 63, none hard-coded in the source
    assert ids(warehouse, "members") == set(cs.data.rows["members"])
    # dbt's staging models are views on the raw tables: the next full export replaces the table under them
    execute(warehouse, "create schema staging_views; "
                       "create view staging_views.signatures as select * from controlshift.signatures")

    before = {row_id: dict(row) for row_id, row in cs.data.rows["signatures"].items()}
    cs.world.advance(0.1)  # new rows as incrementals; edits and deletions wait for the full export
    edited = {i for i, row in cs.data.rows["signatures"].items() if i in before and row["postcode"] != before[i]["postcode"]}
    deleted = set(before) - set(cs.data.rows["signatures"])
    added = set(cs.data.rows["signatures"]) - set(before)
    assert edited and deleted and added

    result = sync(warehouse)
    # reconciliation against /api/v1/organisation names the rows deleted since the last full export
    loaded = postcodes(warehouse)
    expected = len(cs.data.rows["signatures"])
    assert f"reconciliation: signatures warehouse {len(loaded)} vs ControlShift {expected} " \
           f"(differs by +{len(loaded) - expected})" in result.message and len(loaded) - expected >= len(deleted)
    assert added <= set(loaded)
    assert deleted <= set(loaded), "a deletion shows only in the next full export"
    assert all(loaded[i] == before[i]["postcode"] for i in edited), "an update shows only in the next full export"

    cs.world.clock.tick(3600)
    controlshift.export_full(cs.world)
    result = sync(warehouse)
    assert "reconciliation: signatures" in result.message and "differs" not in result.message
    assert postcodes(warehouse) == {i: row["postcode"] for i, row in cs.data.rows["signatures"].items()}
    for table in ("members", "attendees", "petitions", "events", "users", "unsubscribes"):
        assert ids(warehouse, table) == set(cs.data.rows[table]), table


def test_rerunning_changes_nothing(cs, engine: str, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    signatures = table_rows(warehouse, "controlshift.signatures")
    files = query(warehouse, "select count(*) from controlshift._loaded_files")
    again = sync(warehouse)
    assert again.rows == {} and table_rows(warehouse, "controlshift.signatures") == signatures
    assert query(warehouse, "select count(*) from controlshift._loaded_files") == files


def test_a_failed_load_leaves_the_old_table_whole(cs, engine: str, warehouse: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    sync(warehouse)
    signatures = table_rows(warehouse, "controlshift.signatures")
    files = query(warehouse, "select count(*) from controlshift._loaded_files")
    cs.world.advance(0.1)
    cs.world.clock.tick(3600)
    controlshift.export_full(cs.world)  # the signatures full export, then an incremental after it
    signature_file(cs, [new_signature(cs, 10**6)], "20270101000000")

    def disk_full(self, *args, **kwargs):  # noqa: ANN001, ANN202
        if self.table == "signatures":
            raise OSError("No space left on device")
        return original(self, *args, **kwargs)

    original = TableWriter.merge
    monkeypatch.setattr(TableWriter, "merge", disk_full)
    failed = sync_source("controlshift", warehouse)
    assert failed.status == "failed" and "signatures" in failed.message and "No space left" in failed.message
    assert table_rows(warehouse, "controlshift.signatures") == signatures
    assert query(warehouse, "select count(*) from controlshift._loaded_files where table_name = 'signatures'") \
        < query(warehouse, "select count(*) from controlshift._loaded_files") and \
        query(warehouse, "select count(*) from controlshift._loaded_files")[0][0] > files[0][0]

    monkeypatch.setattr(TableWriter, "merge", original)
    sync(warehouse)
    assert ids(warehouse, "signatures") == set(cs.data.rows["signatures"]) | {10**6}


def test_duplicate_and_out_of_order_files(cs, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("SOURCES__CONTROLSHIFT__FULL_EXPORT_OVERLAP_HOURS", "0")
    sync(warehouse)
    full_stamp = max(k for k in cs.data.files if "/full/signatures/" in k).rsplit("_", 1)[1][:14]
    baseline = ids(warehouse, "signatures")

    # the same rows twice (a re-delivered file under another name) merge on id
    late = new_signature(cs, 900001, first_name="Late", postcode="11111")
    signature_file(cs, [late], "20260102030000")
    signature_file(cs, [late], "20260102030500")
    # an incremental older than the loaded full export (here with no overlap) is covered by it
    signature_file(cs, [new_signature(cs, 900002)], full_stamp[:8] + "000001")
    sync(warehouse)
    assert ids(warehouse, "signatures") == baseline | {900001}
    assert query(warehouse, "select count(*) from controlshift.signatures where id = 900001") == [(1,)]

    # a full export arriving after a newer incremental: the incremental applies again after it
    current = list(cs.data.rows["signatures"].values())
    signature_file(cs, current, "20260102010000", kind="full")
    sync(warehouse)
    assert ids(warehouse, "signatures") == set(cs.data.rows["signatures"]) | {900001}
    outcomes = dict(query(warehouse, "select key, outcome from controlshift._loaded_files"))
    assert sorted(v for k, v in outcomes.items() if "900" in k or k.endswith("000001.csv")) == ["covered"]


def test_an_incremental_stamped_shortly_before_a_full_export_is_not_dropped(cs, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    full_key = max(k for k in cs.data.files if "/full/signatures/" in k)
    full_stamp = full_key.rsplit("_", 1)[1][:14]
    known_id = next(iter(cs.data.rows["signatures"]))
    # written while the full export was: one row the full lacks, one it has in a newer state
    stale = new_signature(cs, known_id, postcode="00000")
    signature_file(cs, [new_signature(cs, 900005), stale], full_stamp[:8] + "013000")  # 30 min before
    sync(warehouse)
    assert 900005 in ids(warehouse, "signatures")
    assert postcodes(warehouse)[known_id] == cs.data.rows["signatures"][known_id]["postcode"]


def test_an_id_twice_in_one_incremental_keeps_its_last_line(cs, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    first = new_signature(cs, 900003, first_name="Before", postcode="11111")
    second = new_signature(cs, 900003, first_name="After", postcode="22222")
    signature_file(cs, [first, new_signature(cs, 900004), second], "20260102040000")
    sync(warehouse)
    assert query(warehouse, "select first_name, postcode from controlshift.signatures where id = 900003") == [
        ("After", "22222")]
    assert query(warehouse, "select count(*) from controlshift.signatures where id = 900004") == [(1,)]


def test_a_half_written_export_loads_nothing_until_it_is_whole(cs, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    whole = controlshift.encode_csv(cs.data.columns["signatures"], list(cs.data.rows["signatures"].values()))
    for compress in (False, True):
        before = table_rows(warehouse, "controlshift.signatures")
        key = f"{cs.data.slug}/full/signatures/20260103/signatures_2026010301000{int(compress)}.csv"
        # cut mid-line, or a bz2 stream without its end
        data = whole[: len(whole) // 2]
        if compress:
            key, data = key + ".bz2", bz2.compress(whole)[:-40]
        cs.put_object(key, data)
        result = sync_source("controlshift", warehouse)
        assert result.status == "failed" and ("cut short" if compress else "half-written") in result.message, result.message
        assert table_rows(warehouse, "controlshift.signatures") == before, "yesterday's table stays whole"
        assert query(warehouse, f"select count(*) from controlshift._loaded_files where key = '{key}'") == [(0,)]
        cs.put_object(key, bz2.compress(whole) if compress else whole)  # the export completes
        sync(warehouse)
        assert ids(warehouse, "signatures") == set(cs.data.rows["signatures"])


def test_bz2_exports(cs, warehouse: Path) -> None:  # noqa: ANN001
    cs.data.compress = True
    cs.world.advance(0.1)
    cs.world.clock.tick(3600)
    controlshift.export_full(cs.world)
    assert any(k.endswith(".csv.bz2") and "/full/signatures/" in k for k in cs.data.files)
    assert "not bzip2-compressed" not in sync(warehouse).message
    assert postcodes(warehouse) == {i: row["postcode"] for i, row in cs.data.rows["signatures"].items()}
    key = max(k for k in cs.data.files if k.endswith(".bz2") and "/full/petitions/" in k)
    assert bz2.decompress(cs.data.files[key])  # really compressed
    assert query(warehouse, f"select outcome from controlshift._loaded_files where key = '{key}'") == [("loaded",)]


def test_malformed_rows_are_kept_aside_not_dropped(cs, engine: str, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    header = ",".join(cs.data.columns["signatures"])
    good = controlshift.encode_csv(cs.data.columns["signatures"], [new_signature(cs, 700001)]).decode().splitlines()[1]
    bad_type = good.replace("700001", "not-a-number", 1)
    short = "700003,1"
    body = "\n".join([header, good, bad_type, short, good.replace("700001", "700004", 1)]) + "\n"
    key = f"{cs.data.slug}/incremental/signatures/20260102/signatures_20260102040000.csv"
    cs.put_object(key, body.encode())
    result = sync(warehouse)
    assert "2 rejected rows" in result.message
    assert {700001, 700004} <= ids(warehouse, "signatures")
    empty = f"{cs.data.slug}/incremental/signatures/20260102/signatures_20260102041000.csv"
    cs.put_object(empty, b"")  # an empty object is loaded as no rows, not an error
    assert sync(warehouse).rows == {}
    rejected = query(warehouse, "select file, line, reason from controlshift._rejected_rows order by line")
    assert [(f, line) for f, line, _ in rejected] == [(key, 3), (key, 4)]
    assert "CAST" in rejected[0][2] and "MISSING COLUMNS" in rejected[1][2]


def test_schema_drift_adds_columns_and_keeps_vanished_ones(cs, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    columns = cs.data.columns["signatures"]
    drifted = [c for c in columns if c != "facebook_id"] + ["pronouns"]
    signature_file(cs, [new_signature(cs, 800001, pronouns="they/them")], "20260102050000", columns=drifted)
    sync(warehouse)
    assert query(warehouse, "select pronouns from controlshift.signatures where id = 800001") == [("they/them",)]

    rows = [{**row, "pronouns": None} for row in cs.data.rows["signatures"].values()]
    signature_file(cs, rows, "20260102060000", kind="full", columns=drifted)
    sync(warehouse)
    names = [c for (c,) in query(warehouse, "select column_name from information_schema.columns "
                                            "where table_schema = 'controlshift' and table_name = 'signatures'")]
    assert "facebook_id" in names and "pronouns" in names
    assert query(warehouse, "select count(facebook_id) from controlshift.signatures") == [(0,)]


def test_types_from_schema_endpoint_else_sniffed(cs, warehouse: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    sync(warehouse)
    types = dict(query(warehouse, "select column_name, data_type from information_schema.columns "
                                  "where table_schema = 'controlshift' and table_name = 'signatures'"))
    # all-null columns are typed too, from sql_type
    assert types["recaptcha_score"] == "DECIMAL(3,2)" and types["referring_share_click_id"] == "INTEGER"
    assert types["created_at"] == "TIMESTAMP" and types["join_organisation"] == "BOOLEAN"

    monkeypatch.delenv("SOURCES__CONTROLSHIFT__BASE_URL")
    sniffed = tmp_path / "sniffed.duckdb"
    sync(sniffed)
    types = dict(query(sniffed, "select column_name, data_type from information_schema.columns "
                                "where table_schema = 'controlshift' and table_name = 'signatures'"))
    assert types["recaptcha_score"] == "VARCHAR" and types["id"] == "BIGINT"


def test_lists_only_date_prefixes_since_its_state(cs, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    source = controlshift_source(bucket=cs.bucket, organization_slug=cs.data.slug, s3_endpoint_url=cs.s3_endpoint_url)
    listed: list[dict] = []
    source.s3.meta.events.register("before-parameter-build.s3.ListObjectsV2",
                                   lambda params, **_: listed.append(dict(params)))
    cs.world.advance(0.1)
    source.load_into(warehouse)
    oldest_date = min(k.split("/")[3] for k in cs.data.files)
    date_listings = [p for p in listed if p["Prefix"].count("/") == 4]
    assert date_listings and all(p["Prefix"].split("/")[3] >= "20251231" for p in date_listings)
    assert not [p for p in date_listings if p["Prefix"].split("/")[3] == oldest_date]
    assert all(p.get("Delimiter") == "/" for p in listed if p["Prefix"].count("/") < 4)


def test_a_wrong_api_key_is_named(cs, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("SOURCES__CONTROLSHIFT__API_KEY", "wrong")
    result = sync_source("controlshift", warehouse)
    # the schema needs no key, so the load goes on; the reconciliation names the key to fix
    assert result.status == "loaded", result.message
    assert [w for w in result.warnings if "SOURCES__CONTROLSHIFT__API_KEY" in w and "401" in w], result.warnings


def test_an_unterminated_quote_at_the_end_loads_the_good_rows_and_quarantines_the_rest(  # noqa: ANN001
        cs, warehouse: Path) -> None:
    from pipelines.cli import main

    assert main(["--quiet", "sync", "controlshift", "--no-transform"]) == 0
    columns = cs.data.columns["signatures"]
    rows = list(cs.data.rows["signatures"].values())
    rows[0] = {**rows[0], "first_name": "carriage\rreturn\nand newline"}  # a CR inside a quoted field
    body = controlshift.encode_csv(columns, rows) + b'900009,"a line whose quote never closes\n'
    key = f"{cs.data.slug}/full/signatures/20260103/signatures_20260103020000.csv"
    cs.put_object(key, body)
    assert main(["--quiet", "sync", "controlshift", "--no-transform"]) == 0
    assert ids(warehouse, "signatures") == {row["id"] for row in rows}
    [(line, raw)] = query(warehouse, f"select line, csv_line from controlshift._rejected_rows where file = '{key}'")
    assert line == len(rows) + 2 and raw.startswith("900009,")  # the header is line 1
    assert query(warehouse, f"select outcome, rejected_rows from controlshift._loaded_files where key = '{key}'") == [
        ("loaded", 1)]
    assert main(["--quiet", "sync", "controlshift", "--no-transform"]) == 0


def test_an_empty_full_export_empties_its_table(cs, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    assert ids(warehouse, "unsubscribes")
    header_only = controlshift.encode_csv(cs.data.columns["unsubscribes"], [])
    cs.put_object(f"{cs.data.slug}/full/unsubscribes/20260103/unsubscribes_20260103020000.csv", header_only)
    cs.put_object(f"{cs.data.slug}/full/petitions/20260103/petitions_20260103020000.csv", b"")  # zero bytes
    sync(warehouse)
    assert ids(warehouse, "unsubscribes") == set() and ids(warehouse, "petitions") == set()
    assert "member_id" in {c for (c,) in query(warehouse, "select column_name from information_schema.columns "
                                                          "where table_name = 'unsubscribes'")}


def test_a_slug_with_no_exports_is_a_warning_status_shows(cs, warehouse: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    import json

    from pipelines.cli import main

    monkeypatch.setenv("SOURCES__CONTROLSHIFT__ORGANIZATION_SLUG", "keystone-actoin")  # mistyped
    capsys.readouterr()
    assert main(["sync", "controlshift", "--no-transform"]) == 0
    assert "no exports under" in capsys.readouterr().out
    assert main(["status", "--json"]) == 1
    [found] = [s for s in json.loads(capsys.readouterr().out)["sources"] if s["source"] == "controlshift"]
    assert found["state"] == "warning" and "ORGANIZATION_SLUG" in found["warnings"][0]
    assert main(["status"]) == 1
    assert "controlshift warning: no exports under" in capsys.readouterr().out


@pytest.mark.parametrize("sql_type, expected", [
    ("jsonb", "JSON"), ("json", "JSON"), ("hstore", "VARCHAR"), ("uuid", "UUID"),
    ("geography(Point,4326)", "VARCHAR"), ("character varying[]", "VARCHAR"), ("integer[]", "VARCHAR"),
    ("admin_status_enum", "VARCHAR"), ("interval", "INTERVAL"), ("bigint", "BIGINT"), ("integer", "INTEGER"),
    ("numeric(3,2)", "DECIMAL(3,2)"), ("timestamp without time zone", "TIMESTAMP"),
    ("timestamp with time zone", "TIMESTAMPTZ"), ("character varying(255)", "VARCHAR"), ("boolean", "BOOLEAN"),
])
def test_schema_types_as_served_map_to_duckdb_types(sql_type: str, expected: str) -> None:
    assert duckdb_type(sql_type) == expected


@pytest.mark.parametrize("parsed, on_postgres", [
    ("VARCHAR", "text"), ("BIGINT", "bigint"), ("INTEGER", "integer"), ("DOUBLE", "double precision"),
    ("BOOLEAN", "boolean"), ("DATE", "date"), ("TIMESTAMP", "timestamp"), ("TIMESTAMP WITH TIME ZONE", "timestamptz"),
    ("JSON", "jsonb"), ("UUID", "uuid"), ("INTERVAL", "interval"), ("DECIMAL(3,2)", "numeric(3,2)"), ("BLOB", "text"),
])
def test_parsed_types_as_postgres_holds_them_and_back(parsed: str, on_postgres: str) -> None:
    assert postgres_type(parsed) == on_postgres
    # what an incremental is parsed as, read back from the Postgres table (`format_type`)
    served = {"timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone"}
    back = duckdb_type_of(served.get(on_postgres, on_postgres))
    assert back == {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ", "BLOB": "VARCHAR"}.get(parsed, parsed)


def test_portable_sql_as_psycopg2_reads_it() -> None:
    # a placeholder becomes %s; a quoted name or string keeps its ? and gets its % doubled
    assert psycopg2_query("""select "a?%" from t where k = ? and v like 'x?%'""", ["k"]) == (
        """select "a?%%" from t where k = %s and v like 'x?%%'""", ("k",))
    assert psycopg2_query('select "100%"', []) == ('select "100%"', None)


def test_schema_is_fetched_without_a_key_and_raw_types_load(cs, warehouse: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("SOURCES__CONTROLSHIFT__API_KEY")
    cs.reset_log()
    sync(warehouse)
    assert cs.count(200, "/api/bulk_data/schema.json") == 1
    types = dict(query(warehouse, "select column_name, data_type from information_schema.columns "
                                  "where table_schema = 'controlshift' and table_name = 'members'"))
    assert types["external_ids"] == "JSON" and types["id"] == "BIGINT"


def test_a_file_the_parser_gives_up_on_is_set_aside_and_later_files_load(cs, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    columns = cs.data.columns["signatures"]
    good = controlshift.encode_csv(columns, [new_signature(cs, 910001)])
    # a bare carriage return in an unquoted field: not the documented dialect, DuckDB gives up on the file
    broken = good.replace(b"\n", b"\n910002,a\rb\n", 1)
    bad_key = signature_file(cs, [], "20260102070000")
    cs.put_object(bad_key, broken)
    signature_file(cs, [new_signature(cs, 910003)], "20260102070500")
    result = sync(warehouse)
    assert 910003 in ids(warehouse, "signatures") and "1 rejected rows" in result.message
    [(line, reason)] = query(warehouse, f"select line, reason from controlshift._rejected_rows where file = '{bad_key}'")
    assert line is None and "could not be parsed" in reason
    assert f"file = {bad_key}" in reason and "/tmp" not in reason, "the export is named, not the temporary download"
    assert query(warehouse, f"select outcome from controlshift._loaded_files where key = '{bad_key}'") == [("loaded",)]


def test_oversized_fields_misnamed_bz2_and_zero_byte_fulls(cs, warehouse: Path) -> None:  # noqa: ANN001
    sync(warehouse)
    columns = cs.data.columns["signatures"]
    # a field far over DuckDB's line limit: that line is rejected, shown capped; the good rows load
    huge = new_signature(cs, 920002, first_name="x" * 3_000_000)
    key = signature_file(cs, [new_signature(cs, 920001), huge, new_signature(cs, 920003)], "20260102080000")
    result = sync(warehouse)
    assert {920001, 920003} <= ids(warehouse, "signatures") and 920002 not in ids(warehouse, "signatures")
    [(reason, shown)] = query(warehouse, f"select reason, length(csv_line) from controlshift._rejected_rows "
                                         f"where file = '{key}'")
    assert "LINE SIZE" in reason and shown <= 2000 and len(result.message) < 5000
    # a plain CSV named .bz2 loads as what it is, with a note
    plain = controlshift.encode_csv(columns, [new_signature(cs, 920004)])
    misnamed = f"{cs.data.slug}/incremental/signatures/20260102/signatures_20260102081000.csv.bz2"
    cs.put_object(misnamed, plain)
    result = sync(warehouse)
    assert 920004 in ids(warehouse, "signatures") and "not bzip2-compressed" in result.message
    # a zero-byte full export empties the table, and the incrementals after it still apply
    cs.put_object(f"{cs.data.slug}/full/signatures/20260103/signatures_20260103020000.csv", b"")
    signature_file(cs, [new_signature(cs, 920005)], "20260103030000")
    sync(warehouse)
    assert ids(warehouse, "signatures") == {920005}


def test_without_schema_types_a_malformed_tail_still_loads_the_good_rows(cs, warehouse: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("SOURCES__CONTROLSHIFT__BASE_URL")  # no types known: DuckDB detects them
    rows = list(cs.data.rows["signatures"].values())
    body = controlshift.encode_csv(cs.data.columns["signatures"], rows) + b'900010,"never closed\n'
    key = f"{cs.data.slug}/full/signatures/20260103/signatures_20260103020000.csv"
    cs.put_object(key, body)
    sync(warehouse)
    # type detection tripped on the tail, so the file was read as text: every good row is there
    loaded = query(warehouse, "select cast(id as bigint) from controlshift.signatures")
    assert {row_id for (row_id,) in loaded} == {row["id"] for row in rows}
    assert query(warehouse, f"select count(*) from controlshift._rejected_rows where file = '{key}'") == [(1,)]


def test_downloads_a_killed_sync_left_behind_are_removed(cs, warehouse: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A SIGKILLed sync cannot clean its download folder (exported people's data); the next sync does,
    and leaves alone the folder of a sync still running for another warehouse."""
    import subprocess

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setenv("SOURCES__CONTROLSHIFT__TEMP_DIR", str(downloads))
    ended = subprocess.Popen(["true"])  # noqa: S607 - a process that has ended and been reaped
    ended.wait()
    killed = downloads / f"controlshift-{ended.pid}-abc"
    running = downloads / f"controlshift-{os.getppid()}-def"
    for folder in (killed, running):
        folder.mkdir()
        (folder / "signatures.csv").write_text("id,email\n1,ada@example.org\n")
    sync(warehouse)
    assert not killed.exists(), "a killed sync's downloads are deleted"
    assert running.exists(), "a running sync's downloads are its own"
    assert [p.name for p in downloads.iterdir()] == [running.name], "this sync cleaned up after itself"
