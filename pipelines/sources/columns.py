"""Column hints every source gives dlt the same way."""

from __future__ import annotations

from typing import Iterable, Mapping


def column_hints(json_columns: Iterable[str] = (), nullable: Mapping[str, str] | None = None) -> dict:
    """dlt column hints: nested values kept whole as JSON, and often-null columns typed up front.

    A column whose values are all null in a load is not created by dlt; typing it here makes
    it exist from the first load, so staging models can read it.
    """
    hints: dict = {column: {"data_type": "json"} for column in json_columns}
    hints |= {column: {"data_type": data_type, "nullable": True} for column, data_type in (nullable or {}).items()}
    return hints
