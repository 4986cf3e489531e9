"""Each raw column's type is declared once, in the dbt sources yml; the dlt sources hint exactly that.

ControlShift is not here: its raw tables are typed from the vendor's own schema of each export.
"""

import pytest

from pipelines.sources import action_network, source_factory
from pipelines.sources.columns import DLT_DATA_TYPES, declared_columns
from sandbox import Sandbox

HINTED_SOURCES = ("mobilize", "action_network", "nationbuilder")


def typed_columns(table_schema: dict) -> dict[str, str]:
    return {name: column["data_type"] for name, column in table_schema.get("columns", {}).items()
            if "data_type" in column}


@pytest.fixture(scope="module")
def hinted() -> dict[tuple[str, str], dict[str, str]]:
    """(source, table) -> {column: dlt data type} as each source, configured for the sandbox, hints it."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    with pytest.MonkeyPatch.context() as patch, Sandbox(people=20, seed=5, throttled=False) as sandbox:
        for key, value in sandbox.env().items():
            patch.setenv(key, value)
        for name in HINTED_SOURCES:
            for resource in source_factory(name)().resources.values():
                schema = resource.compute_table_schema()
                if typed_columns(schema):
                    found.setdefault((name, schema["name"]), {}).update(typed_columns(schema))
    # Action Network names each batch's table as it yields it, with these hints
    for table, hints in action_network.HINTS.items():
        found[("action_network", table)] = typed_columns(hints)
    return found


@pytest.mark.parametrize("source", HINTED_SOURCES)
def test_every_declared_type_has_a_dlt_data_type(source):
    for table, columns in declared_columns(source).items():
        assert set(columns.values()) <= set(DLT_DATA_TYPES), (table, set(columns.values()) - set(DLT_DATA_TYPES))


def test_the_sources_hint_exactly_the_columns_and_types_their_yml_declares(hinted):
    assert {source for source, _ in hinted} == set(HINTED_SOURCES)
    for (source, table), columns in hinted.items():
        declared = {column: DLT_DATA_TYPES[data_type] for column, data_type in declared_columns(source).get(table, {}).items()}
        assert columns == declared, (source, table, set(columns.items()) ^ set(declared.items()))
