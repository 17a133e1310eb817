"""Partitions: aws, aws-cn and aws-us-gov. Route 53's region and the default role ARN follow the region.

moto answers every partition, and keeps Route 53 per partition (a zone made through
route53.amazonaws.com.cn is not seen through route53.amazonaws.com), so the sweep below shows the
real failure of a client pinned to us-east-1: in aws-cn it would find no zone at all. What moto
cannot show is that AWS refuses an ``arn:aws:`` role in China or GovCloud: that is asserted on the
ARN the flow log was created with.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from peerkeeper.clients import Clients
from peerkeeper.partitions import Partition, partition_of
from peerkeeper.settings import DnsRecord, Settings, SettingsError
from tests.support import ACCOUNT, FakeContext, handler, load_event

sweep = handler("sweep")

PARTITIONS = [
    # region, partition, Route 53's region there, Route 53's endpoint there
    ("us-east-1", "aws", "us-east-1", "https://route53.amazonaws.com"),
    ("eu-west-1", "aws", "us-east-1", "https://route53.amazonaws.com"),
    ("cn-north-1", "aws-cn", "cn-northwest-1", "https://route53.amazonaws.com.cn"),
    ("cn-northwest-1", "aws-cn", "cn-northwest-1", "https://route53.amazonaws.com.cn"),
    ("us-gov-east-1", "aws-us-gov", "us-gov-west-1", "https://route53.us-gov.amazonaws.com"),
]


@pytest.mark.parametrize(("region", "partition", "global_region", "endpoint"), PARTITIONS)
def test_route53_client_follows_the_partition_of_the_region(region, partition, global_region, endpoint):
    session = boto3.Session(region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    clients = Clients(session)

    assert partition_of(region) == Partition(partition, global_region)
    assert session.get_partition_for_region(region) == partition  # botocore's endpoint data agrees
    route53 = clients.route53()
    assert route53.meta.endpoint_url == endpoint
    assert clients.route53(region) is route53  # one client per partition, whichever region asks


def test_a_region_newer_than_botocores_list_is_placed_by_the_partitions_pattern():
    assert partition_of("cn-south-9") == Partition("aws-cn", "cn-northwest-1")
    assert partition_of("eu-north-9").name == "aws"


@pytest.mark.parametrize(
    ("region", "role"),
    [
        ("us-east-1", f"arn:aws:iam::{ACCOUNT}:role/flow-log-role"),
        ("cn-north-1", f"arn:aws-cn:iam::{ACCOUNT}:role/flow-log-role"),
        ("us-gov-west-1", f"arn:aws-us-gov:iam::{ACCOUNT}:role/flow-log-role"),
    ],
)
def test_default_flow_log_role_arn_is_in_the_functions_partition(region, role):
    settings = Settings.from_env({"AWS_REGION": region})

    assert settings.role_arn_for(ACCOUNT) == role


def test_dns_records_may_not_name_a_region_of_another_partition():
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"AWS_REGION": "us-east-1", "DNS_RECORDS": "api.elb.lab.private=api-elb@cn-north-1"})

    assert raised.value.variable == "DNS_RECORDS"
    assert "partition" in str(raised.value)
    china = Settings.from_env({"AWS_REGION": "cn-north-1", "DNS_RECORDS": "api.lab.private=api-elb@cn-northwest-1"})
    assert china.dns_records == (DnsRecord("api.lab.private", "api-elb", "cn-northwest-1"),)


def _world(region: str, global_region: str) -> dict[str, Any]:
    """The region's default VPC with a private zone on it, an internal ALB, the flow-log group."""
    ec2 = boto3.client("ec2", region_name=region)
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"][:2]
    alb = boto3.client("elbv2", region_name=region).create_load_balancer(
        Name="api-elb", Subnets=[s["SubnetId"] for s in subnets], Scheme="internal", Type="application"
    )["LoadBalancers"][0]
    route53: Any = boto3.client("route53", region_name=global_region)
    zone = route53.create_hosted_zone(
        Name="elb.lab.private",
        CallerReference=f"partition-{region}",
        VPC={"VPCRegion": region, "VPCId": vpc["VpcId"]},
        HostedZoneConfig={"PrivateZone": True},
    )["HostedZone"]["Id"]
    boto3.client("logs", region_name=region).create_log_group(logGroupName="flow-logs-group")
    return {"vpc": vpc["VpcId"], "dns": alb["DNSName"], "zone": zone, "route53": route53, "ec2": ec2}


@pytest.mark.parametrize(
    ("region", "partition", "global_region"),
    [("cn-north-1", "aws-cn", "cn-northwest-1"), ("us-gov-east-1", "aws-us-gov", "us-gov-west-1")],
)
def test_sweep_in_another_partition_writes_the_record_and_uses_its_partitions_role(
    aws, configure, region, partition, global_region
):
    configure(AWS_REGION=region, AWS_DEFAULT_REGION=region, DNS_RECORDS="api.elb.lab.private=api-elb")
    world = _world(region, global_region)
    context = FakeContext(invoked_function_arn=f"arn:{partition}:lambda:{region}:{ACCOUNT}:function:peerkeeper-sweep")

    summary = sweep(load_event("sweep__Scheduled"), context)

    assert "failed" not in summary
    assert "problems" not in summary
    records = world["route53"].list_resource_record_sets(HostedZoneId=world["zone"])["ResourceRecordSets"]
    cnames = [r for r in records if r["Type"] == "CNAME" and r["Name"].rstrip(".") == "api.elb.lab.private"]
    assert [rr["Value"] for r in cnames for rr in r["ResourceRecords"]] == [world["dns"]]
    (flow_log,) = world["ec2"].describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [world["vpc"]]}])[
        "FlowLogs"
    ]
    assert flow_log["DeliverLogsPermissionArn"] == f"arn:{partition}:iam::{ACCOUNT}:role/flow-log-role"
