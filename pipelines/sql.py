"""Quoting for the few SQL statements built from names: every identifier and path goes through here.

Table names come from vendors (ControlShift's export names, webhook payloads), so a name is
always quoted, never trusted: `identifier('x"; copy …')` is one odd table name, not a statement.

SQL meant for both engines is written with `?` placeholders (DuckDB's); `psycopg2_query` turns it
into what psycopg2 reads.
"""

from __future__ import annotations

import re
from typing import Any, Optional, Sequence


def identifier(name: str) -> str:
    """`name` as a quoted SQL identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """`text` (a path, a value) as a quoted SQL string literal (single quotes doubled)."""
    return "'" + str(text).replace("'", "''") + "'"


# a quoted name or string, which may hold `?` and `%` that are neither placeholders nor formatting
_QUOTED = re.compile(r"(\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*')")


def psycopg2_query(sql: str, params: Sequence[Any]) -> tuple[str, Optional[tuple]]:
    """Portable SQL (`?` placeholders) as psycopg2 wants it: `%s`, and every other `%` doubled, but
    only with parameters (without, psycopg2 reads the text as it is). Quoted names and strings are
    left alone: a column named `a?b` is not a placeholder."""
    if not params:
        return sql, None
    parts = _QUOTED.split(sql)
    return "".join(part.replace("%", "%%") if index % 2 else part.replace("%", "%%").replace("?", "%s")
                   for index, part in enumerate(parts)), tuple(params)
