"""The guardrail never widens access: each attack of issue 9, through the real handlers, moto as AWS.

Trust (ALLOWED_PEER_ACCOUNTS/VPCS today, both directions), ALLOWED_PEER_CIDRS, aggregates, dead
routes and gateway route tables. Where moto cannot show what AWS does (a route never goes
``blackhole`` in moto), the ``DescribeRouteTables`` answer is rewritten in an ``after-call`` hook on
peerkeeper's own session, and the test says so.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from peerkeeper.clients import default_clients
from tests.support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    REGION,
    build_vpc,
    ec2_client,
    handler,
    load_event,
    other_account_client,
    peering_status,
    request_peering,
    routes_of,
)

accept, repair, sweep = handler("accept_peering"), handler("repair_routes"), handler("sweep")
PUBLIC_BLOCK = "52.94.0.0/16"  # publicly routable: AWS lets a VPC associate it as a secondary block


def lab_event(lab: Any, name: str, pcx: str, table: str | None = None) -> dict[str, Any]:
    return load_event(
        name,
        web_vpc=lab.web_vpc,
        api_vpc=lab.api_vpc,
        peering=pcx,
        route_table=table or lab.web_tables[-1],
        subnet=lab.web_subnet,
    )


@pytest.fixture
def accepted(lab, lambda_context):
    """api-vpc (10.1.0.0/16) peered with web-vpc through accept_peering: accepted and routed."""
    pcx = request_peering(ec2_client(), lab.api_vpc, lab.web_vpc)
    accept(lab_event(lab, "accept_peering__CreateVpcPeeringConnection", pcx), lambda_context)
    assert all(routes_of(ec2_client(), t)["10.1.0.0/16"] == pcx for t in lab.web_tables)
    lab.pcx = pcx
    return lab


@pytest.fixture
def peered(lab):
    """api-vpc peered with web-vpc by hand, no routes yet."""
    ec2 = ec2_client()
    lab.pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    return lab


def conflicts_for(summary: dict[str, Any], destination: str) -> dict[str, dict[str, Any]]:
    """table -> conflict, for the conflicts about ``destination``."""
    return {c["resource"]: c for c in summary.get("conflicts", []) if c.get("destination") == destination}


def network_interface(subnet: str) -> str:
    return str(ec2_client().create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"])


# -- ALLOWED_PEER_CIDRS -------------------------------------------------------------------------
def test_public_block_associated_after_acceptance_is_not_routed_and_is_reported(accepted, lambda_context):
    """A compromised allowlisted peer associates a public block: no table may send it that traffic."""
    ec2 = ec2_client()
    ec2.associate_vpc_cidr_block(VpcId=accepted.api_vpc, CidrBlock=PUBLIC_BLOCK)

    summary = repair(lab_event(accepted, "repair_routes__AssociateVpcCidrBlock", accepted.pcx), lambda_context)

    assert summary["actions"] == []
    for table in accepted.web_tables:
        assert PUBLIC_BLOCK not in routes_of(ec2, table), table
        assert routes_of(ec2, table)["10.1.0.0/16"] == accepted.pcx  # the private block stays routed
    reported = conflicts_for(summary, PUBLIC_BLOCK)
    assert set(reported) == set(accepted.web_tables)
    for table, conflict in reported.items():
        assert conflict["cause"] == "cidr-not-allowed"
        assert table in conflict["reason"]
        assert f"{PUBLIC_BLOCK} is outside ALLOWED_PEER_CIDRS" in conflict["reason"]


def test_narrower_allowed_peer_cidrs_refuse_the_request_at_acceptance(lab, configure, calls, lambda_context):
    configure(ALLOWED_PEER_CIDRS="10.0.0.0/16,192.168.0.0/16")
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    calls.clear()

    summary = accept(lab_event(lab, "accept_peering__CreateVpcPeeringConnection", pcx), lambda_context)

    assert peering_status(ec2, pcx) == "pending-acceptance"
    assert calls.mutating == []
    (refusal,) = summary["refused"]
    assert refusal["resource"] == pcx
    assert refusal["reason"] == "requester CIDR 10.1.0.0/16 is outside ALLOWED_PEER_CIDRS"
    assert all("10.1.0.0/16" not in routes_of(ec2, t) for t in lab.web_tables)


def test_requester_with_a_public_secondary_block_is_refused_at_acceptance(lab, lambda_context):
    ec2 = ec2_client()
    ec2.associate_vpc_cidr_block(VpcId=lab.api_vpc, CidrBlock=PUBLIC_BLOCK)
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)

    summary = accept(lab_event(lab, "accept_peering__CreateVpcPeeringConnection", pcx), lambda_context)

    assert peering_status(ec2, pcx) == "pending-acceptance"
    assert summary["refused"][0]["reason"] == f"requester CIDR {PUBLIC_BLOCK} is outside ALLOWED_PEER_CIDRS"


# -- trust ------------------------------------------------------------------------------------
def test_connection_accepted_by_hand_from_an_unlisted_account_gets_no_route(lab, lambda_context):
    partner = other_account_client("ec2")
    partner_vpc, _, _ = build_vpc(partner, "10.5.0.0/16", "partner-vpc")
    pcx = request_peering(partner, partner_vpc, lab.web_vpc, PeerOwnerId=ACCOUNT)
    ec2 = ec2_client()
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)  # someone here, by hand

    summary = repair(lab_event(lab, "repair_routes__AcceptVpcPeeringConnection", pcx), lambda_context)

    assert peering_status(ec2, pcx) == "active"
    assert summary["actions"] == []
    assert all("10.5.0.0/16" not in routes_of(ec2, t) for t in lab.web_tables)
    reported = conflicts_for(summary, "10.5.0.0/16")
    assert set(reported) == set(lab.web_tables)
    for conflict in reported.values():
        assert conflict["cause"] == "untrusted-peer"
        assert f"peer account {OTHER_ACCOUNT} is not in ALLOWED_PEER_ACCOUNTS" in conflict["reason"]


def test_outgoing_connection_to_an_unlisted_account_is_routed_only_once_listed(lab, configure, lambda_context):
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName="flow-logs-group")
    partner = other_account_client("ec2")
    partner_vpc, _, _ = build_vpc(partner, "10.5.0.0/16", "vendor-vpc")
    pcx = request_peering(ec2_client(), lab.api_vpc, partner_vpc, PeerOwnerId=OTHER_ACCOUNT)
    partner.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)  # the vendor accepts
    ec2 = ec2_client()
    schedule = load_event("sweep__Scheduled")

    unlisted = sweep(schedule, lambda_context)

    assert all("10.5.0.0/16" not in routes_of(ec2, t) for t in lab.api_tables)
    assert set(conflicts_for(unlisted, "10.5.0.0/16")) == set(lab.api_tables)
    assert not [a for a in unlisted["actions"] if a["kind"] == "create-route" and a["resource"] in lab.api_tables]

    configure(ALLOWED_PEER_ACCOUNTS=f"{ACCOUNT},{OTHER_ACCOUNT}")
    listed = sweep(schedule, lambda_context)

    assert all(routes_of(ec2, t)["10.5.0.0/16"] == pcx for t in lab.api_tables)
    assert conflicts_for(listed, "10.5.0.0/16") == {}


def test_an_unlisted_vpc_is_not_trusted_when_allowed_peer_vpcs_is_set(peered, configure, lambda_context):
    configure(ALLOWED_PEER_VPCS="vpc-0000000000000beef")

    summary = repair(lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx), lambda_context)

    assert summary["actions"] == []
    assert all("10.1.0.0/16" not in routes_of(ec2_client(), t) for t in peered.web_tables)
    assert f"peer VPC {peered.api_vpc} is not in ALLOWED_PEER_VPCS" in summary["conflicts"][0]["reason"]


# -- aggregates -------------------------------------------------------------------------------
def test_aggregate_to_a_network_interface_is_a_conflict_unless_route_over_aggregates(peered, configure, lambda_context):
    """10.0.0.0/8 -> an inspection appliance in one table, 0.0.0.0/0 -> internet in the other."""
    ec2 = ec2_client()
    eni = network_interface(peered.web_subnet)
    inspected, other = peered.web_tables[-1], peered.web_tables[0]
    ec2.create_route(RouteTableId=inspected, DestinationCidrBlock="10.0.0.0/8", NetworkInterfaceId=eni)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=peered.web_vpc)
    ec2.create_route(RouteTableId=other, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    event = lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx)

    default = repair(event, lambda_context)

    assert "10.1.0.0/16" not in routes_of(ec2, inspected)
    assert routes_of(ec2, other)["10.1.0.0/16"] == peered.pcx  # 0.0.0.0/0 never counts as an aggregate
    (conflict,) = conflicts_for(default, "10.1.0.0/16").values()
    assert conflict["resource"] == inspected
    assert conflict["cause"] == "inside-aggregate"
    assert conflict["target"] == eni
    assert f"inside 10.0.0.0/8 routed to {eni}" in conflict["reason"]

    configure(ROUTE_OVER_AGGREGATES="true")
    allowed = repair(event, lambda_context)

    assert routes_of(ec2, inspected)["10.1.0.0/16"] == peered.pcx
    assert routes_of(ec2, inspected)["10.0.0.0/8"] == ""  # the aggregate is untouched (target: an ENI)
    assert [(a["kind"], a["resource"]) for a in allowed["actions"]] == [("create-route", inspected)]


# -- dead routes --------------------------------------------------------------------------------
def blackhole(destination: str):
    """An ``after-call`` hook: the route for ``destination`` reads ``blackhole``, as AWS reports a
    route whose target is gone (moto never does: see shared/reference/moto-gaps.md)."""

    def rewrite(parsed: dict[str, Any], **_: Any) -> None:
        for table in parsed.get("RouteTables", []):
            for route in table.get("Routes", []):
                if route.get("DestinationCidrBlock") == destination:
                    route["State"] = "blackhole"

    return rewrite


def test_blackhole_route_to_a_network_interface_is_never_replaced(peered, calls, lambda_context):
    """A stopped inspection appliance must not be bypassed by a direct peering route."""
    ec2 = ec2_client()
    eni = network_interface(peered.web_subnet)
    inspected = peered.web_tables[-1]
    ec2.create_route(RouteTableId=inspected, DestinationCidrBlock="10.1.0.0/16", NetworkInterfaceId=eni)
    default_clients().session.events.register("after-call.ec2.DescribeRouteTables", blackhole("10.1.0.0/16"))

    summary = repair(lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx), lambda_context)

    described = ec2.describe_route_tables(RouteTableIds=[inspected])["RouteTables"][0]["Routes"]
    assert [r.get("NetworkInterfaceId") for r in described if r.get("DestinationCidrBlock") == "10.1.0.0/16"] == [eni]
    assert ("ReplaceRoute", inspected) not in {(name, p.get("RouteTableId")) for name, p in calls.calls}
    (conflict,) = conflicts_for(summary, "10.1.0.0/16").values()
    assert conflict["resource"] == inspected
    assert conflict["cause"] == "blackhole-other-target"
    assert f"a blackhole route to {eni} exists" in conflict["reason"]
    assert routes_of(ec2, peered.web_tables[0])["10.1.0.0/16"] == peered.pcx  # the other table is repaired


def test_blackhole_route_to_an_old_peering_connection_is_replaced(peered, lambda_context):
    ec2 = ec2_client()
    old = request_peering(ec2, peered.api_vpc, peered.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=old)
    table = peered.web_tables[-1]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=old)
    default_clients().session.events.register("after-call.ec2.DescribeRouteTables", blackhole("10.1.0.0/16"))

    summary = repair(lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx), lambda_context)

    assert routes_of(ec2, table)["10.1.0.0/16"] == peered.pcx
    assert ("replace-route", table) in {(a["kind"], a["resource"]) for a in summary["actions"]}


# -- gateway route tables ---------------------------------------------------------------------
def test_gateway_route_table_gets_no_peering_route(peered, lambda_context):
    """A table edge-associated with an internet gateway takes only local, GWLB endpoint or ENI targets."""
    ec2 = ec2_client()
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=peered.web_vpc)
    edge = ec2.create_route_table(VpcId=peered.web_vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=edge, GatewayId=igw)

    summary = repair(lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx), lambda_context)

    assert "10.1.0.0/16" not in routes_of(ec2, edge)
    assert all(routes_of(ec2, t)["10.1.0.0/16"] == peered.pcx for t in peered.web_tables)
    assert edge not in {a["resource"] for a in summary["actions"]}
    assert edge not in {c["resource"] for c in summary.get("conflicts", [])}
