"""The readable_name macro: typed case kept, all-lower/all-upper capitalised (on a whole world: test_operations)."""

from __future__ import annotations

import duckdb
import pytest

from tests.dbt_macros import macros


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
    readable_name = macros("duckdb").readable_name
    with duckdb.connect() as con:
        assert con.execute(f"select {readable_name('name')} from (select ?::varchar as name)", [typed]).fetchone() == (shown,)
