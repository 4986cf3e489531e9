"""Whether the marts built on DuckDB and on Postgres from the same world are the same rows.

`marts_differences(duckdb_path, postgres_url)` reads each mart from both warehouses and compares
them as multisets of rows (no order: neither engine promises one), after normalizing what the
two drivers return differently for equal values: timestamps to UTC-aware datetimes, decimals and
floats to floats of 12 significant digits, lists and tuples to lists, JSON (text or parsed) to its
value, UUIDs to text. Any other difference, including a person_id, is a real one.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

MARTS = ("people", "events", "attendances", "actions", "person_identities")
SCHEMA = "analytics"
SIGNIFICANT_DIGITS = 12


@dataclass
class TableDifference:
    """How one mart differs: columns one engine lacks, and the rows (as dicts) only one engine has."""

    table: str
    only_in_duckdb_columns: list[str] = field(default_factory=list)
    only_in_postgres_columns: list[str] = field(default_factory=list)
    only_in_duckdb: list[dict] = field(default_factory=list)
    only_in_postgres: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.only_in_duckdb_columns or self.only_in_postgres_columns
                    or self.only_in_duckdb or self.only_in_postgres)


def normalized(value):
    """A hashable stand-in for a value that is equal for equal values from either driver."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc) if value.tzinfo else value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (Decimal, float, int)):
        return float(f"{float(value):.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return tuple(normalized(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def duckdb_rows(path: Path | str, table: str) -> tuple[list[str], list[tuple]]:
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(f'select * from {SCHEMA}."{table}"')
        return [column[0] for column in cursor.description], cursor.fetchall()


def postgres_rows(url: str, table: str) -> tuple[list[str], list[tuple]]:
    import psycopg2  # noqa: PLC0415

    con = psycopg2.connect(url)
    try:
        with con.cursor() as cursor:
            cursor.execute(f'select * from {SCHEMA}."{table}"')
            return [column[0] for column in cursor.description], cursor.fetchall()
    finally:
        con.close()


def table_difference(table: str, duckdb_result, postgres_result) -> TableDifference:
    """Compares two (columns, rows) results on the columns both have."""
    (duck_columns, duck_rows), (pg_columns, pg_rows) = duckdb_result, postgres_result
    shared = [name for name in duck_columns if name in pg_columns]
    difference = TableDifference(
        table,
        only_in_duckdb_columns=[name for name in duck_columns if name not in pg_columns],
        only_in_postgres_columns=[name for name in pg_columns if name not in duck_columns],
    )

    def counted(columns, rows):
        positions = [columns.index(name) for name in shared]
        return Counter(tuple(normalized(row[i]) for i in positions) for row in rows)

    duck, pg = counted(duck_columns, duck_rows), counted(pg_columns, pg_rows)
    difference.only_in_duckdb = [dict(zip(shared, row)) for row in (duck - pg).elements()]
    difference.only_in_postgres = [dict(zip(shared, row)) for row in (pg - duck).elements()]
    return difference


def marts_differences(duckdb_path: Path | str, postgres_url: str,
                      tables: tuple[str, ...] = MARTS) -> dict[str, TableDifference]:
    """Each mart's difference between the DuckDB warehouse and the Postgres one (falsy when none)."""
    return {table: table_difference(table, duckdb_rows(duckdb_path, table), postgres_rows(postgres_url, table))
            for table in tables}


def summary(differences: dict[str, TableDifference], rows_shown: int = 3) -> str:
    """A readable account of the differences, a few rows of each."""
    lines = []
    for table, difference in differences.items():
        if not difference:
            lines.append(f"{table}: identical")
            continue
        lines.append(f"{table}: {len(difference.only_in_duckdb)} rows only in DuckDB, "
                     f"{len(difference.only_in_postgres)} only in Postgres")
        if difference.only_in_duckdb_columns or difference.only_in_postgres_columns:
            lines.append(f"  columns only in DuckDB {difference.only_in_duckdb_columns}, "
                         f"only in Postgres {difference.only_in_postgres_columns}")
        for side, rows in (("duckdb", difference.only_in_duckdb), ("postgres", difference.only_in_postgres)):
            for row in rows[:rows_shown]:
                lines.append(f"  {side}: {row}")
    return "\n".join(lines)
