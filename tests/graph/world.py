"""Worlds for the graph tests: the small one the issue names, and a generated one of 200 VPCs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support import ACCOUNT, build_vpc, ec2_client, other_account_client, request_peering


@dataclass
class World:
    """web <-> api routed; web <-> db drifted (3 routes missing); a refused request from another account."""

    vpcs: dict[str, str]  # name -> id
    cidrs: dict[str, str]  # name -> CIDR
    routed: str
    drifted: str
    refused: str


def _routes(ec2: Any, tables: list[str], destination: str, pcx: str) -> None:
    for table in tables:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock=destination, VpcPeeringConnectionId=pcx)


def build_world() -> World:
    ec2 = ec2_client()
    cidrs = {"web-vpc": "10.0.0.0/16", "api-vpc": "10.1.0.0/16", "db-vpc": "10.2.0.0/16"}
    built = {name: build_vpc(ec2, cidr, name) for name, cidr in cidrs.items()}
    vpcs = {name: vpc for name, (vpc, _tables, _subnet) in built.items()}
    tables = {name: found for name, (_vpc, found, _subnet) in built.items()}

    routed = request_peering(ec2, vpcs["api-vpc"], vpcs["web-vpc"])
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=routed)
    _routes(ec2, tables["web-vpc"], cidrs["api-vpc"], routed)
    _routes(ec2, tables["api-vpc"], cidrs["web-vpc"], routed)

    drifted = request_peering(ec2, vpcs["web-vpc"], vpcs["db-vpc"])
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=drifted)
    _routes(ec2, tables["web-vpc"][:1], cidrs["db-vpc"], drifted)  # 3 of the 4 routes are missing

    stranger = other_account_client("ec2")
    stranger_vpc = stranger.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    refused = stranger.create_vpc_peering_connection(
        VpcId=stranger_vpc, PeerVpcId=vpcs["web-vpc"], PeerOwnerId=ACCOUNT
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    vpcs["stranger-vpc"] = stranger_vpc
    cidrs["stranger-vpc"] = "10.9.0.0/16"
    return World(vpcs, cidrs, routed, drifted, refused)
