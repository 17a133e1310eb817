"""The seed lab, built on the emulator: web-vpc, api-vpc, their load balancers, the private zone.

:func:`build_lab` builds what the seed lab starts from, all in us-east-1; what the chapters beyond
the seed add (api-elb's namesake in eu-west-1) is built by :func:`build_other_region`.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import boto3

from peerkeeper.clients import Clients

if TYPE_CHECKING:
    pass


ACCOUNT = "123456789012"  # moto's default account: the one peerkeeper runs in

STRANGER = "210987654321"  # an account that is not on the allowlist

REGION: Final = "us-east-1"

OTHER_REGION: Final = "eu-west-1"  # beyond the seed lab: a second stack, and another load balancer named api-elb

ZONE_NAME = "elb.lab.private"

ZONE_ID = "Z0DEMOELBLABPRIVATE"

RECORD = f"api.{ZONE_NAME}"  # the seed's CNAME: api-elb beside web-vpc (beyond the seed: api-elb@eu-west-1)

WEB_RECORD = f"web.{ZONE_NAME}"  # beyond the seed: web-elb's record, added with the second region

LOG_GROUP = "flow-logs-group"

ROLE_NAME = "flow-log-role"

MAX_ECHO_DEPTH = 2  # an event, peerkeeper's reaction, and the no-op that reaction triggers

_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ],
}


class DemoError(RuntimeError):
    """The demo could not run (no free port, template or functions not found)."""


@dataclass
class Network:
    name: str
    vpc: str
    cidr: str
    tables: list[str]
    subnets: list[str]


@dataclass
class Tier:
    """An app tier of the seed: an autoscaling group of one instance behind the VPC's load balancer."""

    name: str  # "web" or "api"
    group: str  # the instances' security group
    autoscaling_group: str
    instance: str  # the one instance the group runs


@dataclass
class Lab:
    web: Network
    api: Network
    load_balancers: dict[str, dict[str, str]]  # name (name@region outside REGION) -> {"arn", "dns"}
    zone_id: str
    role_arn: str
    api_eu: Network | None = None  # beyond the seed: api-eu-vpc in OTHER_REGION, home of api-elb@eu-west-1
    tiers: dict[str, Tier] = field(default_factory=dict)  # "web", "api": built by build_tiers

    @property
    def networks(self) -> list[Network]:
        return [self.web, self.api]


def build_network(ec2: Any, name: str, cidr: str, region: str = REGION) -> Network:
    """A VPC with two subnets (two AZs), its main route table and one more, associated with a subnet."""
    prefix = cidr.rsplit(".", 2)[0]  # "10.0.0.0/16" -> "10.0"
    tags = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}]
    vpc = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=tags)["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i + 1}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    private = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for subnet in subnets:
        ec2.associate_route_table(RouteTableId=private, SubnetId=subnet)
    return Network(name, vpc, cidr, [main, private], subnets)


def build_tagged_vpc(ec2: Any, name: str, cidr: str, tags: dict[str, str]) -> Network:
    """Beyond the seed: a VPC carrying ``tags`` (and its Name), one subnet and its main route table."""
    spec = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}, *_tag_list(tags)]}]
    vpc = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=spec)["Vpc"]["VpcId"]
    first = next(ipaddress.ip_network(cidr).subnets(new_prefix=24))
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=str(first), AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    return Network(name, vpc, cidr, [main], [subnet])


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def create_load_balancer(clients: Clients, name: str, subnets: list[str], region: str = REGION) -> dict[str, str]:
    created = clients.elbv2(region).create_load_balancer(
        Name=name, Subnets=subnets, Scheme="internal", Type="application"
    )["LoadBalancers"][0]
    return {"arn": created["LoadBalancerArn"], "dns": created["DNSName"], "vpc": created.get("VpcId", "")}


def create_private_zone(clients: Clients, vpc: str) -> str:
    """``elb.lab.private`` on ``vpc``, with an id shaped like a real one.

    Real hosted zone ids start with ``Z`` (events.py accepts only those); moto's random ones mostly
    don't, so the id is chosen through moto's custom-id hook (the server runs in this process).
    """
    from moto.route53.models import HostedZoneIdentifier  # noqa: PLC0415  (development dependency)
    from moto.utilities.id_generator import moto_id_manager  # noqa: PLC0415

    identifier = HostedZoneIdentifier(ACCOUNT, f"{ZONE_NAME}.", None)
    moto_id_manager.set_custom_id(identifier, ZONE_ID)
    try:
        created = clients.route53().create_hosted_zone(
            Name=ZONE_NAME,
            CallerReference=f"peerkeeper-demo-{uuid.uuid4()}",
            VPC={"VPCRegion": REGION, "VPCId": vpc},
            HostedZoneConfig={"Comment": "peerkeeper demo", "PrivateZone": True},
        )
    finally:
        moto_id_manager.unset_custom_id(identifier)
    return str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def build_lab(clients: Clients, endpoint: str) -> Lab:
    """The seed lab before its steps: web-vpc and api-vpc (us-east-1), web-elb and api-elb, the private
    zone on web-vpc, the flow-log group and role. The zone is the seed's step 2, done by hand."""
    ec2 = clients.ec2(REGION)
    web = build_network(ec2, "web-vpc", "10.0.0.0/16")
    api = build_network(ec2, "api-vpc", "10.1.0.0/16")
    load_balancers = {
        "web-elb": create_load_balancer(clients, "web-elb", web.subnets),
        "api-elb": create_load_balancer(clients, "api-elb", api.subnets),
    }
    zone = create_private_zone(clients, web.vpc)
    clients.session.client("logs", region_name=REGION, endpoint_url=endpoint).create_log_group(logGroupName=LOG_GROUP)
    role = clients.session.client("iam", region_name=REGION, endpoint_url=endpoint).create_role(
        RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(_TRUST_POLICY)
    )["Role"]["Arn"]
    return Lab(web, api, load_balancers, zone, role)


AMI = "ami-12c6146b"  # an image moto knows


def build_tier(clients: Clients, endpoint: str, network: Network, name: str, ingress: list[dict[str, Any]]) -> Tier:
    """``<name>-asg`` (one instance, ``<name>-sg``) behind ``<name>-elb``: a target group and an HTTP listener."""
    ec2, elbv2 = clients.ec2(REGION), clients.elbv2(REGION)
    http = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": network.cidr}]}
    permissions: list[Any] = [http, *ingress]
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description=f"{name} tier (demo)", VpcId=network.vpc)
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=permissions)
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{name}-tier",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro", "SecurityGroupIds": [group["GroupId"]]},
    )["LaunchTemplate"]["LaunchTemplateId"]
    target_group = elbv2.create_target_group(
        Name=f"{name}-targets", Protocol="HTTP", Port=80, VpcId=network.vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    lb_arn = clients.elbv2(REGION).describe_load_balancers(Names=[f"{name}-elb"])["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )
    autoscaling = clients.session.client("autoscaling", region_name=REGION, endpoint_url=endpoint)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=f"{name}-asg",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        VPCZoneIdentifier=network.subnets[0],
        TargetGroupARNs=[target_group],
    )
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{name}-asg"])["AutoScalingGroups"]
    return Tier(name, str(group["GroupId"]), f"{name}-asg", str(found[0]["Instances"][0]["InstanceId"]))


def build_tiers(clients: Clients, endpoint: str, lab: Lab) -> None:
    """The seed's app: web and api autoscaling groups behind web-elb and api-elb.

    Each tier's group admits HTTP from its own VPC (its load balancer); web-sg also admits SSH from
    api-vpc and nothing else: no ICMP, the seed's mistake that the ping story finds.
    """
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": lab.api.cidr}]}
    lab.tiers["web"] = build_tier(clients, endpoint, lab.web, "web", [ssh])
    lab.tiers["api"] = build_tier(clients, endpoint, lab.api, "api", [])


def build_other_region(clients: Clients, lab: Lab) -> dict[str, str]:
    """Beyond the seed: api-eu-vpc (10.3.0.0/16) in OTHER_REGION with a load balancer also named api-elb.

    Load balancer names are unique per region only. Returns the new api-elb (``arn``, ``dns``, ``vpc``).
    """
    lab.api_eu = build_network(clients.ec2(OTHER_REGION), "api-eu-vpc", "10.3.0.0/16", region=OTHER_REGION)
    remote = create_load_balancer(clients, "api-elb", lab.api_eu.subnets, OTHER_REGION)
    lab.load_balancers[f"api-elb@{OTHER_REGION}"] = remote
    return remote


def stranger_clients(clients: Clients, endpoint: str) -> Clients:
    """moto: credentials from assume_role into another account id act as that account."""
    credentials = clients.sts(REGION).assume_role(
        RoleArn=f"arn:aws:iam::{STRANGER}:role/partner-admin", RoleSessionName="partner"
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return Clients(session, endpoint_url=endpoint)


def flow_logged(clients: Clients) -> set[str]:
    flow_logs = clients.ec2(REGION).describe_flow_logs()["FlowLogs"]
    return {fl["ResourceId"] for fl in flow_logs if fl.get("LogGroupName") == LOG_GROUP}


def flow_logs_as_seeded(clients: Clients, lab: Lab, vpc: str) -> bool:
    """``vpc`` has the seed's flow log: all traffic, to flow-logs-group, delivered by flow-log-role."""
    found = clients.ec2(REGION).describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    return any(
        fl.get("TrafficType") == "ALL"
        and fl.get("LogGroupName") == LOG_GROUP
        and fl.get("DeliverLogsPermissionArn") == lab.role_arn
        for fl in found
    )


def record_sets(clients: Clients, zone_id: str, name: str) -> list[dict[str, Any]]:
    """Every record set of ``zone_id`` named ``name`` (any type)."""
    records = clients.route53().list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [dict(record) for record in records if record["Name"].rstrip(".") == name]


def zone_vpcs(clients: Clients, zone_id: str) -> set[str]:
    return {vpc["VPCId"] for vpc in clients.route53().get_hosted_zone(Id=zone_id).get("VPCs", [])}


def route_targets(clients: Clients, table: str) -> dict[str, str]:
    found = clients.ec2(REGION).describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    return {r.get("DestinationCidrBlock", ""): r.get("VpcPeeringConnectionId", "") for r in found}


def peering_status(clients: Clients, pcx: str) -> str:
    found = clients.ec2(REGION).describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    return str(found["VpcPeeringConnections"][0]["Status"]["Code"])


def cname(clients: Clients, zone_id: str, name: str = RECORD) -> str:
    records = clients.route53().list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    values = [
        value["Value"].rstrip(".")
        for record in records
        if record["Name"].rstrip(".") == name and record["Type"] == "CNAME"
        for value in record.get("ResourceRecords", [])
    ]
    return ",".join(values)


def routed(clients: Clients, network: Network, destination: str, pcx: str) -> bool:
    return all(route_targets(clients, table).get(destination) == pcx for table in network.tables)
