"""The DNS planner: pure, table-driven. Worlds are built from plain values, no AWS involved."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from peerkeeper import dns
from peerkeeper.dns import DnsWorld, HostedZone, RecordSet
from peerkeeper.settings import DnsRecord, Settings

REGION = "us-east-1"
RECORD = "api.elb.lab.private"
LB = "api-elb"
LB_DNS = "internal-api-elb-1234567890.us-east-1.elb.amazonaws.com"
ZONE = HostedZone("Z0ELB", "elb.lab.private", private=True)
SETTINGS = Settings(region=REGION, dns_records=(DnsRecord(RECORD, LB),), dns_ttl=300)


def cname(value: str = LB_DNS, ttl: int = 300, **fields: Any) -> RecordSet:
    return RecordSet(RECORD, "CNAME", ttl, (value,), **fields)


def world(*existing: RecordSet, zones: tuple[HostedZone, ...] = (ZONE,), **fields: Any) -> DnsWorld:
    base = DnsWorld(
        region=REGION,
        records=SETTINGS.dns_records,
        zones=zones,
        load_balancers={(REGION, LB): LB_DNS},
        record_sets={(ZONE.id, RECORD): existing},
    )
    return replace(base, **fields)


def upsert_params(zone_id: str = ZONE.id) -> dict[str, Any]:
    return {
        "HostedZoneId": zone_id,
        "ChangeBatch": {
            "Comment": f"peerkeeper: {RECORD} -> {LB_DNS}",
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": RECORD,
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": LB_DNS}],
                    },
                }
            ],
        },
    }


# (case, existing record sets, expected: "upsert" | "conflict" | None)
RECORD_CASES = [
    ("missing", (), "upsert"),
    ("right", (cname(),), None),
    ("right, other case and trailing dot", (cname(LB_DNS.upper() + "."),), None),
    ("wrong value", (cname("old-api-elb-999.us-east-1.elb.amazonaws.com"),), "upsert"),
    ("wrong TTL", (cname(ttl=60),), "upsert"),
    ("alias A record", (RecordSet(RECORD, "A", None, (), alias=True),), "conflict"),
    ("plain TXT record", (RecordSet(RECORD, "TXT", 300, ('"hello"',)),), "conflict"),
    ("alias CNAME", (RecordSet(RECORD, "CNAME", None, (), alias=True),), "conflict"),
    ("weighted CNAME", (cname(routing=True),), "conflict"),
    ("two weighted CNAMEs", (cname(routing=True), cname("other.example.com", routing=True)), "conflict"),
]


@pytest.mark.parametrize(("existing", "expected"), [c[1:] for c in RECORD_CASES], ids=[c[0] for c in RECORD_CASES])
def test_record_state_decides_the_action(existing: tuple[RecordSet, ...], expected: str | None) -> None:
    plan = dns.plan(world(*existing), SETTINGS)

    assert plan.concern == "dns"
    assert not plan.problems
    if expected == "upsert":
        assert [(a.kind, a.resource, a.region) for a in plan.actions] == [("upsert-record", RECORD, REGION)]
        assert plan.actions[0].params == upsert_params()
        assert not plan.conflicts
    elif expected == "conflict":
        assert not plan.actions
        assert [(f.resource, f.detail["zone"]) for f in plan.conflicts] == [(RECORD, "elb.lab.private (Z0ELB)")]
    else:
        assert not plan.actions
        assert not plan.conflicts


def test_configured_ttl_is_the_one_wanted() -> None:
    settings = replace(SETTINGS, dns_ttl=60)

    assert not dns.plan(world(cname(ttl=60)), settings).actions
    (action,) = dns.plan(world(cname(ttl=300)), settings).actions
    assert action.params["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]["TTL"] == 60


@pytest.mark.parametrize(
    "existing", [(), (cname("old-api-elb-999.us-east-1.elb.amazonaws.com"),), (cname(),)], ids=["none", "stale", "ok"]
)
def test_missing_load_balancer_leaves_the_record_alone(existing: tuple[RecordSet, ...]) -> None:
    plan = dns.plan(world(*existing, load_balancers={}), SETTINGS)

    assert not plan.actions
    assert not plan.conflicts
    (problem,) = plan.problems
    assert problem.resource == RECORD
    assert "load balancer api-elb not found in us-east-1" in problem.reason
    assert problem.detail["load_balancer"] == LB


def test_missing_zone_is_reported_with_the_names_looked_for() -> None:
    plan = dns.plan(world(zones=()), SETTINGS)

    assert not plan.actions
    (problem,) = plan.problems
    assert problem.resource == RECORD
    assert problem.detail["record"] == RECORD
    assert problem.detail["zone"] == "elb.lab.private"
    assert problem.detail["looked_for"] == ["elb.lab.private", "lab.private", "private"]


def test_longest_suffix_zone_is_chosen() -> None:
    parent = HostedZone("Z0LAB", "lab.private", private=True)

    for zones in ((parent, ZONE), (ZONE, parent)):
        (action,) = dns.plan(world(zones=zones), SETTINGS).actions
        assert action.params["HostedZoneId"] == ZONE.id


def test_shorter_suffix_zone_when_no_longer_one_exists() -> None:
    parent = HostedZone("Z0LAB", "lab.private", private=True)
    planned = world(zones=(parent,), record_sets={})

    (action,) = dns.plan(planned, SETTINGS).actions
    assert action.params["HostedZoneId"] == "Z0LAB"


def test_label_suffix_not_string_suffix() -> None:
    """``b.lab.private`` ends the string ``api.elb.lab.private`` but is not a parent domain of it."""
    lookalike = HostedZone("Z0B", "b.lab.private", private=True)

    plan = dns.plan(world(zones=(lookalike,)), SETTINGS)

    assert not plan.actions
    assert plan.problems


def test_zone_named_like_the_record_is_not_its_parent() -> None:
    """A CNAME cannot sit at a zone apex: a zone named exactly like the record is not used."""
    apex = HostedZone("Z0APEX", RECORD, private=True)

    (action,) = dns.plan(world(zones=(apex, ZONE)), SETTINGS).actions
    assert action.params["HostedZoneId"] == ZONE.id


def test_public_zone_with_the_same_name_is_ignored() -> None:
    public = HostedZone("Z0PUBLIC", "elb.lab.private", private=False)

    (action,) = dns.plan(world(zones=(public, ZONE)), SETTINGS).actions
    assert action.params["HostedZoneId"] == ZONE.id
    assert dns.plan(world(zones=(public,)), SETTINGS).problems


def test_public_zone_only_is_a_missing_zone() -> None:
    public = HostedZone("Z0PUBLIC", "elb.lab.private", private=False)

    plan = dns.plan(world(zones=(public,)), SETTINGS)

    assert not plan.actions
    assert [p.detail["zone"] for p in plan.problems] == ["elb.lab.private"]


NAMESAKE_OURS = HostedZone("Z0OURS", "elb.lab.private", True, ((REGION, "vpc-0000000000000000a"),))
NAMESAKE_OTHER_REGION = HostedZone("Z0WEST", "elb.lab.private", True, (("eu-west-1", "vpc-0000000000000000b"),))
NAMESAKE_OTHER_ACCOUNT = HostedZone("Z0THEIRS", "elb.lab.private", True, ((REGION, "vpc-0000000000000000c"),))


@pytest.mark.parametrize(
    "zones",
    [
        (NAMESAKE_OURS, NAMESAKE_OTHER_REGION, NAMESAKE_OTHER_ACCOUNT),
        (NAMESAKE_OTHER_ACCOUNT, NAMESAKE_OTHER_REGION, NAMESAKE_OURS),
    ],
    ids=["ours first", "ours last"],
)
def test_namesake_private_zones_pick_the_one_on_our_vpc_here(zones: tuple[HostedZone, ...]) -> None:
    own_vpcs = frozenset({"vpc-0000000000000000a", "vpc-0000000000000000b"})  # b is ours, in another region

    (action,) = dns.plan(world(zones=zones, own_vpcs=own_vpcs, record_sets={}), SETTINGS).actions
    assert action.params["HostedZoneId"] == "Z0OURS"


def test_namesake_private_zones_none_ours_is_a_problem() -> None:
    zones = (NAMESAKE_OTHER_REGION, NAMESAKE_OTHER_ACCOUNT)

    plan = dns.plan(world(zones=zones, own_vpcs=frozenset({"vpc-0000000000000000b"})), SETTINGS)

    assert not plan.actions
    (problem,) = plan.problems
    assert "none is associated" in problem.reason


def test_namesake_private_zones_both_ours_is_ambiguous() -> None:
    twin = replace(NAMESAKE_OURS, id="Z0TWIN", vpcs=((REGION, "vpc-0000000000000000d"),))
    own_vpcs = frozenset({"vpc-0000000000000000a", "vpc-0000000000000000d"})

    plan = dns.plan(world(zones=(NAMESAKE_OURS, twin), own_vpcs=own_vpcs), SETTINGS)

    assert not plan.actions
    (problem,) = plan.problems
    assert "several are associated" in problem.reason


def test_each_pair_is_planned_on_its_own() -> None:
    pairs = (DnsRecord(RECORD, LB), DnsRecord("web.elb.lab.private", "web-elb"), DnsRecord("db.nowhere.test", LB))
    settings = replace(SETTINGS, dns_records=pairs)
    web_dns = "web-elb-1.us-east-1.elb.amazonaws.com"
    planned = world(
        cname(),
        records=pairs,
        load_balancers={(REGION, LB): LB_DNS, (REGION, "web-elb"): web_dns},
        record_sets={(ZONE.id, RECORD): (cname(),), (ZONE.id, "web.elb.lab.private"): ()},
    )

    plan = dns.plan(planned, settings)

    assert [
        (a.resource, a.params["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]["ResourceRecords"])
        for a in plan.actions
    ] == [("web.elb.lab.private", [{"Value": web_dns}])]
    assert [p.resource for p in plan.problems] == ["db.nowhere.test"]


def test_same_record_listed_twice_is_reported_once_and_first_wins() -> None:
    pairs = (DnsRecord(RECORD, LB), DnsRecord(RECORD, "other-elb"))
    settings = replace(SETTINGS, dns_records=pairs)

    plan = dns.plan(world(records=pairs), settings)

    (action,) = plan.actions
    assert action.params == upsert_params()
    assert [p.detail["load_balancer"] for p in plan.problems] == ["other-elb"]


def test_parse_record_set_reads_routing_alias_and_trailing_dot() -> None:
    weighted = dns.parse_record_set(
        {
            "Name": "API.elb.lab.private.",
            "Type": "CNAME",
            "SetIdentifier": "blue",
            "Weight": 10,
            "TTL": 60,
            "ResourceRecords": [{"Value": "x.example.com"}],
        }
    )
    alias = dns.parse_record_set(
        {
            "Name": "api.elb.lab.private.",
            "Type": "A",
            "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "x.", "EvaluateTargetHealth": False},
        }
    )

    assert weighted == RecordSet(RECORD, "CNAME", 60, ("x.example.com",), alias=False, routing=True)
    assert alias == RecordSet(RECORD, "A", None, (), alias=True, routing=False)


def test_parse_zone_reads_privacy_and_bare_id() -> None:
    zone = dns.parse_zone(
        {"Id": "/hostedzone/Z0ELB", "Name": "Elb.Lab.Private.", "Config": {"PrivateZone": True}},
        [{"VPCRegion": REGION, "VPCId": "vpc-0000000000000000a"}],
    )

    assert zone == HostedZone("Z0ELB", "elb.lab.private", True, ((REGION, "vpc-0000000000000000a"),))


# -- DNS across regions -------------------------------------------------------------------------
EU_DNS = "internal-api-elb-42.eu-west-1.elb.amazonaws.com"


def test_pair_naming_a_region_takes_that_regions_load_balancer() -> None:
    """The same name in the function's region is another load balancer: never the one used."""
    pairs = (DnsRecord(RECORD, LB, "eu-west-1"),)
    planned = world(records=pairs, load_balancers={(REGION, LB): LB_DNS, ("eu-west-1", LB): EU_DNS})

    (action,) = dns.plan(planned, replace(SETTINGS, dns_records=pairs)).actions

    change = action.params["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]
    assert change["ResourceRecords"] == [{"Value": EU_DNS}]


def test_pair_naming_a_region_reports_its_missing_load_balancer_there() -> None:
    pairs = (DnsRecord(RECORD, LB, "eu-west-1"),)
    planned = world(cname(EU_DNS), records=pairs, load_balancers={(REGION, LB): LB_DNS})

    plan = dns.plan(planned, replace(SETTINGS, dns_records=pairs))

    assert not plan.actions
    (problem,) = plan.problems
    assert "not found in eu-west-1" in problem.reason
    assert problem.detail["load_balancer_region"] == "eu-west-1"


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (EU_DNS, "conflict"),  # another region's stack wrote its own api-elb: not flipped back
        ("api-elb-7.elb.eu-west-1.amazonaws.com", "conflict"),  # a network load balancer's name
        ("old-api-elb-999.us-east-1.elb.amazonaws.com", "upsert"),  # this region: repaired
        ("old-api.example.com", "upsert"),  # not a load balancer: repaired
    ],
)
def test_pair_without_region_does_not_overwrite_another_regions_load_balancer(current: str, expected: str) -> None:
    plan = dns.plan(world(cname(current)), SETTINGS)

    if expected == "conflict":
        assert not plan.actions
        (conflict,) = plan.conflicts
        assert "eu-west-1" in conflict.reason
        assert "api-elb@<region>" in conflict.reason
    else:
        assert [a.resource for a in plan.actions] == [RECORD]
        assert not plan.conflicts


def test_pair_naming_its_region_repairs_a_record_pointing_at_another_region() -> None:
    pairs = (DnsRecord(RECORD, LB, REGION),)
    planned = world(cname(EU_DNS), records=pairs)

    plan = dns.plan(planned, replace(SETTINGS, dns_records=pairs))

    assert [a.resource for a in plan.actions] == [RECORD]


@pytest.mark.parametrize(
    ("dns_name", "region"),
    [
        ("internal-api-elb-1234567890.us-east-1.elb.amazonaws.com", "us-east-1"),
        ("api-elb-1234567890.eu-west-1.elb.amazonaws.com.", "eu-west-1"),
        ("api-elb-0123456789abcdef.elb.ap-southeast-2.amazonaws.com", "ap-southeast-2"),
        ("api-elb-1.cn-north-1.elb.amazonaws.com.cn", "cn-north-1"),
        ("api-elb-1.us-gov-west-1.elb.amazonaws.com", "us-gov-west-1"),
        ("old-api.example.com", ""),
        ("elb.amazonaws.com", ""),
    ],
)
def test_load_balancer_region_from_its_dns_name(dns_name: str, region: str) -> None:
    assert dns.load_balancer_region(dns_name) == region
