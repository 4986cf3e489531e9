"""dbt builds the marts on sandbox data synced, changed and synced again.

Every fake answers as its vendor does by default; for Action Network that is namespaced fields, six
email statuses, filter-rejecting tags, a sponsored campaign's events listed only under the campaign
and a limiter counting arrivals per second (its tests below were `test_action_network_marts.py`,
which synced and built a world of its own: one world now serves both, a dbt build fewer).
"""

from decimal import Decimal

import duckdb
import pytest

from pipelines.evaluation import score_identities
from pipelines.cli import main
from pipelines.runner import sync
from pipelines.sources import SOURCES
from pipelines.sources.columns import declared_columns
from pipelines.sql import literal
from sandbox import Sandbox, action_network
from pipelines.warehouse import snapshot_path
from tests.conftest import query

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("marts") / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch, Sandbox(people=400, seed=5, throttled=False) as sandbox:
        for key, value in sandbox.env().items():
            patch.setenv(key, value)
        results = sync(None, warehouse, echo=lambda _: None)
        assert all(r.status == "loaded" for r in results), results
        sandbox.world.advance(0.05)  # edits and deletions of events already loaded
        # the next run as a user starts it, which builds the marts (dbt build, models and tests); a source
        # named on the command line exits non-zero unless it loaded
        patch.setenv("WAREHOUSE_PATH", str(warehouse))
        assert main(["--quiet", "sync", *SOURCES]) == 0, "second sync or dbt build (models and tests) failed"
        assert sandbox.services["action_network"].count(status=400) == 0, "a filter was sent where the API rejects it"
        yield warehouse, sandbox


def test_events_are_one_row_per_mobilize_timeslot(built):
    warehouse, _ = built
    [(raw,)] = query(warehouse, "select count(*) from mobilize.events__timeslots")
    [(mart,)] = query(warehouse, "select count(*) from analytics.events where source = 'mobilize'")
    assert mart == raw


def test_every_rsvp_is_in_attendances_with_a_person_and_an_event(built):
    warehouse, sandbox = built
    [(mart, linked)] = query(warehouse, """
        select count(*), count(*) filter (where person_id is not null and event_id is not null)
        from analytics.attendances where source = 'mobilize'""")
    assert mart == linked == len(sandbox.world.vendors["mobilize"].attendances)


def test_deleted_events_stay_visible_as_deleted(built):
    warehouse, sandbox = built
    deleted = query(warehouse, "select distinct source_event_id from analytics.events where status = 'deleted'")
    [(raw_deleted,)] = query(warehouse, """
        select count(*) from mobilize.events e join mobilize.deleted_events d using (id)""")
    assert len(deleted) == raw_deleted > 0


def test_timestamps_are_utc_timestamptz(built):
    warehouse, sandbox = built
    [(column_type,)] = query(warehouse, """
        select data_type from information_schema.columns
        where table_schema = 'analytics' and table_name = 'events' and column_name = 'start_at'""")
    assert column_type == "TIMESTAMP WITH TIME ZONE"
    event = next(iter(sandbox.world.vendors["mobilize"].events.values()))
    slot = event.timeslots[0]
    [(epoch,)] = query(warehouse, f"select epoch(start_at) from analytics.events where timeslot_id = '{slot.id}'")
    assert epoch == slot.start_date


def test_people_resolve_source_records_without_merging_households(built):
    warehouse, sandbox = built
    [(records, people)] = query(warehouse, """
        select (select count(*) from analytics.person_identities), (select count(*) from analytics.people)""")
    assert records >= people > 0
    truth = {sid: key for source, sid, key in sandbox.world.truth if source == "mobilize"}
    rows = query(warehouse, "select source_person_id, person_id from analytics.person_identities where source = 'mobilize'")
    by_person: dict[str, set[int]] = {}
    for source_person_id, person_id in rows:
        by_person.setdefault(person_id, set()).add(truth[source_person_id])
    assert all(len(keys) == 1 for keys in by_person.values()), "a person id must not span two real people"


def test_identity_resolution_against_the_worlds_truth(built, report):
    warehouse, sandbox = built
    scores = score_identities(warehouse, sandbox.world.truth)
    report(scores.line())
    assert scores.records_without_truth == 0
    assert scores.good_enough, scores.line()



@pytest.mark.parametrize("source", ["mobilize", "action_network", "nationbuilder"])
def test_raw_columns_load_with_the_types_their_sources_yml_declares(built, source):
    """The yml's data_type is what dlt loaded (no value the type cannot hold, set aside in a variant column)."""
    warehouse, _ = built
    loaded = {(table, column): data_type for table, column, data_type in query(warehouse, f"""
        select table_name, column_name, data_type from information_schema.columns where table_schema = {literal(source)}""")}
    assert not [key for key in loaded if "__v_" in key[1]], "values dlt could not load as the declared type"
    declared = {(table, column): data_type for table, columns in declared_columns(source).items()
                for column, data_type in columns.items()}
    # each data_type is one of columns.DLT_DATA_TYPES' names (test_column_declarations); DuckDB spells it out
    with duckdb.connect() as con:
        spelled = {data_type: con.execute(f"select typeof(cast(null as {data_type}))").fetchone()[0]
                   for data_type in set(declared.values())}
    assert {key: loaded[key] for key in declared if key in loaded} == \
        {key: spelled[data_type] for key, data_type in declared.items() if key in loaded}

def test_a_successful_build_publishes_the_marts_snapshot_for_bi_tools(built):
    warehouse, _ = built
    snapshot = snapshot_path(warehouse)
    assert snapshot.stat().st_mode & 0o777 == 0o600 and warehouse.stat().st_mode & 0o777 == 0o600
    for mart in ("people", "person_identities", "events", "attendances"):
        assert query(snapshot, f"select count(*) from analytics.{mart}") == query(
            warehouse, f"select count(*) from analytics.{mart}")


def test_action_network_rows_reach_every_mart(built):
    warehouse, sandbox = built
    data = sandbox.world.vendors["action_network"]
    [(events, cancelled)] = query(warehouse, """
        select count(*), count(*) filter (where status = 'cancelled')
        from analytics.events where source = 'action_network'""")
    assert events == len(data.events) and cancelled == sum(1 for e in data.events.values() if e.status == "cancelled")
    [(rsvps, linked)] = query(warehouse, """
        select count(*), count(*) filter (where person_id is not null and event_id is not null)
        from analytics.attendances where source = 'action_network'""")
    assert rsvps == linked == len(data.attendances)
    statuses = dict(query(warehouse, """
        select source_attendance_id, status from analytics.attendances where source = 'action_network'"""))
    # the mapping from the RSVPs as loaded (a change on an event no longer taking RSVPs waits for the sweep)
    for attendance_id, status, attended in query(warehouse, "select id, status, attended from action_network.attendances"):
        expected = ("attended" if attended else "cancelled" if status == "declined"
                    else "no_show" if attended is False else "accepted")
        assert statuses[attendance_id] == expected
    [(identities,)] = query(warehouse, "select count(*) from analytics.person_identities where source = 'action_network'")
    assert identities == len(data.people)


def test_action_network_event_times_are_local_times_converted_to_utc(built):
    warehouse, sandbox = built
    event = next(e for e in sandbox.world.vendors["action_network"].events.values()
                 if e.location and e.location["region"] == "PA")
    [(epoch, timezone)] = query(warehouse, f"""
        select epoch(start_at), timezone from analytics.events where source_event_id = '{event.id}'""")
    assert timezone == "America/New_York"
    # Pennsylvania is four or five hours behind UTC: the wall-clock time written is local
    assert epoch - event.start_local in (4 * 3600, 5 * 3600)


def test_rsvps_in_both_tools_belong_to_the_same_person(built):
    warehouse, sandbox = built
    truth = {(source, sid): key for source, sid, key in sandbox.world.truth}
    rows = query(warehouse, """
        select source, source_person_id, person_id from analytics.person_identities
        where person_id in (select person_id from analytics.attendances where source = 'action_network')
          and person_id in (select person_id from analytics.attendances where source = 'mobilize')""")
    assert {"mobilize", "action_network"} <= {source for source, _, _ in rows}
    keys_by_person: dict[str, set[int]] = {}
    for source, source_person_id, person_id in rows:
        keys_by_person.setdefault(person_id, set()).add(truth[(source, source_person_id)])
    assert len(keys_by_person) > 20 and all(len(keys) == 1 for keys in keys_by_person.values())


def test_campaign_events_and_their_rsvps_are_in_the_marts_once_with_their_campaign(built):
    warehouse, sandbox = built
    data = sandbox.world.vendors["action_network"]
    hosted = {e.id: e for e in data.events.values() if e.hosted_by_others}
    assert hosted, "the fake's sponsored campaign has events other groups host"
    rows = query(warehouse, "select source_event_id, campaign from analytics.events where source = 'action_network'")
    assert sorted(i for i, _ in rows) == sorted(data.events), "every event once, campaign-hosted ones included"
    titles = {c.id: c.title for c in data.event_campaigns.values()}
    assert all(dict(rows)[i] == titles[e.campaign_id] for i, e in hosted.items())
    rsvps = [a.id for a in data.attendances.values() if a.event_id in hosted]
    [(count, with_event)] = query(warehouse, f"""
        select count(*), count(event_id) from analytics.attendances
        where source = 'action_network' and source_attendance_id in (select unnest({rsvps!r}))""")
    assert count == with_event == len(rsvps) > 0


def test_only_subscribed_is_email_consent(built):
    warehouse, sandbox = built
    data = sandbox.world.vendors["action_network"]
    statuses = {p.email_status for p in data.people.values() if p.email}
    assert statuses == set(action_network.EMAIL_STATUSES), "the fake serves all six statuses"
    rows = query(warehouse, """
        select identities.source_person_id, people.is_email_subscribed, people.is_sms_subscribed
        from analytics.person_identities identities join analytics.people people using (person_id)
        where identities.source = 'action_network'""")
    by_id = {i: (email, sms) for i, email, sms in rows}
    for person in data.people.values():
        if person.email and person.email_status != "subscribed":
            assert by_id[person.id][0] is False, (person.id, person.email_status)
        if person.phone and person.phone_status != "subscribed":
            assert by_id[person.id][1] is False, (person.id, person.phone_status)


def test_rsvps_carry_their_referrer_source_code(built):
    warehouse, sandbox = built
    data = sandbox.world.vendors["action_network"]
    expected = {a.id: a.referrer for a in data.attendances.values()}
    rows = dict(query(warehouse, """
        select source_attendance_id, utm_source from analytics.attendances where source = 'action_network'"""))
    assert rows == expected
    assert any(expected.values())


def test_every_action_reaches_staging_typed_with_its_person_and_page(built):
    """Signatures, submissions, donations and outreaches as staging types them: the marts' input."""
    warehouse, sandbox = built
    data = sandbox.world.vendors["action_network"]
    for kind in action_network.ACTION_KINDS:
        rows = query(warehouse, f"select {kind.action}_id, person_id, {kind.page}_id "
                                f"from staging.stg_action_network__{kind.actions}")
        assert sorted(rows) == sorted((a.id, a.person_id, a.page_id) for a in data.actions_of(kind).values()), kind
        pages = query(warehouse, f"select {kind.page}_id, is_hidden from staging.stg_action_network__{kind.pages}")
        assert dict(pages) == {p.id: p.hidden for p in data.pages_of(kind).values()}
    donations = {i: (amount, currency, recurring, period) for i, amount, currency, recurring, period in query(
        warehouse, "select donation_id, amount, currency, is_recurring, recurrence_period "
                   "from staging.stg_action_network__donations")}
    assert donations.keys() == data.donations.keys()
    # an amount corrected on a quiet page by the last advance waits for the sweep: compare the rest
    corrected = max(d.modified_date for d in data.donations.values())
    assert {i: donations[i] for i, d in data.donations.items() if d.modified_date < corrected} == {
        d.id: (Decimal(d.amount).quantize(Decimal("0.01")), "USD", d.recurrence is not None, d.recurrence)
        for d in data.donations.values() if d.modified_date < corrected}
    [(none_sources,)] = query(warehouse, "select count(*) from staging.stg_action_network__signatures "
                                         "where referrer_source = 'none' or email_referrer = 'none'")
    assert none_sources == 0, "'none' is read as null"
    targets = dict(query(warehouse, "select outreach_id, target_count from staging.stg_action_network__outreaches"))
    assert targets == {o.id: len(o.targets) for o in data.outreaches.values()}
    assert query(warehouse, "select count(*) from staging.stg_action_network__lists") == [(len(data.lists),)]
