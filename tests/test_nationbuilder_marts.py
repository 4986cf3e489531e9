"""NationBuilder people in the marts: every record resolved, matched on all of a person's emails.

Each test runs on the shared demo of each engine (`engine_demo`: DuckDB, then Postgres), its SQL
written to run on both."""

import pytest

from pipelines.evaluation import score_identities
from tests.postgres_fixtures import query

pytestmark = pytest.mark.integration


@pytest.fixture
def built(engine_demo, demo_world):  # noqa: ANN001, ANN201
    """The shared demo on one engine: every source synced once, NationBuilder with its full person resource."""
    return engine_demo, demo_world


def test_every_nationbuilder_person_has_an_identity(built):
    warehouse, world = built
    people = world.vendors["nationbuilder"].people
    rows = query(warehouse, "select source_person_id from analytics.person_identities where source = 'nationbuilder'")
    assert sorted(int(i) for (i,) in rows) == sorted(people)


def test_other_emails_hold_every_filled_slot_and_email_the_primary(built):
    warehouse, world = built
    person = next(p for p in world.vendors["nationbuilder"].people.values()
                  if p.primary_email_id and sum(e is not None for e in p.emails) >= 2)
    [(email, other_emails)] = query(warehouse, f"""
        select email, other_emails from intermediate.int_person_records__unioned
        where source = 'nationbuilder' and source_person_id = '{person.id}'""")
    assert email == person.emails[person.primary_email_id - 1]
    assert sorted(other_emails) == sorted(e for e in person.emails if e)


def test_a_secondary_email_links_a_person_whose_primary_is_a_work_address(built):
    warehouse, world = built
    nb = world.vendors["nationbuilder"].people
    truth = {(source, sid): key for source, sid, key in world.truth}
    mobilize_by_key = {key: sid for (source, sid), key in truth.items() if source == "mobilize"}
    persons = {p.key: p for p in world.persons}
    cases = []
    for record in nb.values():
        key = truth[("nationbuilder", str(record.id))]
        primary = record.emails[record.primary_email_id - 1] if record.primary_email_id else None
        personal = [e for e in record.emails if e and e.strip().lower() == persons[key].email]
        if key in mobilize_by_key and primary and primary.endswith(".org") and personal:
            cases.append((record.id, mobilize_by_key[key]))
    assert cases, "the world has people whose NationBuilder primary email is a work address"
    for nb_id, mobilize_id in cases:
        ids = query(warehouse, f"""
            select distinct person_id from analytics.person_identities
            where (source, source_person_id) in (('nationbuilder', '{nb_id}'), ('mobilize', '{mobilize_id}'))""")
        assert len(ids) == 1, (nb_id, mobilize_id)


def test_identity_resolution_with_nationbuilder_against_the_truth(built):
    warehouse, world = built
    scores = score_identities(warehouse, world.truth)
    print(scores.line())
    assert scores.records_without_truth == 0
    assert scores.good_enough, scores.line()
    [(both,)] = query(warehouse, """
        select count(*) from analytics.people where 'mobilize' = any(sources)
        and 'nationbuilder' = any(sources)""")
    assert both > 0
