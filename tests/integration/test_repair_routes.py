"""repair_routes end to end: the real lambda_handler with every events/ sample, moto as AWS."""

from __future__ import annotations

import pytest

from tests.support import ec2_client, event_names, handler, load_event, request_peering, routes_of

repair = handler("repair_routes")
REPAIR_EVENTS = event_names("repair_routes__")


@pytest.fixture
def peered(lab):
    """The lab with api-vpc peered to web-vpc (accepted by hand, no routes yet)."""
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    lab.pcx = pcx
    return lab


def event_for(lab, name: str, table: str | None = None) -> dict:
    return load_event(
        name,
        web_vpc=lab.web_vpc,
        api_vpc=lab.api_vpc,
        peering=lab.pcx,
        route_table=table or lab.web_tables[-1],
        subnet=lab.web_subnet,
    )


def assert_fully_routed(lab) -> None:
    ec2 = ec2_client()
    for table in lab.web_tables:
        assert routes_of(ec2, table)["10.1.0.0/16"] == lab.pcx, table
    for table in lab.api_tables:
        assert routes_of(ec2, table)["10.0.0.0/16"] == lab.pcx, table


def test_accept_event_routes_every_table_of_both_sides(peered, lambda_context):
    summary = repair(event_for(peered, "repair_routes__AcceptVpcPeeringConnection"), lambda_context)

    assert_fully_routed(peered)
    assert sorted(a["resource"] for a in summary["actions"]) == sorted(peered.tables)


def test_deleted_route_is_restored(peered, lambda_context):
    repair(event_for(peered, "repair_routes__AcceptVpcPeeringConnection"), lambda_context)
    table = peered.web_tables[-1]
    ec2_client().delete_route(RouteTableId=table, DestinationCidrBlock="10.1.0.0/16")

    summary = repair(event_for(peered, "repair_routes__DeleteRoute", table), lambda_context)

    assert routes_of(ec2_client(), table)["10.1.0.0/16"] == peered.pcx
    assert [(a["kind"], a["resource"]) for a in summary["actions"]] == [("create-route", table)]


def test_new_route_table_gets_its_route(peered, lambda_context):
    repair(event_for(peered, "repair_routes__AcceptVpcPeeringConnection"), lambda_context)
    table = ec2_client().create_route_table(VpcId=peered.web_vpc)["RouteTable"]["RouteTableId"]

    repair(event_for(peered, "repair_routes__CreateRouteTable", table), lambda_context)

    assert routes_of(ec2_client(), table)["10.1.0.0/16"] == peered.pcx


def test_secondary_cidr_of_the_peer_is_routed(peered, lambda_context):
    repair(event_for(peered, "repair_routes__AcceptVpcPeeringConnection"), lambda_context)
    ec2_client().associate_vpc_cidr_block(VpcId=peered.api_vpc, CidrBlock="10.2.0.0/16")

    summary = repair(event_for(peered, "repair_routes__AssociateVpcCidrBlock"), lambda_context)

    for table in peered.web_tables:
        assert routes_of(ec2_client(), table)["10.2.0.0/16"] == peered.pcx
    assert {a["resource"] for a in summary["actions"]} == set(peered.web_tables)


def test_route_replaced_by_hand_to_a_live_target_is_a_reported_conflict(peered, lambda_context):
    repair(event_for(peered, "repair_routes__AcceptVpcPeeringConnection"), lambda_context)
    ec2 = ec2_client()
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=peered.web_vpc)
    table = peered.web_tables[-1]
    ec2.replace_route(RouteTableId=table, DestinationCidrBlock="10.1.0.0/16", GatewayId=igw)

    summary = repair(event_for(peered, "repair_routes__ReplaceRoute", table), lambda_context)

    assert routes_of(ec2, table)["10.1.0.0/16"] == igw
    assert summary["actions"] == []
    assert summary["conflicts"][0]["resource"] == table
    assert summary["conflicts"][0]["target"] == igw


def test_stale_route_to_a_deleted_connection_is_replaced(peered, lambda_context):
    """moto keeps such a route 'active': the target's status is what makes it dead."""
    ec2 = ec2_client()
    old = request_peering(ec2, peered.api_vpc, peered.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=old)
    table = peered.web_tables[-1]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=old)
    ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=old)

    summary = repair(event_for(peered, "repair_routes__AssociateRouteTable", table), lambda_context)

    assert routes_of(ec2, table)["10.1.0.0/16"] == peered.pcx
    assert [(a["kind"], a["resource"]) for a in summary["actions"]] == [("replace-route", table)]


def test_ignored_route_table_gets_no_route(peered, lambda_context):
    ec2 = ec2_client()
    ignored = peered.web_tables[-1]
    ec2.create_tags(Resources=[ignored], Tags=[{"Key": "peerkeeper:ignore", "Value": "true"}])

    repair(event_for(peered, "repair_routes__AcceptVpcPeeringConnection"), lambda_context)

    assert "10.1.0.0/16" not in routes_of(ec2, ignored)
    assert routes_of(ec2, peered.web_tables[0])["10.1.0.0/16"] == peered.pcx


def test_third_vpc_is_never_routed(peered, lambda_context):
    ec2 = ec2_client()
    third = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    third_table = ec2.create_route_table(VpcId=third)["RouteTable"]["RouteTableId"]

    repair(event_for(peered, "repair_routes__AcceptVpcPeeringConnection"), lambda_context)

    assert routes_of(ec2, third_table) == {"10.9.0.0/16": "local"}
    assert all("10.9.0.0/16" not in routes_of(ec2, t) for t in peered.tables)


@pytest.mark.parametrize("name", REPAIR_EVENTS)
def test_every_event_converges_and_its_replay_makes_no_mutating_call(peered, calls, lambda_context, name):
    event = event_for(peered, name)
    ec2_client().associate_vpc_cidr_block(VpcId=peered.api_vpc, CidrBlock="10.2.0.0/16")
    repair(event_for(peered, "repair_routes__AcceptVpcPeeringConnection"), lambda_context)
    calls.clear()

    first = repair(event, lambda_context)
    second = repair(event, lambda_context)

    assert first["actions"] == second["actions"] == []
    assert calls.mutating == []
    assert_fully_routed(peered)


@pytest.mark.parametrize("name", REPAIR_EVENTS)
def test_dry_run_makes_no_mutating_call_and_returns_the_plan(peered, calls, configure, lambda_context, name):
    configure(PEERKEEPER_MODE="dry-run")

    summary = repair(event_for(peered, name), lambda_context)

    assert calls.mutating == []
    assert summary["mode"] == "dry-run"
    assert summary["actions"], "every sample event leads to the unrouted lab tables"
    assert {a["outcome"] for a in summary["actions"]} == {"planned"}
    assert "10.1.0.0/16" not in routes_of(ec2_client(), peered.web_tables[0])


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("repair_routes__DeleteRoute", {"route_table": "rtb-0000000000000dead"}),
        ("repair_routes__AcceptVpcPeeringConnection", {"peering": "pcx-0000000000000dead"}),
        ("repair_routes__AssociateVpcCidrBlock", {"api_vpc": "vpc-0000000000000dead"}),
    ],
)
def test_event_for_a_vanished_resource_returns_normally(peered, calls, lambda_context, name, missing):
    ids = {"web_vpc": peered.web_vpc, "api_vpc": peered.api_vpc, "peering": peered.pcx, **missing}

    summary = repair(load_event(name, **ids), lambda_context)

    assert summary["actions"] == []
    assert calls.mutating == []
