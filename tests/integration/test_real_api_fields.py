"""Fields real AWS returns and moto omits: CidrBlockSet, Ipv6CidrBlockSet, blackhole routes.

moto 5.2 leaves ``CidrBlockSet``/``Ipv6CidrBlockSet`` out of a peering's VPC info and never marks a
route ``blackhole`` (see shared/reference/moto-gaps.md), so these tests use botocore's Stubber with
responses shaped like AWS's documented ones, and run the real ``lambda_handler`` on top of them.
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from peerkeeper.clients import default_clients
from tests.support import ACCOUNT, handler, load_event

OTHER = "210987654321"
WEB, REMOTE = "vpc-0a1b2c3d4e5f60001", "vpc-0b9e8d7c6b5a40001"
PCX, OLD_PCX = "pcx-0a1b2c3d4e5f60003", "pcx-0ffffffffffff0001"
TABLE = "rtb-0a1b2c3d4e5f60004"
WEB_V6, REMOTE_V6 = "2600:1f18:aaaa:100::/56", "2600:1f18:bbbb:200::/56"


def peering_response(status: str = "active") -> dict:
    return {
        "VpcPeeringConnections": [
            {
                "AccepterVpcInfo": {
                    "CidrBlock": "10.0.0.0/16",
                    "CidrBlockSet": [{"CidrBlock": "10.0.0.0/16"}],
                    "Ipv6CidrBlockSet": [{"Ipv6CidrBlock": WEB_V6}],
                    "OwnerId": ACCOUNT,
                    "PeeringOptions": {"AllowDnsResolutionFromRemoteVpc": False},
                    "VpcId": WEB,
                    "Region": "us-east-1",
                },
                "RequesterVpcInfo": {
                    "CidrBlock": "10.5.0.0/16",
                    "CidrBlockSet": [{"CidrBlock": "10.5.0.0/16"}, {"CidrBlock": "10.6.0.0/16"}],
                    "Ipv6CidrBlockSet": [{"Ipv6CidrBlock": REMOTE_V6}],
                    "OwnerId": OTHER,
                    "PeeringOptions": {"AllowDnsResolutionFromRemoteVpc": False},
                    "VpcId": REMOTE,
                    "Region": "us-east-1",
                },
                "Status": {"Code": status, "Message": status.capitalize()},
                "Tags": [],
                "VpcPeeringConnectionId": PCX,
            }
        ]
    }


VPCS_RESPONSE = {
    "Vpcs": [
        {
            "CidrBlock": "10.0.0.0/16",
            "CidrBlockAssociationSet": [
                {
                    "AssociationId": "vpc-cidr-assoc-1",
                    "CidrBlock": "10.0.0.0/16",
                    "CidrBlockState": {"State": "associated"},
                }
            ],
            "Ipv6CidrBlockAssociationSet": [
                {
                    "AssociationId": "vpc-cidr-assoc-2",
                    "Ipv6CidrBlock": WEB_V6,
                    "Ipv6CidrBlockState": {"State": "associated"},
                    "NetworkBorderGroup": "us-east-1",
                    "Ipv6Pool": "Amazon",
                }
            ],
            "DhcpOptionsId": "dopt-1",
            "InstanceTenancy": "default",
            "IsDefault": False,
            "OwnerId": ACCOUNT,
            "State": "available",
            "Tags": [{"Key": "Name", "Value": "web-vpc"}],
            "VpcId": WEB,
        }
    ]
}

TABLES_RESPONSE = {
    "RouteTables": [
        {
            "Associations": [],
            "OwnerId": ACCOUNT,
            "PropagatingVgws": [],
            "RouteTableId": TABLE,
            "Routes": [
                {
                    "DestinationCidrBlock": "10.0.0.0/16",
                    "GatewayId": "local",
                    "Origin": "CreateRouteTable",
                    "State": "active",
                },
                {
                    "DestinationCidrBlock": "10.5.0.0/16",
                    "VpcPeeringConnectionId": OLD_PCX,
                    "Origin": "CreateRoute",
                    "State": "blackhole",
                },
                {
                    "DestinationIpv6CidrBlock": WEB_V6,
                    "GatewayId": "local",
                    "Origin": "CreateRouteTable",
                    "State": "active",
                },
            ],
            "Tags": [],
            "VpcId": WEB,
        }
    ]
}


@pytest.fixture(autouse=True)
def _peer_account_listed(configure):
    """The peer is in another account: routes follow only a trusted connection (its account listed)."""
    configure(ALLOWED_PEER_ACCOUNTS=f"{ACCOUNT},{OTHER}")


@pytest.fixture
def stubbed_ec2():
    ec2 = default_clients().ec2("us-east-1")
    with Stubber(ec2) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_cidr_sets_and_blackhole_route_from_the_real_api(stubbed_ec2, lambda_context):
    stubbed_ec2.add_response(
        "describe_vpc_peering_connections",
        peering_response(),
        {"Filters": [{"Name": "vpc-peering-connection-id", "Values": [PCX]}]},
    )
    stubbed_ec2.add_response("describe_vpcs", VPCS_RESPONSE, {"Filters": [{"Name": "vpc-id", "Values": [WEB]}]})
    stubbed_ec2.add_response(
        "describe_route_tables", TABLES_RESPONSE, {"Filters": [{"Name": "vpc-id", "Values": [WEB]}]}
    )
    # The blackhole route is replaced, the secondary CIDR and the IPv6 CIDR of the peer are created.
    stubbed_ec2.add_response(
        "replace_route",
        {},
        {"RouteTableId": TABLE, "DestinationCidrBlock": "10.5.0.0/16", "VpcPeeringConnectionId": PCX},
    )
    stubbed_ec2.add_response(
        "create_route",
        {"Return": True},
        {"RouteTableId": TABLE, "DestinationCidrBlock": "10.6.0.0/16", "VpcPeeringConnectionId": PCX},
    )
    stubbed_ec2.add_response(
        "create_route",
        {"Return": True},
        {"RouteTableId": TABLE, "DestinationIpv6CidrBlock": REMOTE_V6, "VpcPeeringConnectionId": PCX},
    )

    summary = handler("repair_routes")(load_event("repair_routes__AcceptVpcPeeringConnection"), lambda_context)

    assert [(a["kind"], a["outcome"]) for a in summary["actions"]] == [
        ("replace-route", "done"),
        ("create-route", "done"),
        ("create-route", "done"),
    ]


def test_ipv6_only_on_the_peer_gives_no_ipv6_route(stubbed_ec2, lambda_context):
    ipv4_only = {"Vpcs": [{**VPCS_RESPONSE["Vpcs"][0], "Ipv6CidrBlockAssociationSet": []}]}
    table = {
        "RouteTables": [
            {**TABLES_RESPONSE["RouteTables"][0], "Routes": TABLES_RESPONSE["RouteTables"][0]["Routes"][:1]}
        ]
    }
    stubbed_ec2.add_response("describe_vpc_peering_connections", peering_response())
    stubbed_ec2.add_response("describe_vpcs", ipv4_only)
    stubbed_ec2.add_response("describe_route_tables", table)
    for cidr in ("10.5.0.0/16", "10.6.0.0/16"):
        stubbed_ec2.add_response(
            "create_route",
            {"Return": True},
            {"RouteTableId": TABLE, "DestinationCidrBlock": cidr, "VpcPeeringConnectionId": PCX},
        )

    summary = handler("repair_routes")(load_event("repair_routes__AcceptVpcPeeringConnection"), lambda_context)

    assert [a["kind"] for a in summary["actions"]] == ["create-route", "create-route"]
