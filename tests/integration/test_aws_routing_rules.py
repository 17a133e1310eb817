"""Issue 18: the guardrail under AWS's real routing rules, through the real handlers and ``plan``.

- A managed prefix list (``10.0.0.0/8`` -> transit gateway) is an aggregate like a CIDR route: AWS
  prefers the longer prefix, so a ``10.1.0.0/16`` peering route would take that traffic from the
  transit gateway. moto keeps prefix-list routes and their entries as AWS does.
- Two trusted peers claiming overlapping addresses, in both orders, at acceptance and in the tables.
- The ignore tag on one region's copy of a same-account cross-region connection. moto keeps one tag
  object for both regions' copies; AWS keeps one per region, so the tests rewrite the accepter
  region's ``DescribeVpcPeeringConnections`` answer (an ``after-call`` hook on peerkeeper's session)
  to drop the tag there, as AWS answers (docs/moto-vs-aws.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from peerkeeper import observability  # noqa: F401  (its logger takes sys.stdout at import: before capsys)
from peerkeeper.cli import app
from peerkeeper.clients import default_clients
from peerkeeper.settings import IGNORE_TAG_KEY
from tests.support import (
    build_vpc,
    ec2_client,
    handler,
    load_event,
    peering_status,
    request_peering,
    routes_of,
)

accept, repair, sweep = handler("accept_peering"), handler("repair_routes"), handler("sweep")
EAST, WEST = "us-east-1", "us-west-2"


def conflicts_about(summary: dict[str, Any], destination: str) -> dict[str, dict[str, Any]]:
    return {c["resource"]: c for c in summary.get("conflicts", []) if c.get("destination") == destination}


# -- managed prefix lists ------------------------------------------------------------------------
@pytest.fixture
def guarded(lab):
    """web-vpc's subnet table sends the corporate ranges (a prefix list) to a transit gateway;
    api-vpc is peered with web-vpc by hand, no routes yet."""
    ec2 = ec2_client()
    lab.prefix_list = ec2.create_managed_prefix_list(
        PrefixListName="corporate", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "10.0.0.0/8"}]
    )["PrefixList"]["PrefixListId"]
    lab.tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    lab.guarded = lab.web_tables[-1]
    ec2.create_route(RouteTableId=lab.guarded, DestinationPrefixListId=lab.prefix_list, TransitGatewayId=lab.tgw)
    lab.pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    return lab


def assert_guarded_table_left_alone(lab: Any, summary: dict[str, Any]) -> None:
    ec2 = ec2_client()
    assert "10.1.0.0/16" not in routes_of(ec2, lab.guarded)
    assert routes_of(ec2, lab.web_tables[0])["10.1.0.0/16"] == lab.pcx  # the other table: routed
    assert all(routes_of(ec2, t)["10.0.0.0/16"] == lab.pcx for t in lab.api_tables)
    (conflict,) = conflicts_about(summary, "10.1.0.0/16").values()
    assert conflict["resource"] == lab.guarded
    assert (conflict["cause"], conflict["target"], conflict["prefix_list"]) == (
        "inside-aggregate",
        lab.tgw,
        lab.prefix_list,
    )
    assert f"inside 10.0.0.0/8 (an entry of prefix list {lab.prefix_list}) routed to {lab.tgw}" in conflict["reason"]


def test_a_prefix_list_entry_guards_its_table_on_the_event_path(guarded, calls, lambda_context):
    event = load_event(
        "repair_routes__AcceptVpcPeeringConnection",
        web_vpc=guarded.web_vpc,
        api_vpc=guarded.api_vpc,
        peering=guarded.pcx,
    )

    summary = repair(event, lambda_context)

    assert_guarded_table_left_alone(guarded, summary)
    reads = [params["body"]["PrefixListId"] for name, params in calls.calls if name == "GetManagedPrefixListEntries"]
    assert reads == [guarded.prefix_list]  # one read of the list


def test_a_prefix_list_entry_guards_its_table_in_the_sweep(guarded, calls, lambda_context):
    summary = sweep(load_event("sweep__Scheduled"), lambda_context)

    assert_guarded_table_left_alone(guarded, summary)
    assert calls.operations.count("GetManagedPrefixListEntries") == 1


def test_plan_reports_the_prefix_list_conflict_with_the_list_id(guarded, capsys):
    capsys.readouterr()
    assert app.main(["plan", "--json", "--region", EAST]) == 2
    doc = json.loads(capsys.readouterr().out)
    routes = doc["concerns"]["routes"]
    planned = {(a["resource"], a["reason"].split(" for ")[-1].split(" via ")[0]) for a in routes["actions"]}
    assert (guarded.guarded, "10.1.0.0/16") not in planned
    assert (guarded.web_tables[0], "10.1.0.0/16") in planned
    (conflict,) = [c for c in routes["conflicts"] if c["resource"] == guarded.guarded]
    assert conflict["prefix_list"] == guarded.prefix_list

    assert app.main(["plan", "--region", EAST]) == 2
    assert guarded.prefix_list in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_shows_prefix_list_routes_with_their_list_id(guarded, capsys, fmt):
    capsys.readouterr()
    assert app.main(["graph", "--region", EAST, "--format", fmt, "--detail", "tables"]) == 0

    out = capsys.readouterr().out
    assert f"prefix list {guarded.prefix_list} → {guarded.tgw}" in out
    assert f"an entry of prefix list {guarded.prefix_list}" in out  # the conflict it causes


def test_an_unreadable_prefix_list_guards_its_table_even_over_aggregates(guarded, configure, lambda_context):
    """AccessDenied on GetManagedPrefixListEntries: moto never refuses it, so peerkeeper's client is
    made to answer as AWS does for a caller without the permission."""
    configure(ROUTE_OVER_AGGREGATES="true")

    def denied(model: Any, **_: Any) -> Any:
        if model.name != "GetManagedPrefixListEntries":
            return None
        error = {"Error": {"Code": "UnauthorizedOperation", "Message": "not authorized"}}
        return type("Response", (), {"status_code": 403, "headers": {}})(), error

    default_clients().session.events.register("before-call.ec2.GetManagedPrefixListEntries", denied)

    summary = sweep(load_event("sweep__Scheduled"), lambda_context)

    assert "10.1.0.0/16" not in routes_of(ec2_client(), guarded.guarded)
    assert routes_of(ec2_client(), guarded.web_tables[0])["10.1.0.0/16"] == guarded.pcx
    (conflict,) = conflicts_about(summary, "10.1.0.0/16").values()
    assert (conflict["cause"], conflict["prefix_list"]) == ("prefix-list-unreadable", guarded.prefix_list)


# -- two peers claiming overlapping addresses ----------------------------------------------------
def peer_vpc(cidr: str, name: str) -> str:
    vpc, _, _ = build_vpc(ec2_client(), cidr, name)
    return vpc


def creation_event(lab: Any, requester: str, pcx: str) -> dict[str, Any]:
    return load_event("accept_peering__CreateVpcPeeringConnection", web_vpc=lab.web_vpc, api_vpc=requester, peering=pcx)


ORDERS = {
    # The attack: an allowlisted peer (10.60.0.0/16) associates 10.50.128.0/17, which is
    # routed; then a legitimate 10.50.0.0/16 asks to peer. And the other way round.
    "attacker-first": (("10.60.0.0/16", "10.50.128.0/17"), ("10.50.0.0/16", None)),
    "legitimate-first": (("10.50.0.0/16", None), ("10.60.0.0/16", "10.50.128.0/17")),
}


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_a_requester_overlapping_another_peer_is_refused_at_acceptance(lab, lambda_context, order):
    (first_cidr, first_extra), (second_cidr, second_extra) = ORDERS[order]
    ec2 = ec2_client()
    first = peer_vpc(first_cidr, "first")
    if first_extra:
        ec2.associate_vpc_cidr_block(VpcId=first, CidrBlock=first_extra)
    first_pcx = request_peering(ec2, first, lab.web_vpc)
    accept(creation_event(lab, first, first_pcx), lambda_context)
    assert peering_status(ec2, first_pcx) == "active"
    second = peer_vpc(second_cidr, "second")
    if second_extra:
        ec2.associate_vpc_cidr_block(VpcId=second, CidrBlock=second_extra)
    second_pcx = request_peering(ec2, second, lab.web_vpc)

    summary = accept(creation_event(lab, second, second_pcx), lambda_context)

    assert peering_status(ec2, second_pcx) == "pending-acceptance"
    (refusal,) = summary["refused"]
    assert refusal["resource"] == second_pcx
    assert first_pcx in refusal["reason"]
    assert "10.50.0.0/16" in refusal["reason"]
    assert "10.50.128.0/17" in refusal["reason"]
    for table in lab.web_tables:
        assert second_pcx not in routes_of(ec2, table).values()


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_an_overlapping_claim_in_a_table_is_a_conflict_naming_both(lab, configure, lambda_context, order):
    """The second connection was accepted by hand: peerkeeper routes only what no other peer claims,
    even with ROUTE_OVER_AGGREGATES=true."""
    configure(ROUTE_OVER_AGGREGATES="true")
    (first_cidr, first_extra), (second_cidr, second_extra) = ORDERS[order]
    ec2 = ec2_client()
    first = peer_vpc(first_cidr, "first")
    if first_extra:
        ec2.associate_vpc_cidr_block(VpcId=first, CidrBlock=first_extra)
    first_pcx = request_peering(ec2, first, lab.web_vpc)
    accept(creation_event(lab, first, first_pcx), lambda_context)
    second = peer_vpc(second_cidr, "second")
    if second_extra:
        ec2.associate_vpc_cidr_block(VpcId=second, CidrBlock=second_extra)
    second_pcx = request_peering(ec2, second, lab.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=second_pcx)

    summary = sweep(load_event("sweep__Scheduled"), lambda_context)

    claimed = "10.50.0.0/16" if order == "attacker-first" else "10.50.128.0/17"
    held = "10.50.128.0/17" if order == "attacker-first" else "10.50.0.0/16"
    reported = conflicts_about(summary, claimed)
    assert set(reported) == set(lab.web_tables)
    for table, conflict in reported.items():
        assert routes_of(ec2, table)[held] == first_pcx
        assert claimed not in routes_of(ec2, table)
        assert (conflict["cause"], conflict["wanted"], conflict["other_peering"]) == (
            "overlapping-peer",
            second_pcx,
            first_pcx,
        )
        assert all(text in conflict["reason"] for text in (claimed, held, first_pcx, second_pcx))


# -- the ignore tag on one region's copy ---------------------------------------------------------
def strip_ignore_tag_in(region: str) -> None:
    """AWS: the accepter region's copy of a connection tagged at creation carries no tag."""

    def strip(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("client_region") != region:
            return
        for connection in parsed.get("VpcPeeringConnections", []):
            connection["Tags"] = [t for t in connection.get("Tags", []) if t.get("Key") != IGNORE_TAG_KEY]

    default_clients().session.events.register("after-call.ec2.DescribeVpcPeeringConnections", strip)


@pytest.fixture
def opted_out(aws):
    """api-vpc (us-east-1) asks web-vpc (us-west-2), the request tagged peerkeeper:ignore in us-east-1."""
    east, west = ec2_client(EAST), ec2_client(WEST)
    api_vpc, api_tables, _ = build_vpc(east, "10.1.0.0/16", "api-vpc")
    web_vpc, web_tables, _ = build_vpc(west, "10.0.0.0/16", "web-vpc")
    tags = [{"ResourceType": "vpc-peering-connection", "Tags": [{"Key": IGNORE_TAG_KEY, "Value": "true"}]}]
    pcx = request_peering(east, api_vpc, web_vpc, PeerRegion=WEST, TagSpecifications=tags)
    return {"pcx": pcx, "api_vpc": api_vpc, "web_vpc": web_vpc, "api_tables": api_tables, "web_tables": web_tables}


def test_an_ignore_tag_in_the_requester_region_only_stops_acceptance(opted_out, lambda_context):
    strip_ignore_tag_in(WEST)
    event = load_event(
        "accept_peering__CreateVpcPeeringConnection_cross_region",
        web_vpc=opted_out["web_vpc"],
        api_vpc=opted_out["api_vpc"],
        peering=opted_out["pcx"],
    )

    summary = accept(event, lambda_context)

    assert peering_status(ec2_client(WEST), opted_out["pcx"]) == "pending-acceptance"
    (refusal,) = summary["refused"]
    assert refusal["reason"] == f"ignore tag on {opted_out['pcx']}"


def test_an_ignore_tag_in_the_requester_region_only_stops_the_accepter_region_s_sweep(
    opted_out, configure, lambda_context
):
    configure(AWS_REGION=WEST, AWS_DEFAULT_REGION=WEST)
    strip_ignore_tag_in(WEST)

    summary = sweep(load_event("sweep__Scheduled"), lambda_context)

    assert peering_status(ec2_client(WEST), opted_out["pcx"]) == "pending-acceptance"
    assert [r["reason"] for r in summary["refused"]] == [f"ignore tag on {opted_out['pcx']}"]


@pytest.mark.parametrize("region", [EAST, WEST])
def test_an_ignore_tag_in_the_requester_region_only_stops_routing_in_both_regions(
    opted_out, configure, lambda_context, region
):
    ec2_client(WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=opted_out["pcx"])  # by hand
    configure(AWS_REGION=region, AWS_DEFAULT_REGION=region)
    strip_ignore_tag_in(WEST)

    summary = sweep(load_event("sweep__Scheduled"), lambda_context)

    assert [a for a in summary["actions"] if "route" in a["kind"]] == []
    for table in opted_out["web_tables"]:
        assert "10.1.0.0/16" not in routes_of(ec2_client(WEST), table)
    for table in opted_out["api_tables"]:
        assert "10.0.0.0/16" not in routes_of(ec2_client(EAST), table)
