"""How well the marts resolve source records to real people, against the sandbox's truth.

Pairwise scoring: every pair of source records placed in the same `person_id` is a
predicted pair; every pair the world says is one real person is a true pair.
precision = correct predicted pairs / predicted pairs; recall = correct / true pairs.
MIN_PRECISION and MIN_RECALL are the bar the tests and the identity bench hold resolution to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pipelines.warehouse import connect_warehouse

# merging two real people is worse than missing a link (a household's consent mixed up), so
# precision's bar is the higher
MIN_PRECISION = 0.99
MIN_RECALL = 0.97

# the rows scored: source person records (each once), or actions (each keyed to the record that acted)
PERSON_RECORDS = "analytics.person_identities"
ACTIONS = "analytics.actions"

# the truth arrives as three parallel arrays (source, source person id, person key), unnested
# side by side: standard SQL on DuckDB and Postgres, and nothing written to the warehouse
PAIR_COUNTS = """
    with truth as (
        select unnest(cast(? as text[])) as source, unnest(cast(? as text[])) as source_person_id,
               unnest(cast(? as bigint[])) as person_key
    ),
    joined as (
        select scored.person_id, truth.person_key
        from {rows} as scored
        inner join truth using (source, source_person_id)
    ),
    predicted as (select count(*) as n from joined group by person_id),
    actual as (select count(*) as n from joined group by person_key),
    correct as (select count(*) as n from joined group by person_id, person_key)
    select
        (select coalesce(sum(n * (n - 1) / 2), 0) from predicted),
        (select coalesce(sum(n * (n - 1) / 2), 0) from actual),
        (select coalesce(sum(n * (n - 1) / 2), 0) from correct),
        (select count(*) from joined),
        (select count(*) from {rows}),
        (select count(distinct person_id) from joined),
        (select count(distinct person_key) from joined)
"""


@dataclass(frozen=True)
class IdentityScores:
    precision: float
    recall: float
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int
    records: int
    records_without_truth: int
    people: int
    true_people: int

    @property
    def good_enough(self) -> bool:
        return self.precision >= MIN_PRECISION and self.recall >= MIN_RECALL

    def line(self) -> str:
        return (f"identity resolution: precision {self.precision:.4f}, recall {self.recall:.4f} "
                f"({self.records:,} source records -> {self.people:,} people; truth says {self.true_people:,})")


def score_identities(
    warehouse: Path, truth: Iterable[tuple[str, str, int]], rows: str = PERSON_RECORDS
) -> IdentityScores:
    """Pairwise scores of `rows` (PERSON_RECORDS or ACTIONS) grouped by `person_id` against the truth."""
    truth = list(truth)
    sources, ids, keys = (list(column) for column in zip(*truth)) if truth else ([], [], [])
    with connect_warehouse(warehouse) as con:
        [counts] = con.rows(PAIR_COUNTS.format(rows=rows), [sources, [str(i) for i in ids], [int(k) for k in keys]])
    predicted, actual, correct, joined, total, people, true_people = counts
    return IdentityScores(
        precision=correct / predicted if predicted else 1.0,
        recall=correct / actual if actual else 1.0,
        predicted_pairs=int(predicted), true_pairs=int(actual), correct_pairs=int(correct),
        records=int(joined), records_without_truth=int(total - joined),
        people=int(people), true_people=int(true_people),
    )
