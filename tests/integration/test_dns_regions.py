"""One DNS truth across regions: ``record=lb@region``, Route 53 events from us-east-1, stacks that agree.

Load balancer names are unique per region only and Route 53 is global. Each "stack" below is the
real sync_dns handler run with ``AWS_REGION`` set to its region, against one moto world holding a
private zone associated with a VPC in us-east-1 and one in eu-west-1, and a load balancer named
``api-elb`` in each region (moto names them ``api-elb-1.<region>.elb.amazonaws.com``).

moto carries no events at all: the Route 53 event is the sample of ``events/``, which names
us-east-1 as every Route 53 event does (the us-east-1 stack forwards it unchanged to the other
regions' buses). moto's ``describe_load_balancers`` also answers a list holding a missing name
without error, where AWS fails the whole call: the last test rewrites that answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

from peerkeeper.clients import default_clients
from tests.support import ACCOUNT, CallRecorder, FakeContext, clear_caches, handler, load_event

sync_dns = handler("sync_dns")
RECORD, ZONE_NAME, LB = "api.elb.lab.private", "elb.lab.private", "api-elb"
ZONE_ID = "Z0REGIONSZONE00001"
US, EU = "us-east-1", "eu-west-1"


@dataclass
class World:
    zone: str
    dns: dict[str, str]  # region -> DNS name of that region's api-elb


def _load_balancer(region: str, vpc: str) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.5.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    created = boto3.client("elbv2", region_name=region).create_load_balancer(
        Name=LB, Subnets=subnets, Scheme="internal", Type="application"
    )
    return str(created["LoadBalancers"][0]["DNSName"])


@pytest.fixture
def world(aws: None) -> World:
    vpcs = {
        region: boto3.client("ec2", region_name=region).create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
        for region in (US, EU)
    }
    route53: Any = boto3.client("route53", region_name=US)
    identifier = HostedZoneIdentifier(ACCOUNT, f"{ZONE_NAME}.", None)
    moto_id_manager.set_custom_id(identifier, ZONE_ID)  # real zone ids start with Z; moto's mostly don't
    try:
        route53.create_hosted_zone(
            Name=ZONE_NAME,
            CallerReference="regions",
            VPC={"VPCRegion": US, "VPCId": vpcs[US]},
            HostedZoneConfig={"PrivateZone": True},
        )
    finally:
        moto_id_manager.unset_custom_id(identifier)
    route53.associate_vpc_with_hosted_zone(HostedZoneId=ZONE_ID, VPC={"VPCRegion": EU, "VPCId": vpcs[EU]})
    dns = {region: _load_balancer(region, vpc) for region, vpc in vpcs.items()}
    assert dns[US] != dns[EU]  # namesakes, two load balancers
    return World(ZONE_ID, dns)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    """Run sync_dns as the stack of ``region`` would, recording its calls in ``recorder``."""

    def run(region: str, event: dict[str, Any], recorder: CallRecorder, dns_records: str) -> dict[str, Any]:
        for name, value in {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "DNS_RECORDS": dns_records}.items():
            monkeypatch.setenv(name, value)
        clear_caches()
        default_clients().session.events.register("before-call", recorder)
        arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:peerkeeper-sync-dns"
        return sync_dns(event, FakeContext(invoked_function_arn=arn))

    return run


def cname(zone: str) -> list[str]:
    found = boto3.client("route53", region_name=US).list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return [
        rr["Value"]
        for record in found
        if record["Name"].rstrip(".") == RECORD and record["Type"] == "CNAME"
        for rr in record["ResourceRecords"]
    ]


def route53_writes(recorder: CallRecorder) -> list[str]:
    return [name for name in recorder.mutating if name == "ChangeResourceRecordSets"]


def sweep_event(region: str) -> dict[str, Any]:
    return {**load_event("sweep__Scheduled"), "region": region}


def change_event() -> dict[str, Any]:
    """ChangeResourceRecordSets on the zone, as delivered in us-east-1 and forwarded from there."""
    event = load_event("sync_dns__ChangeResourceRecordSets", zone=ZONE_ID)
    assert (event["region"], event["detail"]["awsRegion"]) == (US, US)
    return event


def test_two_stacks_in_two_regions_converge_on_one_value(world, stack):
    """The README's StackSet: the same DNS_RECORDS in us-east-1 and eu-west-1, one shared zone."""
    pairs = f"{RECORD}={LB}@{EU}"
    recorder = CallRecorder()

    stack(US, sweep_event(US), recorder, pairs)  # the us-east-1 sweep writes eu-west-1's api-elb
    assert cname(world.zone) == [world.dns[EU]]
    assert route53_writes(recorder) == ["ChangeResourceRecordSets"]
    recorder.clear()

    # Every later run in either region, on a schedule or on the Route 53 event our write caused
    # (delivered in us-east-1, forwarded to eu-west-1), agrees: no further write.
    for region in (EU, US):
        for event in (sweep_event(region), change_event()):
            summary = stack(region, event, recorder, pairs)
            assert summary["actions"] == []
            assert "conflicts" not in summary
    assert route53_writes(recorder) == []
    assert cname(world.zone) == [world.dns[EU]]


def test_stacks_sharing_a_zone_without_region_do_not_take_turns(world, stack):
    """Without @region each stack means its own api-elb: the second reports it, never flips the record."""
    pairs = f"{RECORD}={LB}"
    recorder = CallRecorder()
    stack(US, sweep_event(US), recorder, pairs)
    assert cname(world.zone) == [world.dns[US]]
    recorder.clear()

    summary = stack(EU, sweep_event(EU), recorder, pairs)
    again = stack(US, change_event(), recorder, pairs)

    assert route53_writes(recorder) == []
    assert cname(world.zone) == [world.dns[US]]
    (conflict,) = summary["conflicts"]
    assert conflict["resource"] == RECORD
    assert US in conflict["reason"]
    assert f"{LB}@<region>" in conflict["reason"]
    assert again["actions"] == []


def test_route53_event_naming_another_region_is_reconciled_for_the_functions_region(world, stack):
    """Forwarded to eu-west-1, the us-east-1 event is about eu-west-1's configuration and region."""
    boto3.client("route53", region_name=US).change_resource_record_sets(
        HostedZoneId=world.zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": RECORD,
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "old-api.example.com"}],
                    },
                }
            ]
        },
    )
    recorder = CallRecorder()

    summary = stack(EU, change_event(), recorder, f"{RECORD}={LB}")

    assert summary["scope"]["region"] == EU
    assert cname(world.zone) == [world.dns[EU]]  # eu-west-1's api-elb, not us-east-1's namesake
    (action,) = summary["actions"]
    assert (action["resource"], action["region"], action["outcome"]) == (RECORD, EU, "done")


def test_load_balancer_event_touches_only_pairs_of_its_region(world, stack):
    """CreateLoadBalancer of us-east-1's api-elb says nothing about api-elb@eu-west-1."""
    recorder = CallRecorder()
    event = load_event("sync_dns__CreateLoadBalancer_v2")

    summary = stack(US, event, recorder, f"{RECORD}={LB}@{EU}")

    assert summary["actions"] == []
    assert recorder.operations == []  # not even a read


def _names_as_aws_answers(client: Any) -> list[dict[str, Any]]:
    """AWS fails DescribeLoadBalancers(Names=[found, missing]) as a whole; moto answers the found ones."""
    original = client._make_api_call
    asked: list[dict[str, Any]] = []

    def call(operation: str, params: dict[str, Any]) -> Any:
        asked.append(params)
        response = original(operation, params)
        names = params.get("Names") or []
        found = {lb["LoadBalancerName"] for lb in response.get("LoadBalancers", [])}
        if operation == "DescribeLoadBalancers" and set(names) - found:
            error: Any = {"Error": {"Code": "LoadBalancerNotFound", "Message": "One or more load balancers not found"}}
            raise ClientError(error, operation)
        return response

    client._make_api_call = call
    return asked


def test_a_missing_name_fails_the_whole_describe_as_in_aws(world, stack, monkeypatch):
    pairs = f"{RECORD}={LB}@{EU},gone.{ZONE_NAME}=gone-elb@{EU}"
    monkeypatch.setenv("DNS_RECORDS", pairs)
    monkeypatch.setenv("AWS_REGION", US)
    clear_caches()
    described = _names_as_aws_answers(default_clients().elbv2(EU))

    summary = sync_dns(load_event("sweep__Scheduled"), FakeContext())

    assert described[0] == {"Names": ["api-elb", "gone-elb"]}  # one call for both: refused as a whole
    assert described[1:] == [{}]  # then one listing answers for every name
    assert cname(world.zone) == [world.dns[EU]]
    (problem,) = summary["problems"]
    assert problem["resource"] == f"gone.{ZONE_NAME}"
    assert "gone-elb not found in eu-west-1" in problem["reason"]
