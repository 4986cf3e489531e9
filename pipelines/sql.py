"""Quoting for the few SQL statements built from names: every identifier and path goes through here.

Table names come from vendors (ControlShift's export names, webhook payloads), so a name is
always quoted, never trusted: `identifier('x"; copy …')` is one odd table name, not a statement.
"""

from __future__ import annotations


def identifier(name: str) -> str:
    """`name` as a quoted SQL identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """`text` (a path, a value) as a quoted SQL string literal (single quotes doubled)."""
    return "'" + str(text).replace("'", "''") + "'"
