"""Action Network as it really answers, through to the marts: two syncs against the fake's defaults
(namespaced fields, six email statuses, filter-rejecting tags, a sponsored campaign's events listed
only under the campaign, a limiter counting arrivals per second), then `dbt build`."""

from decimal import Decimal

import pytest

from pipelines.cli import main
from sandbox import action_network
from sandbox.world import build_world
from tests.conftest import query

pytestmark = pytest.mark.integration

KEY = "an-marts-key"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("an_marts") / "warehouse.duckdb"
    world = build_world(people=200, seed=17)
    with pytest.MonkeyPatch.context() as patch, action_network.serve(world, KEY, rate_limit=None) as service:
        patch.setenv("WAREHOUSE_PATH", str(warehouse))
        for name, value in action_network.client_env(service, KEY).items():
            patch.setenv(name, value)
        # as a user runs it: the first sync, then the next one, which builds the marts (dbt build)
        assert main(["--quiet", "sync", "--no-transform", "action_network"]) == 0
        world.advance(0.05)
        assert main(["--quiet", "sync", "action_network"]) == 0, "second sync or dbt build failed"
        assert service.count(status=400) == 0, "a filter was sent where the API rejects it"
        yield warehouse, world.vendors["action_network"]


def test_campaign_events_and_their_rsvps_are_in_the_marts_once_with_their_campaign(built):
    warehouse, data = built
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
    warehouse, data = built
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
    warehouse, data = built
    expected = {a.id: a.referrer for a in data.attendances.values()}
    rows = dict(query(warehouse, """
        select source_attendance_id, utm_source from analytics.attendances where source = 'action_network'"""))
    assert rows == expected
    assert any(expected.values())


def test_every_action_reaches_staging_typed_with_its_person_and_page(built):
    """Signatures, submissions, donations and outreaches as staging types them: the marts' input."""
    warehouse, data = built
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
