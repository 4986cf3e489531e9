"""What `pipelines.dlt_state` assumes about dlt's pipeline state, checked against dlt itself.

These fail when a dlt upgrade moves the layout `status`, the runner and Action Network rely on."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest

from pipelines.dlt_state import (cursor_value, forget_resource_states, incremental_cursors, set_cursor_value,
                                 source_state)


def _pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(pipeline_name="state_contract", pipelines_dir=str(tmp_path / "pipelines"),
                        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
                        dataset_name="contract")


@dlt.source(name="contract")
def contract_source(moved_by_hand: str, last_id: int):  # noqa: ANN201
    @dlt.resource(primary_key="id", write_disposition="merge")
    def counted(id=dlt.sources.incremental("id")):  # noqa: ANN001, A002 - dlt binds the cursor by name
        yield [{"id": n} for n in range(1, last_id + 1)]

    @dlt.resource(primary_key="id", write_disposition="merge")
    def by_hand():  # noqa: ANN202
        previous = cursor_value(dlt.current.resource_state(), "modified_date")
        set_cursor_value(dlt.current.resource_state(), "modified_date", moved_by_hand)
        dlt.current.source_state()["seen"] = previous
        yield {"id": 1}

    return counted, by_hand


def test_cursors_are_read_where_dlt_keeps_them_and_one_moved_by_hand_beside_them(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    pipeline.run(contract_source("2025-01-01T00:00:00Z", 3))
    assert incremental_cursors(pipeline.state) == {"by_hand.modified_date": "2025-01-01T00:00:00Z",
                                                   "counted.id": 3}
    pipeline.run(contract_source("2025-01-02T00:00:00Z", 3))
    assert source_state(pipeline.state, "contract")["seen"] == "2025-01-01T00:00:00Z", \
        "a cursor moved by hand is read back by the next run"


def test_a_state_without_the_source_has_no_keys_for_it(tmp_path: Path) -> None:
    assert source_state({"sources": {"contract": {"seen": None}}}, "elsewhere") == {}


def test_forgetting_resource_states_resets_cursors_and_keeps_tables(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    pipeline.run(contract_source("a", 3))
    forget_resource_states(pipeline)
    assert incremental_cursors(pipeline.state) == {}
    with pipeline.sql_client() as client:
        assert client.execute_sql("select count(*) from counted") == [(3,)]
    pipeline.run(contract_source("b", 2))
    assert incremental_cursors(pipeline.state)["counted.id"] == 2, "the cursor starts again from nothing"


@pytest.mark.parametrize("state", [{}, {"sources": {}}, {"sources": {"s": {"resources": {"r": {}}}}}])
def test_a_state_without_cursors_has_none(state: dict) -> None:
    assert incremental_cursors(state) == {}
