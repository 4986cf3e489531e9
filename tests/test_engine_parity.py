"""The SQL identity resolution rests on gives the same answers on DuckDB and on Postgres (issue 21).

The normalizers identity resolution matches on are run on both engines over hostile text, and the
connected components that give person_ids over generated graphs. That the whole marts are the same
rows on both engines, person_ids included, is `tests/test_engines.py` (the shared demo of each).
"""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dbt_macros import macros

pytestmark = pytest.mark.integration

NORMALIZERS = ("trim_whitespace", "normalize_email", "normalize_phone", "normalize_name", "readable_name")


@pytest.fixture(scope="module")
def on_both(postgres_server):
    """on_both(macro, values) -> (DuckDB's results, Postgres') for the macro's SQL on each value."""
    import psycopg2  # noqa: PLC0415 - the Postgres driver is only needed with a server

    duck, pg = duckdb.connect(), psycopg2.connect(postgres_server.url)
    on_duckdb, on_postgres = macros("duckdb"), macros("postgres")

    def apply(macro: str, values: list[str]) -> tuple[list, list]:
        duck_sql = getattr(on_duckdb, macro)("value")
        pg_sql = str(getattr(on_postgres, macro)("value")).replace("%", "%%")
        duck_rows = duck.execute(f"select {duck_sql} from (select unnest(?::varchar[]) as value, "
                                 "generate_subscripts(?::varchar[], 1) as position) order by position",
                                 [values, values]).fetchall()
        with pg.cursor() as cursor:
            cursor.execute(f"select {pg_sql} from unnest(%s::text[]) with ordinality as listed(value, position) "
                           "order by position", [values])
            pg_rows = cursor.fetchall()
        return [row[0] for row in duck_rows], [row[0] for row in pg_rows]

    yield apply
    duck.close()
    pg.close()


# form input at its worst; Postgres text holds no NUL, and DuckDB alone upper-cases ß to ẞ
# (macros/portable.sql, unicode_upper), which only readable_name would show
hostile_text = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00ß"), max_size=60)


@pytest.mark.parametrize("value", ["  José ", "ÉMILE", "o'neil", "MARY-JANE", "ŁUKASZ", "Zoë", "\u00a0Ann\u2003",
                                   "\tBob\n", "İSTANBUL", "ΣΟΦΙΑ", "JOSÉ@Example.COM ", "+1 (555) 123-4567",
                                   "00447911123456", "555-1234", "de la Cruz", "ǅemal", "Ｊｏｅ", "a\u200bb"])
def test_normalizers_agree_on_known_awkward_values(on_both, value):
    for macro in NORMALIZERS:
        duck, pg = on_both(macro, [value])
        assert duck == pg, macro


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(hostile_text, min_size=1, max_size=20))
def test_normalizers_agree_on_hostile_text(on_both, values):
    for macro in NORMALIZERS:
        duck, pg = on_both(macro, values)
        assert duck == pg, macro


def smallest_key_per_component(keys: list[str], links: list[tuple[str, str]]) -> dict[str, str]:
    """The truth: each key's component's smallest key (Python compares code points, as bytes in UTF-8)."""
    parent = {key: key for key in keys}

    def root(key: str) -> str:
        while parent[key] != key:
            key = parent[key]
        return key

    for a, b in links:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    return {key: root(key) for key in keys}


@pytest.fixture(scope="module")
def components_on(postgres_server):
    """components_on(engine, keys, links, **macro_args) -> {record_key: component_key} by macros/identity.sql."""
    import psycopg2  # noqa: PLC0415

    duck, pg = duckdb.connect(), psycopg2.connect(postgres_server.url)
    with pg.cursor() as cursor:
        cursor.execute("set jit = off")  # as int_person_records__resolved sets it
    graph = ("with records as (select distinct record_key from (select unnest({keys}) as record_key) as listed), "
             "links as (select unnest({a}) as a, unnest({b}) as b), "
             "edges as (select a as from_key, b as to_key from links union select b, a from links), "
             "components as ({components}) select record_key, component_key from components")

    def run(engine: str, keys: list[str], links: list[tuple[str, str]], **macro_args) -> dict[str, str]:
        a, b = [link[0] for link in links], [link[1] for link in links]
        if engine == "duckdb":
            sql = graph.format(keys="?::varchar[]", a="?::varchar[]", b="?::varchar[]",
                               components=macros("duckdb").duckdb__connected_components("records", "edges"))
            return dict(duck.execute(sql, [keys, a, b]).fetchall())
        sql = graph.format(keys="%s::text[]", a="%s::text[]", b="%s::text[]",
                           components=macros("postgres").postgres__connected_components("records", "edges", **macro_args))
        with pg.cursor() as cursor:
            cursor.execute(sql, [keys, a, b])
            return dict(cursor.fetchall())

    yield run
    duck.close()
    pg.close()


keys = st.text(alphabet=st.sampled_from("aAbBzZ_-09éÉ€ 𝔸"), min_size=1, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(keys, min_size=1, max_size=40, unique=True).flatmap(lambda nodes: st.tuples(
    st.just(nodes), st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)), max_size=60))))
def test_components_get_the_same_labels_on_both_engines(components_on, graph):
    """Identity's person_id hashes the component's smallest key: both engines must find the same one."""
    nodes, links = graph
    truth = smallest_key_per_component(nodes, links)
    assert components_on("duckdb", nodes, links) == truth
    assert components_on("postgres", nodes, links) == truth
    # too few rounds to settle: the reachability that finishes the job must give the same labels
    assert components_on("postgres", nodes, links, rounds=1) == truth


def test_a_long_chain_resolves_to_one_person_on_postgres(components_on):
    """A hostile export linking each of 20,000 records to the next: rounds of doubling settle it."""
    chain = [f"k{i:06d}" for i in range(20_000)]
    labels = components_on("postgres", chain, list(zip(chain, chain[1:])))
    assert set(labels.values()) == {"k000000"} and len(labels) == len(chain)
