"""Action Network as it really answers, through to the marts: two syncs against the fake's defaults
(namespaced fields, six email statuses, filter-rejecting tags, a sponsored campaign's events listed
only under the campaign, a limiter counting arrivals per second), then `dbt build`."""

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
