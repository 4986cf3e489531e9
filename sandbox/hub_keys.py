"""A ControlShift `signatures` table full of hub keys, written straight into a warehouse.

Real lists hold values typed by many people: `none@none.com`, a placeholder phone, an office's
postcode. Issue 18 found that identity resolution ran out of memory on such a table (2,000,000
signatures, emails repeating every 700,000 rows, few names, few thousand postcodes). This builds
that shape at any size, in the columns and types the ControlShift source loads, with DuckDB's
own `range()` so that millions of rows take seconds; `dbt build` then runs on it as on a synced
warehouse. Who is who is known by construction: row `i` is person `i % people`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

PLACEHOLDER_EMAIL = "none@none.com"
PLACEHOLDER_PHONE = "555-555-0100"
OFFICE_POSTCODE = "20500"


@dataclass(frozen=True)
class HubWorld:
    """`rows` signatures by `people` people. A person keeps one given name (of `given_names`), one
    family name (of `family_names`), one postcode (of `postcodes`), an email and a phone of their
    own; the `*_every` settings make every n-th row (0 = none) carry the placeholder email,
    the placeholder phone or the office postcode instead."""

    rows: int
    people: int
    given_names: int
    family_names: int
    postcodes: int
    placeholder_email_every: int = 0
    placeholder_phone_every: int = 0
    office_every: int = 0


def letters(number: str) -> str:
    """SQL for a name made of letters only (names normalize to a-z), one per number < 26**4."""
    first, *rest = [f"chr(cast(97 + ({number}) // {26 ** place} % 26 as integer))" for place in range(4)]
    return " || ".join([f"upper({first})", *rest])


def every(n: int, placeholder: str, otherwise: str) -> str:
    """SQL choosing the placeholder literal on every n-th row (`i`), the row's own value on others."""
    if n <= 0:
        return otherwise
    return f"case when i % {int(n)} = 0 then '{placeholder}' else {otherwise} end"


def write_signatures(warehouse: Path, world: HubWorld) -> None:
    """Creates (or replaces) `controlshift.signatures` in the warehouse with the world's rows."""
    person = f"(i % {int(world.people)})"
    sql = f"""
        create or replace table controlshift.signatures as
        select
            i + 1 as id,
            cast(i % 50 + 1 as integer) as petition_id,
            cast(null as integer) as member_id,
            {every(world.placeholder_email_every, PLACEHOLDER_EMAIL, f"'p' || {person} || '@example.org'")} as email,
            {letters(f"{person} % {int(world.given_names)}")} as first_name,
            {letters(f"{person} // {int(world.given_names)} % {int(world.family_names)}")} as last_name,
            {every(world.placeholder_phone_every, PLACEHOLDER_PHONE,
                   f"'+1202' || lpad(cast({person} as varchar), 7, '0')")} as phone_number,
            {every(world.office_every, OFFICE_POSTCODE,
                   f"cast(10000 + {person} * 7919 % {int(world.postcodes)} as varchar)")} as postcode,
            true as join_organisation,
            cast(null as timestamp) as unsubscribe_at,
            cast(null as timestamp) as deleted_at,
            cast(null as varchar) as utm_params,
            timestamp '2025-01-01' + to_seconds(i) as created_at,
            timestamp '2025-01-01' + to_seconds(i) as updated_at
        from range({int(world.rows)}) as t(i)
    """
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists controlshift")
        con.execute(sql)
