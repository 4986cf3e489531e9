"""One ControlShift table in the warehouse: its types, and replacing or merging an export into it.

- column types come from `/api/bulk_data/schema.json` (`sql_type`) when `base_url` and
  `api_key` are configured, else from DuckDB's CSV sniffing; incrementals keep the table's
  existing types. A column that appears later is added; one that disappears stays, null;
- rows DuckDB cannot parse go to `controlshift._rejected_rows` (file, line, reason, the raw
  line) through `read_csv(store_rejects=…)` and are counted in the run summary.

`TableWriter` works inside a transaction the loader (`loader.py`) opened and commits, on the
warehouse `WAREHOUSE_ENGINE` names through a store (`stores.py`): the file is always parsed by
DuckDB, so both engines keep the same rows, rejects and types.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb

from pipelines.sources.controlshift.exports import SCHEMA, ExportFile
from pipelines.sources.controlshift.stores import Store
from pipelines.sql import identifier, literal

# the longest reason or raw line kept in _rejected_rows: a runaway field is not copied whole
MAX_REJECT_TEXT = 2000


def duckdb_type(sql_type: str) -> str:
    """A ControlShift column type as the DuckDB type that holds it: Redshift's (published DDL) or
    the raw Postgres ones `/api/bulk_data/schema.json` serves (`jsonb`, `hstore`, `uuid`,
    `geography(Point,4326)`, enums, arrays). What DuckDB cannot hold natively stays text: an
    hstore, a PostGIS geography (DuckDB's spatial extension cannot be installed here), a Postgres
    array literal (`{a,b}` is not DuckDB list syntax) and an enum (any label set)."""
    lowered = sql_type.lower().strip()
    if lowered.endswith("]") or lowered.startswith(("array", "_")):
        return "VARCHAR"
    precision = re.search(r"\((\d+)\s*,\s*(\d+)\)", lowered)
    word = re.match(r"[a-z0-9_ ]*", lowered).group(0).strip()
    simple = {"bigint": "BIGINT", "int8": "BIGINT", "bigserial": "BIGINT", "integer": "INTEGER", "int": "INTEGER",
              "int4": "INTEGER", "serial": "INTEGER", "smallint": "INTEGER", "int2": "INTEGER", "boolean": "BOOLEAN",
              "bool": "BOOLEAN", "date": "DATE", "double precision": "DOUBLE", "float8": "DOUBLE", "float4": "DOUBLE",
              "real": "DOUBLE", "float": "DOUBLE", "uuid": "UUID", "json": "JSON", "jsonb": "JSON",
              "interval": "INTERVAL"}
    if word in simple:
        return simple[word]
    if word.startswith("timestamp"):
        return "TIMESTAMPTZ" if "with time zone" in lowered and "without" not in lowered else "TIMESTAMP"
    if word.startswith(("numeric", "decimal")):
        return f"DECIMAL({precision[1]},{precision[2]})" if precision else "DOUBLE"
    return "VARCHAR"


def parse_schema(payload: dict) -> dict[str, dict[str, str]]:
    """`/api/bulk_data/schema.json` -> {table: {column: DuckDB type}}."""
    tables: dict[str, dict[str, str]] = {}
    for item in payload.get("tables", []):
        table = item.get("table", item)
        columns = table.get("columns", {})
        # the document shows a list of one-key objects; the API answers an object
        pairs = columns.items() if isinstance(columns, dict) else (p for c in columns for p in c.items())
        tables[table["name"]] = {name: duckdb_type(spec.get("sql_type") or spec.get("type") or "")
                                 for name, spec in pairs}
    return tables


BOOKKEEPING = f"""
    create schema if not exists {SCHEMA};
    create table if not exists {SCHEMA}._loaded_files (
        key text primary key, table_name text, kind text, export_date text,
        exported_at text, outcome text, row_count bigint, rejected_rows bigint,
        loaded_at timestamptz);
    create table if not exists {SCHEMA}._rejected_rows (
        file text, line bigint, reason text, csv_line text, loaded_at timestamptz);
"""
# DuckDB's rejects of the last read_csv, in the parser connection
REJECTS, REJECT_SCANS = "controlshift_rejects", "controlshift_reject_scans"


class TableWriter:
    """Applies one table's export files inside one open transaction of `store` (`stores.py`): the
    file is parsed in `store.parser` (DuckDB), what it holds lands in the warehouse."""

    def __init__(self, store: Store, table: str, schema_types: dict[str, str] | None,
                 sniff_sample: int, undetectable: frozenset[Path] = frozenset()) -> None:
        self.store, self.table, self.schema_types, self.sniff_sample = store, table, schema_types, sniff_sample
        self.parser = store.parser
        self.target = f"{SCHEMA}.{identifier(table)}"
        # files whose type detection already failed on a row past the sample: read as text instead
        self.undetectable = undetectable

    def existing_types(self) -> dict[str, str]:
        return self.store.existing_types(self.table)

    def _read_csv(self, path: Path, header: list[str], known: dict[str, str]) -> str:
        """`read_csv` in ControlShift's documented dialect (comma, double quote, header), never
        sniffed: a file whose tail opens a quote it never closes, or that holds a carriage return
        in a quoted field, fails DuckDB's dialect sniffing as a whole, while read as documented
        its good rows load and the rest go to the rejects table. Column types come from the schema
        endpoint or the table as it is; only when some are unknown does DuckDB detect types (and,
        if that detection trips on the file, those columns are read as text)."""
        options = [
            "header = true", "delim = ','", "quote = '\"'", "escape = '\"'", "store_rejects = true",
            f"rejects_table = {literal(REJECTS)}", f"rejects_scan = {literal(REJECT_SCANS)}",
        ]
        unknown = [column for column in header if column not in known]
        if unknown and path not in self.undetectable and self._types_detectable(path, options):
            types = {column: known[column] for column in header if column in known}
            options += [f"sample_size = {self.sniff_sample}"]
            if types:
                options.append("types = {" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in types.items()) + "}")
        else:
            columns = {column: known.get(column, "VARCHAR") for column in header}
            options += ["auto_detect = false",
                        "columns = {" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in columns.items()) + "}"]
        self._forget_rejects()
        return f"read_csv({literal(str(path))}, {', '.join(options)})"

    def _types_detectable(self, path: Path, options: list[str]) -> bool:
        try:
            # on a cursor of its own: a failed statement would abort the load's open transaction
            self.parser.cursor().execute(f"select * from sniff_csv({literal(str(path))}, sample_size = {self.sniff_sample}, "
                             f"{', '.join(o for o in options if o.split(' ')[0] in ('header', 'delim', 'quote', 'escape'))})")
        except duckdb.Error:
            return False
        return True

    def _forget_rejects(self) -> None:
        self.parser.execute(f"drop table if exists {REJECTS}; drop table if exists {REJECT_SCANS}")

    def _record_rejects(self, key: str) -> int:
        exists = self.parser.execute(
            "select count(*) from duckdb_tables() where table_name = ? and temporary", [REJECTS]).fetchone()[0]
        if not exists:
            return 0
        rejected = self.store.append(f"""
            select {literal(key)} as file, line,
                   left(string_agg(error_type || ': ' || error_message, '; ' order by column_idx), {MAX_REJECT_TEXT}) as reason,
                   left(any_value(csv_line), {MAX_REJECT_TEXT}) as csv_line, now() as loaded_at
            from {REJECTS} group by line""", f"{SCHEMA}._rejected_rows")
        self._forget_rejects()
        return rejected

    def replace(self, export: ExportFile, path: Path, header: list[str]) -> tuple[int, int]:
        """The table becomes this full export; columns it had that the file lacks stay, null. A full
        export without a header (a zero-byte file) is an empty table."""
        old = self.existing_types()
        if not header:
            if old:
                self.store.execute(f"delete from {self.target}")
            return 0, 0
        known = {**old, **(self.schema_types or {})}
        staging = f"{SCHEMA}.{identifier('__new_' + self.table)}"
        vanished = [f"cast(null as {old[c]}) as {identifier(c)}" for c in old if c not in header]
        select = ", ".join(["*", *vanished])
        self.store.execute(f"drop table if exists {staging}")
        self.store.land(f"select {select} from {self._read_csv(path, header, known)}", staging)
        [(rows,)] = self.store.rows(f"select count(*) from {staging}")
        rejected = self._record_rejects(export.file_id)
        self.store.swap_in(staging, self.table)
        return rows, rejected

    def merge(self, export: ExportFile, path: Path, header: list[str], only_missing: bool = False) -> tuple[int, int]:
        """New rows merge on `id`; the table gains columns it has not seen. `only_missing`: rows
        whose id the table already has are left as they are (an incremental the latest full export
        may already contain, newer, is applied only for what it lacks)."""
        old = self.existing_types()
        if not header:
            return 0, 0
        known = {**(self.schema_types or {}), **old}
        rows = self._read_csv(path, header, known)
        if "id" in header:
            # an id listed twice in one file is one row: its last line is its latest state
            rows = f"""(select * exclude (__line) from (select *, row_number() over () as __line from {rows})
                        qualify row_number() over (partition by id order by __line desc) = 1)"""
        increment = "controlshift_increment"
        self.store.execute(f"drop table if exists {increment}")
        new_types = self.store.land(f"select * from {rows}", increment, temporary=True)
        rejected = self._record_rejects(export.file_id)
        if not old:
            self.store.execute(f"create table {self.target} as select * from {increment}")
        else:
            for column, data_type in new_types.items():
                if column not in old:
                    self.store.execute(f"alter table {self.target} add column {identifier(column)} {data_type}")
            if "id" in new_types and "id" in old:
                if only_missing:
                    self.store.execute(f"delete from {increment} where id in (select id from {self.target})")
                else:
                    self.store.execute(f"delete from {self.target} where id in (select id from {increment})")
            names = ", ".join(identifier(column) for column in new_types)
            self.store.execute(f"insert into {self.target} ({names}) select {names} from {increment}")
        [(rows,)] = self.store.rows(f"select count(*) from {increment}")
        self.store.execute(f"drop table {increment}")
        return rows, rejected


def read_header(path: Path) -> list[str]:
    """The column names: the first line only, so that a bad byte further on is DuckDB's to reject."""
    with path.open("rb") as handle:
        first_line = handle.readline().decode("utf-8-sig", errors="replace")
    return next(csv.reader([first_line]), [])


