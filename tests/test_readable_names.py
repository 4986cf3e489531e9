"""People's names in `analytics.people` read as names: typed case kept, all-lower/all-upper capitalised."""

from __future__ import annotations

import duckdb
import jinja2
import pytest

from pipelines import REPO_ROOT
from tests.conftest import query

MACRO = REPO_ROOT / "dbt_project" / "macros" / "readable_name.sql"


@pytest.mark.parametrize("typed, shown", [
    ("mary-jane", "Mary-Jane"),  # all lower case, as forms often send it
    ("O'NEIL", "O'Neil"),  # all upper case
    ("McDonald", "McDonald"),  # mixed case is a choice: kept
    ("de la Cruz", "de la Cruz"),
    ("élodie", "Élodie"),
    ("", ""),
    (None, None),
])
def test_readable_name(typed, shown):
    readable_name = jinja2.Environment().from_string(MACRO.read_text()).make_module().readable_name
    with duckdb.connect() as con:
        assert con.execute(f"select {readable_name('name')} from (select ?::varchar as name)", [typed]).fetchone() == (shown,)


def test_no_name_in_the_people_mart_is_all_lower_case(demo_warehouse):
    [(lower_case, named)] = query(demo_warehouse, """
        select count(*) filter (where regexp_matches(given_name, '\\p{L}') and given_name = lower(given_name)
                                   or regexp_matches(family_name, '\\p{L}') and family_name = lower(family_name)),
               count(given_name)
        from analytics.people""")
    assert named > 0 and lower_case == 0
