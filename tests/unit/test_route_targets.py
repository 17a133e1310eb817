"""Every target field of botocore's ``Route`` shape is read, table-driven from the service model.

moto produces only a few of these (never ``OdbNetworkArn``, ``CoreNetworkArn``, ``IpAddress``,
state ``filtered`` or origin ``Advertisement``): the routes here are shaped like DescribeRouteTables
answers, field names taken from the model botocore ships, so a target type AWS adds later fails
``test_every_field_of_the_route_shape_is_classified`` until someone decides what it is.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from peerkeeper.inventory import ROUTE_NON_TARGET_KEYS, ROUTE_TARGET_KEYS, parse_route, parse_route_table

ROUTE_SHAPE: Any = botocore.session.get_session().get_service_model("ec2").shape_for("Route")
MODEL_TARGETS = sorted(set(ROUTE_SHAPE.members) - ROUTE_NON_TARGET_KEYS)

# A realistic value for each target field (ids and ARNs as DescribeRouteTables returns them).
EXAMPLES = {
    "VpcPeeringConnectionId": "pcx-0a1b2c3d4e5f60003",
    "GatewayId": "igw-0a1b2c3d4e5f60010",
    "InstanceId": "i-0a1b2c3d4e5f60011",
    "NetworkInterfaceId": "eni-0a1b2c3d4e5f60012",
    "NatGatewayId": "nat-0a1b2c3d4e5f60013",
    "TransitGatewayId": "tgw-0a1b2c3d4e5f60014",
    "LocalGatewayId": "lgw-0a1b2c3d4e5f60015",
    "CarrierGatewayId": "cagw-0a1b2c3d4e5f60016",
    "EgressOnlyInternetGatewayId": "eigw-0a1b2c3d4e5f60017",
    "CoreNetworkArn": "arn:aws:networkmanager::111122223333:core-network/core-network-0a1b2c3d4e5f6",
    "OdbNetworkArn": "arn:aws:odb:us-east-1:111122223333:odb-network/odbnet_0a1b2c3d",
    "VpcEndpointId": "vpce-0a1b2c3d4e5f60018",
    "IpAddress": "10.0.3.7",
}


def test_every_field_of_the_route_shape_is_classified():
    assert set(ROUTE_SHAPE.members) <= set(ROUTE_TARGET_KEYS) | ROUTE_NON_TARGET_KEYS, (
        "botocore's Route shape has a field peerkeeper does not know: is it a target?"
    )


@pytest.mark.parametrize("field", MODEL_TARGETS)
def test_every_target_field_of_the_model_is_read(field):
    route = parse_route({"DestinationCidrBlock": "10.1.0.0/16", field: EXAMPLES[field], "State": "active"})

    assert route is not None
    assert route.target == EXAMPLES[field]


def test_a_gateway_load_balancer_endpoint_reads_back_as_gateway_id():
    """CreateRoute takes VpcEndpointId; DescribeRouteTables answers GatewayId vpce-... (no VpcEndpointId)."""
    assert "VpcEndpointId" not in ROUTE_SHAPE.members
    route = parse_route({"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "vpce-0a1b2c3d4e5f60018"})

    assert route is not None
    assert route.target == "vpce-0a1b2c3d4e5f60018"


def test_a_nat_instance_route_reads_as_the_instance():
    item = {
        "DestinationCidrBlock": "0.0.0.0/0",
        "InstanceId": "i-0a1b2c3d4e5f60011",
        "InstanceOwnerId": "111122223333",
        "NetworkInterfaceId": "eni-0a1b2c3d4e5f60012",
        "Origin": "CreateRoute",
        "State": "blackhole",
    }

    route = parse_route(item)

    assert route is not None
    assert (route.target, route.state, route.origin) == ("i-0a1b2c3d4e5f60011", "blackhole", "CreateRoute")


def test_route_server_route_keeps_its_state_and_origin():
    item = {
        "DestinationCidrBlock": "10.1.0.0/16",
        "IpAddress": "10.0.3.7",
        "Origin": "Advertisement",
        "State": "filtered",
    }

    route = parse_route(item)

    assert route is not None
    assert (route.target, route.state, route.origin) == ("10.0.3.7", "filtered", "Advertisement")


def test_an_unknown_target_field_is_read_as_the_target():
    route = parse_route({"DestinationCidrBlock": "10.1.0.0/16", "FutureGatewayId": "fgw-0123", "State": "active"})

    assert route is not None
    assert route.target == "fgw-0123"


def test_a_route_without_any_target_has_an_empty_one():
    route = parse_route({"DestinationCidrBlock": "10.1.0.0/16", "Origin": "Advertisement", "State": "filtered"})

    assert route is not None
    assert route.target == ""


def test_igw_firewall_is_not_the_target():
    item = {
        "DestinationCidrBlock": "0.0.0.0/0",
        "GatewayId": "igw-0a1b2c3d4e5f60010",
        "IgwFirewall": {
            "FirewallArn": "arn:aws:network-firewall:us-east-1:111122223333:firewall/f",
            "Status": "active",
        },
    }

    route = parse_route(item)

    assert route is not None
    assert route.target == "igw-0a1b2c3d4e5f60010"


def test_prefix_list_routes_keep_their_list_id_as_destination():
    """Issue 18: a prefix-list route is an aggregate like a CIDR route, so it is parsed, not dropped."""
    route = parse_route({"DestinationPrefixListId": "pl-63a5400a", "GatewayId": "vpce-0a1b2c3d4e5f60018"})

    assert route is not None
    assert (route.destination, route.prefix_list, route.target) == (
        "pl-63a5400a",
        "pl-63a5400a",
        "vpce-0a1b2c3d4e5f60018",
    )
    assert parse_route({"DestinationCidrBlock": "10.0.0.0/8", "TransitGatewayId": "tgw-1"}).prefix_list == ""  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("associations", "edge"),
    [
        ([{"Main": False, "GatewayId": "igw-0a1", "AssociationState": {"State": "associated"}}], ("igw-0a1",)),
        ([{"Main": False, "GatewayId": "vgw-0b2", "AssociationState": {"State": "associating"}}], ("vgw-0b2",)),
        ([{"Main": False, "GatewayId": "igw-0a1", "AssociationState": {"State": "disassociated"}}], ()),
        ([{"Main": False, "SubnetId": "subnet-0c3", "AssociationState": {"State": "associated"}}], ()),
        ([{"Main": True, "AssociationState": {"State": "associated"}}], ()),
        ([], ()),
    ],
)
def test_edge_associations_mark_gateway_route_tables(associations, edge):
    table = parse_route_table(
        {"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Routes": [], "Associations": associations}, "r"
    )

    assert table.edge_gateways == edge
