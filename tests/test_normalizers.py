"""Property tests for the normalizers identity resolution matches on.

The SQL under test is the dbt macros' own: `dbt_project/macros/normalize.sql` is rendered with
Jinja (as dbt on DuckDB does, tests/dbt_macros.py) and run in DuckDB over values hypothesis
generates, including hostile ones.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timezone

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.noise import format_phone, noisy_email
from tests.dbt_macros import macros

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def normalize():  # noqa: ANN201
    """normalize(macro, values) -> the macro's SQL applied to each value, in DuckDB."""
    module = macros("duckdb")
    con = duckdb.connect()

    def apply(macro: str, values: list, sql_type: str = "varchar") -> list:
        expression = getattr(module, macro)("value")
        rows = con.execute(f"select {expression} from (select unnest(?::{sql_type}[]) as value, "
                           "generate_subscripts(?::varchar[], 1) as position) order by position",
                           [values, [str(v) for v in values]]).fetchall()
        return [row[0] for row in rows]

    yield apply
    con.close()


# any text a form field might hold: unicode, control characters, surrogate-free
hostile_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)


@EXAMPLES
@given(st.lists(st.one_of(st.none(), hostile_text), min_size=1, max_size=30))
def test_email_normalization_is_idempotent_trimmed_and_lower_case(normalize, values):
    once = normalize("normalize_email", values)
    assert normalize("normalize_email", once) == once
    for value in once:
        assert value is None or (value == value.strip() and value == value.lower() and value != "")


@EXAMPLES
@given(st.emails(), st.integers(0, 2**32))
def test_an_email_in_any_case_or_padding_normalizes_to_one_value(normalize, email, seed):
    rng = random.Random(seed)
    variants = [email, email.upper(), f"  {email}\t", *(noisy_email(email, rng) for _ in range(5))]
    assert len(set(normalize("normalize_email", variants))) == 1


@EXAMPLES
@given(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True), st.integers(0, 2**32))
def test_every_written_form_of_a_us_number_is_one_e164_number(normalize, digits, seed):
    rng = random.Random(seed)
    variants = [digits, *(format_phone(digits, rng) for _ in range(8))]
    assert set(normalize("normalize_phone", variants)) == {f"+1{digits}"}


@EXAMPLES
@given(st.lists(st.one_of(st.none(), hostile_text), min_size=1, max_size=30))
def test_phone_normalization_gives_e164_or_null_for_any_text(normalize, values):
    for value in normalize("normalize_phone", values):
        assert value is None or re.fullmatch(r"\+[0-9]{6,}", value), value


@EXAMPLES
@given(st.lists(st.one_of(st.none(), hostile_text), min_size=1, max_size=30))
def test_name_normalization_keeps_only_letters_and_is_idempotent(normalize, values):
    once = normalize("normalize_name", values)
    assert normalize("normalize_name", once) == once
    for value in once:
        assert value is None or re.fullmatch(r"[a-z]+", value), value


@EXAMPLES
@given(st.sampled_from(["José", "Zoë", "Siobhán", "O'Brien", "Mary-Kate", "Łukasz", "Renée"]),
       st.sampled_from([str.upper, str.lower, str.title, lambda s: f"  {s} "]))
def test_names_compare_equal_across_case_accents_and_spacing(normalize, name, vary):
    assert len(set(normalize("normalize_name", [name, vary(name)]))) == 1


@EXAMPLES
@given(st.lists(st.one_of(st.none(), st.integers(-2**31, 2**33)), min_size=1, max_size=30))
def test_unix_seconds_become_the_same_instant_in_utc(normalize, values):
    for value, converted in zip(values, normalize("from_unix_seconds", values, "bigint")):
        if value is None:
            assert converted is None
        else:
            assert converted == datetime.fromtimestamp(value, tz=timezone.utc)
