"""Route 53's budget (5 requests/s per account, shared with everyone) is not spent on others' changes.

Any ``ChangeResourceRecordSets`` in the account, on any zone, reaches sync_dns (in us-east-1 and in
every region it is forwarded to). One busy ExternalDNS must not make peerkeeper list every hosted
zone on each change: a change in a zone that can hold no managed record costs one ``GetHostedZone``
(to learn the zone's name), and the zones are listed once per invocation, only when a managed name
could be in the changed zone.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.test_sync_dns import LB, RECORD, alb, event, private_zone, sync_dns
from tests.support import CallRecorder

UNRELATED = "Z0TESTZONE0000002"


@pytest.fixture
def world(lab, configure):
    configure(DNS_RECORDS=f"{RECORD}={LB}")
    lab.zone = private_zone(lab.web_vpc)
    private_zone(lab.web_vpc, name="svc.cluster.private", zone_id=UNRELATED)
    alb(lab.api_vpc)
    return lab


def test_100_unrelated_changes_cost_one_route53_read_each_and_no_listing(world, lambda_context, calls: CallRecorder):
    for _ in range(100):
        summary = sync_dns(event("ChangeResourceRecordSets", world, UNRELATED), lambda_context)
        assert summary["actions"] == []

    assert Counter(calls.operations) == Counter({"GetHostedZone": 100})


def test_a_change_in_the_managed_zone_lists_the_zones_once(world, lambda_context, calls: CallRecorder):
    summary = sync_dns(event("ChangeResourceRecordSets", world, world.zone), lambda_context)

    assert [a["kind"] for a in summary["actions"]] == ["upsert-record"]
    route53 = Counter(name for name in calls.operations if name not in ("DescribeLoadBalancers", "DescribeVpcs"))
    assert route53 == Counter(
        {"GetHostedZone": 1, "ListHostedZonesByName": 1, "ListResourceRecordSets": 1, "ChangeResourceRecordSets": 1}
    )


def test_a_deleted_zone_named_by_an_event_is_nothing_to_do(world, lambda_context, calls: CallRecorder):
    summary = sync_dns(event("ChangeResourceRecordSets", world, "Z0TESTZONE0000404"), lambda_context)

    assert summary["actions"] == []
    assert calls.operations == ["GetHostedZone"]
