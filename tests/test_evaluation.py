"""The identity scorer itself, on hand-made assignments with known answers."""

import duckdb
import pytest

from pipelines.evaluation import score_identities


@pytest.fixture
def resolved(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema analytics")
        con.execute("""create table analytics.person_identities as
            select * from (values
                ('p1', 'mobilize', '1'), ('p1', 'nationbuilder', '1'), ('p1', 'action_network', 'a'),
                ('p2', 'mobilize', '2'), ('p3', 'nationbuilder', '2')
            ) as t(person_id, source, source_person_id)""")
    return warehouse


def test_pairwise_precision_and_recall(resolved):
    truth = [("mobilize", "1", 1), ("nationbuilder", "1", 1), ("action_network", "a", 2),
             ("mobilize", "2", 3), ("nationbuilder", "2", 3)]
    scores = score_identities(resolved, truth)
    # predicted pairs: the three records of p1 -> 3 pairs, of which 1 is right
    assert scores.predicted_pairs == 3 and scores.correct_pairs == 1
    # true pairs: (m1, n1) and (m2, n2); the second was missed
    assert scores.true_pairs == 2
    assert scores.precision == pytest.approx(1 / 3) and scores.recall == pytest.approx(1 / 2)
    assert (scores.people, scores.true_people, scores.records_without_truth) == (3, 3, 0)
    assert not scores.good_enough


def test_perfect_resolution_scores_one(resolved):
    truth = [("mobilize", "1", 1), ("nationbuilder", "1", 1), ("action_network", "a", 1),
             ("mobilize", "2", 2), ("nationbuilder", "2", 3)]
    scores = score_identities(resolved, truth)
    assert scores.precision == scores.recall == 1.0
    assert scores.good_enough
