"""sync_dns end to end: the real lambda_handler with the events/ samples, moto as AWS, records asserted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

from tests.support import ACCOUNT, REGION, ec2_client, handler, load_event

sync_dns = handler("sync_dns")
RECORD, ZONE_NAME, LB = "api.elb.lab.private", "elb.lab.private", "api-elb"
ZONE_ID = "Z0TESTZONE0000001"
STALE = "old-api-elb-999.us-east-1.elb.amazonaws.com"


# -- world builders ---------------------------------------------------------------------------
def route53() -> Any:
    return boto3.client("route53")


def private_zone(vpc: str, name: str = ZONE_NAME, zone_id: str = ZONE_ID) -> str:
    """A private zone associated with ``vpc``, with a real-looking id.

    Real hosted zone ids start with ``Z`` (and events.py accepts only those); moto's random ones
    mostly don't, so the id is chosen through moto's custom-id hook.
    """
    identifier = HostedZoneIdentifier(ACCOUNT, f"{name}.", None)
    moto_id_manager.set_custom_id(identifier, zone_id)
    try:
        route53().create_hosted_zone(
            Name=name,
            CallerReference=f"ref-{name}-{zone_id}",
            VPC={"VPCRegion": REGION, "VPCId": vpc},
            HostedZoneConfig={"PrivateZone": True},
        )
    finally:
        moto_id_manager.unset_custom_id(identifier)
    return zone_id


def subnets(vpc: str) -> list[str]:
    """Two new subnets of ``vpc`` in two AZs (an application load balancer needs both)."""
    ec2 = ec2_client()
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{10 + i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]


def alb(vpc: str, name: str = LB) -> dict[str, str]:
    created = boto3.client("elbv2", region_name=REGION).create_load_balancer(
        Name=name, Subnets=subnets(vpc), Scheme="internal", Type="application"
    )["LoadBalancers"][0]
    return {"arn": created["LoadBalancerArn"], "dns": created["DNSName"]}


def classic_elb(vpc: str, name: str = LB) -> str:
    created = boto3.client("elb", region_name=REGION).create_load_balancer(
        LoadBalancerName=name,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 80}],
        Subnets=subnets(vpc)[:1],
        Scheme="internal",
    )
    return str(created["DNSName"])


def change(zone_id: str, record_set: dict[str, Any], action: str = "UPSERT") -> None:
    route53().change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": {"Name": RECORD, **record_set}}]},
    )


def set_cname(zone_id: str, value: str, ttl: int = 300) -> None:
    change(zone_id, {"Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": value}]})


def records_named(zone_id: str, name: str = RECORD) -> list[dict[str, Any]]:
    found = route53().list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [record for record in found if record["Name"].rstrip(".").lower() == name]


def assert_cname(zone_id: str, value: str, ttl: int = 300) -> None:
    """Exactly one simple CNAME under the name, with that value and TTL."""
    (record,) = records_named(zone_id)
    assert record["Type"] == "CNAME"
    assert "SetIdentifier" not in record
    assert "AliasTarget" not in record
    assert [rr["Value"].rstrip(".").lower() for rr in record["ResourceRecords"]] == [value.lower()]
    assert record["TTL"] == ttl


def event(name: str, lab: Any, zone_id: str = ZONE_ID) -> dict[str, Any]:
    return load_event(
        f"sync_dns__{name}", web_vpc=lab.web_vpc, api_vpc=lab.api_vpc, subnet=lab.api_subnet, zone=zone_id
    )


@pytest.fixture
def dns_lab(lab, configure) -> Iterator[Any]:
    """The seed lab: private zone elb.lab.private on web-vpc, DNS_RECORDS naming api-elb."""
    configure(DNS_RECORDS=f"{RECORD}={LB}")
    lab.zone = private_zone(lab.web_vpc)
    return lab


# -- create, repair, already fine ---------------------------------------------------------------
def test_new_application_load_balancer_gets_its_cname(dns_lab, lambda_context, calls):
    balancer = alb(dns_lab.api_vpc)

    summary = sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)

    assert_cname(dns_lab.zone, balancer["dns"])
    assert [(a["kind"], a["resource"], a["outcome"]) for a in summary["actions"]] == [("upsert-record", RECORD, "done")]
    assert calls.mutating == ["ChangeResourceRecordSets"]
    assert "DescribeLoadBalancers" in calls.operations


def test_new_classic_load_balancer_gets_its_cname(dns_lab, lambda_context, calls):
    dns_name = classic_elb(dns_lab.api_vpc)

    summary = sync_dns(event("CreateLoadBalancer_classic", dns_lab), lambda_context)

    assert_cname(dns_lab.zone, dns_name)
    assert [a["outcome"] for a in summary["actions"]] == ["done"]


def test_cname_changed_by_hand_is_restored(dns_lab, lambda_context):
    balancer = alb(dns_lab.api_vpc)
    sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)
    set_cname(dns_lab.zone, STALE, ttl=60)  # what the sample event records

    summary = sync_dns(event("ChangeResourceRecordSets", dns_lab), lambda_context)

    assert_cname(dns_lab.zone, balancer["dns"])
    (action,) = summary["actions"]
    assert (action["resource"], action["outcome"]) == (RECORD, "done")
    assert STALE in action["reason"]


def test_wrong_ttl_is_restored(dns_lab, lambda_context, configure):
    configure(DNS_RECORDS=f"{RECORD}={LB}", DNS_TTL="60")
    balancer = alb(dns_lab.api_vpc)
    set_cname(dns_lab.zone, balancer["dns"], ttl=300)

    sync_dns(event("ChangeResourceRecordSets", dns_lab), lambda_context)

    assert_cname(dns_lab.zone, balancer["dns"], ttl=60)


def test_zone_associated_later_gets_the_record(lab, configure, lambda_context):
    configure(DNS_RECORDS=f"{RECORD}={LB}")
    balancer = alb(lab.api_vpc)
    zone = private_zone(lab.api_vpc)
    route53().associate_vpc_with_hosted_zone(HostedZoneId=zone, VPC={"VPCRegion": REGION, "VPCId": lab.web_vpc})

    sync_dns(event("AssociateVPCWithHostedZone", lab, zone), lambda_context)

    assert_cname(zone, balancer["dns"])


def test_replay_makes_no_mutating_call(dns_lab, lambda_context, calls):
    balancer = alb(dns_lab.api_vpc)
    sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)
    calls.clear()

    summary = sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)

    assert calls.mutating == []
    assert summary["actions"] == []
    assert_cname(dns_lab.zone, balancer["dns"])


def test_own_change_event_is_followed_by_a_no_op(dns_lab, lambda_context, calls):
    """Our UPSERT emits ChangeResourceRecordSets, which triggers us again: that run must not write."""
    alb(dns_lab.api_vpc)
    sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)
    calls.clear()

    sync_dns(event("ChangeResourceRecordSets", dns_lab), lambda_context)

    assert calls.mutating == []


# -- what is left alone -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["v2", "classic"])
def test_deleted_load_balancer_never_blanks_the_record(dns_lab, lambda_context, calls, kind):
    if kind == "v2":
        balancer = alb(dns_lab.api_vpc)
        dns_name, arn = balancer["dns"], balancer["arn"]
    else:
        dns_name, arn = classic_elb(dns_lab.api_vpc), ""
    sync_dns(event(f"CreateLoadBalancer_{kind}", dns_lab), lambda_context)
    if kind == "v2":
        boto3.client("elbv2", region_name=REGION).delete_load_balancer(LoadBalancerArn=arn)
    else:
        boto3.client("elb", region_name=REGION).delete_load_balancer(LoadBalancerName=LB)
    calls.clear()

    summary = sync_dns(event(f"DeleteLoadBalancer_{kind}", dns_lab), lambda_context)

    assert_cname(dns_lab.zone, dns_name)
    assert calls.mutating == []
    assert summary["actions"] == []
    (problem,) = summary["problems"]
    assert problem["resource"] == RECORD
    assert "load balancer api-elb not found" in problem["reason"]


def test_alias_record_under_the_name_is_a_conflict(dns_lab, lambda_context, calls):
    balancer = alb(dns_lab.api_vpc)
    alias = {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": balancer["dns"], "EvaluateTargetHealth": False}
    change(dns_lab.zone, {"Type": "A", "AliasTarget": alias})

    summary = sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)

    (record,) = records_named(dns_lab.zone)
    assert (record["Type"], record["AliasTarget"]["DNSName"]) == ("A", balancer["dns"])
    assert calls.mutating == []
    assert [c["resource"] for c in summary["conflicts"]] == [RECORD]


def test_weighted_cname_is_a_conflict(dns_lab, lambda_context):
    alb(dns_lab.api_vpc)
    change(
        dns_lab.zone,
        {"Type": "CNAME", "SetIdentifier": "blue", "Weight": 10, "TTL": 300, "ResourceRecords": [{"Value": STALE}]},
    )

    summary = sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)

    (record,) = records_named(dns_lab.zone)
    assert (record["SetIdentifier"], record["ResourceRecords"]) == ("blue", [{"Value": STALE}])
    assert [c["resource"] for c in summary["conflicts"]] == [RECORD]


def test_missing_zone_is_reported(lab, configure, lambda_context, calls):
    configure(DNS_RECORDS=f"{RECORD}={LB}")
    alb(lab.api_vpc)

    summary = sync_dns(event("CreateLoadBalancer_v2", lab), lambda_context)

    assert calls.mutating == []
    (problem,) = summary["problems"]
    assert (problem["record"], problem["zone"]) == (RECORD, ZONE_NAME)


def test_dry_run_plans_and_changes_nothing(dns_lab, lambda_context, calls, configure):
    configure(DNS_RECORDS=f"{RECORD}={LB}", PEERKEEPER_MODE="dry-run")
    alb(dns_lab.api_vpc)

    summary = sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)

    assert calls.mutating == []
    assert records_named(dns_lab.zone) == []
    assert summary["mode"] == "dry-run"
    assert [(a["kind"], a["resource"], a["outcome"]) for a in summary["actions"]] == [
        ("upsert-record", RECORD, "planned")
    ]


def test_without_dns_records_nothing_is_read_or_written(lab, lambda_context, calls):
    private_zone(lab.web_vpc)
    alb(lab.api_vpc)

    summary = sync_dns(event("CreateLoadBalancer_v2", lab), lambda_context)

    assert summary["actions"] == []
    assert calls.operations == []
    assert records_named(ZONE_ID) == []


def test_event_for_another_load_balancer_touches_nothing(dns_lab, lambda_context, calls, configure):
    configure(DNS_RECORDS=f"{RECORD}=other-elb")
    alb(dns_lab.api_vpc)

    summary = sync_dns(event("CreateLoadBalancer_v2", dns_lab), lambda_context)

    assert summary["actions"] == []
    assert calls.operations == []


def test_change_in_an_unrelated_zone_touches_nothing(dns_lab, lambda_context, calls):
    alb(dns_lab.api_vpc)
    other = private_zone(dns_lab.web_vpc, name="db.lab.private", zone_id="Z0TESTZONE0000002")

    summary = sync_dns(event("ChangeResourceRecordSets", dns_lab, other), lambda_context)

    assert summary["actions"] == []
    assert calls.mutating == []
    assert "DescribeLoadBalancers" not in calls.operations
