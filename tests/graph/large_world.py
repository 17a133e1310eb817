"""A generated world of about 200 VPCs in three regions, for the picture at scale.

Per region: a ``shared-services`` hub and teams of five VPCs (prod, stage, dev, data, tools). Each
team's tools VPC is peered with its prod, stage and dev, prod and stage with data, and the hub with
every tools VPC; the hubs are peered across regions. Drift, by construction: every 9th connection
lacks its routes on one side, every 13th on both, every 17th is a request still pending (in this
account: peerkeeper will accept it), one route points the peer's CIDR at an internet gateway (a
conflict), two other accounts send requests that are refused, and every 11th VPC has no flow log.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.support import ACCOUNT, other_account_client

REGIONS = {"us-east-1": 21, "eu-west-1": 12, "ap-southeast-2": 6}  # teams per region: 197 VPCs + 3 default
ROLES = ("prod", "stage", "dev", "data", "tools")
TEAM_LINKS = (("tools", "prod"), ("tools", "stage"), ("tools", "dev"), ("prod", "data"), ("stage", "data"))
STRANGERS = ("210987654321", "444455556666")


@dataclass
class Vpc:
    id: str
    cidr: str
    region: str
    main_table: str


@dataclass
class LargeWorld:
    vpcs: dict[str, Vpc] = field(default_factory=dict)  # name -> VPC
    peerings: list[str] = field(default_factory=list)
    regions: tuple[str, ...] = tuple(REGIONS)


def _vpc(ec2: Any, world: LargeWorld, name: str, region: str) -> Vpc:
    index = len(world.vpcs)
    cidr = f"10.{index}.0.0/16"
    tags = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}]
    vpc_id = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=tags)["Vpc"]["VpcId"]
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"][0]
    world.vpcs[name] = Vpc(vpc_id, cidr, region, main["RouteTableId"])
    return world.vpcs[name]


def _peer(clients: dict[str, Any], world: LargeWorld, requester: Vpc, accepter: Vpc) -> None:
    number = len(world.peerings) + 1
    ec2 = clients[requester.region]
    extra = {"PeerRegion": accepter.region} if accepter.region != requester.region else {}
    pcx = ec2.create_vpc_peering_connection(VpcId=requester.id, PeerVpcId=accepter.id, **extra)
    pcx_id = pcx["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    world.peerings.append(pcx_id)
    if number % 17 == 0:
        return  # pending: peerkeeper will accept it
    clients[accepter.region].accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
    sides = [(requester, accepter), (accepter, requester)]
    if number % 13 == 0:
        sides = []
    elif number % 9 == 0:
        sides = sides[:1]
    for own, peer in sides:
        clients[own.region].create_route(
            RouteTableId=own.main_table, DestinationCidrBlock=peer.cidr, VpcPeeringConnectionId=pcx_id
        )


def build_large_world() -> LargeWorld:
    clients = {region: boto3.client("ec2", region_name=region) for region in REGIONS}
    world = LargeWorld()
    hubs: dict[str, Vpc] = {}
    for region, teams in REGIONS.items():
        ec2 = clients[region]
        hubs[region] = hub = _vpc(ec2, world, f"shared-services-{region.split('-')[0]}", region)
        for team in range(1, teams + 1):
            made = {role: _vpc(ec2, world, f"team-{team:02d}-{role}-{region.split('-')[0]}", region) for role in ROLES}
            for left, right in TEAM_LINKS:
                _peer(clients, world, made[left], made[right])
            _peer(clients, world, hub, made["tools"])
    regions = list(REGIONS)
    for left, right in itertools.pairwise(regions):
        _peer(clients, world, hubs[left], hubs[right])
    _conflict(clients["us-east-1"], world)
    _strangers(world)
    _flow_logs(clients, world)
    return world


def _conflict(ec2: Any, world: LargeWorld) -> None:
    """team-01-prod's main table sends team-01-data's CIDR to an internet gateway, not the connection."""
    prod, data = world.vpcs["team-01-prod-us"], world.vpcs["team-01-data-us"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=prod.id)
    ec2.replace_route(RouteTableId=prod.main_table, DestinationCidrBlock=data.cidr, GatewayId=gateway)


def _strangers(world: LargeWorld) -> None:
    targets = [world.vpcs["shared-services-us"], world.vpcs["team-03-prod-us"]]
    for number, account in enumerate(STRANGERS):
        ec2 = other_account_client("ec2", account)
        vpc = ec2.create_vpc(CidrBlock=f"172.{20 + number}.0.0/16")["Vpc"]["VpcId"]
        target = targets[number]
        ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=target.id, PeerOwnerId=ACCOUNT)


def _flow_logs(clients: dict[str, Any], world: LargeWorld) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/flow-log-role"
    for region, ec2 in clients.items():
        boto3.client("logs", region_name=region).create_log_group(logGroupName="flow-logs-group")
        ids = [v.id for n, v in enumerate(world.vpcs.values()) if v.region == region and n % 11 != 5]
        ec2.create_flow_logs(
            ResourceIds=ids,
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName="flow-logs-group",
            DeliverLogsPermissionArn=role,
        )
