"""Raw column types, declared once: in each source's dbt sources yml, read here as dlt hints.

`dbt_project/models/staging/<source>/_<source>__sources.yml` declares every raw column the
warehouse relies on with its `data_type` (DuckDB's names). dbt reads it to give a column not
loaded yet a typed null; the dlt sources read it through `column_hints` so that dlt creates each
declared column with that type from the first load (dlt otherwise creates a column only once a
non-null value arrives, and guesses its type from that value), and keeps nested values declared
`json` whole instead of flattening them into child tables.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from pipelines import REPO_ROOT

STAGING_DIR = REPO_ROOT / "dbt_project" / "models" / "staging"

# the sources yml's type names -> dlt's data types (each loads into DuckDB as the yml's type)
DLT_DATA_TYPES = {
    "varchar": "text",
    "bigint": "bigint",
    "double": "double",
    "boolean": "bool",
    "json": "json",
    "timestamptz": "timestamp",
}


def sources_yml(source: str) -> Path:
    return STAGING_DIR / source / f"_{source}__sources.yml"


@cache
def declared_columns(source: str) -> dict[str, dict[str, str]]:
    """{table: {column: yml data_type}} for every table of the source's yml; dlt's own `_dlt_*`
    columns left out (dlt types them itself)."""
    [declaration] = yaml.safe_load(sources_yml(source).read_text())["sources"]
    return {table["name"]: {column["name"]: column["data_type"] for column in table.get("columns", ())
                            if not column["name"].startswith("_dlt_")}
            for table in declaration["tables"]}


def column_hints(source: str, table: str) -> dict[str, dict]:
    """dlt column hints typing every column the source's yml declares for the table."""
    columns = declared_columns(source)[table]
    unknown = sorted({data_type for data_type in columns.values() if data_type not in DLT_DATA_TYPES})
    if unknown:
        raise ValueError(f"{sources_yml(source)}: {table} declares data types with no dlt equivalent in "
                         f"pipelines/sources/columns.py DLT_DATA_TYPES: {', '.join(unknown)}")
    return {column: {"data_type": DLT_DATA_TYPES[data_type]} for column, data_type in columns.items()}
