"""The route planner, table-driven: which routes are created, replaced, left alone, reported."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network

import pytest

from peerkeeper import routes
from peerkeeper.model import Peering, PeeringSide, Route, RouteTable, Vpc
from peerkeeper.routes import RouteWorld
from peerkeeper.settings import Settings

ME, OTHER, STRANGER = "111111111111", "222222222222", "333333333333"
WEB, API, THIRD, REMOTE = (
    "vpc-0000000000000a001",
    "vpc-0000000000000a002",
    "vpc-0000000000000a003",
    "vpc-0000000000000b001",
)
PCX, OLD_PCX, OTHER_PCX = "pcx-00000000000000001", "pcx-00000000000000009", "pcx-00000000000000005"
R1, R2 = "us-east-1", "us-west-2"

WEB_V6, API_V6 = "2600:1f18:aaaa:100::/56", "2600:1f18:bbbb:200::/56"
SETTINGS = Settings(region=R1, allowed_peer_accounts=frozenset({ME, OTHER}))


def vpc(vpc_id: str, cidrs: tuple[str, ...], region: str = R1, ipv6: tuple[str, ...] = (), **kw: object) -> Vpc:
    return Vpc(vpc_id, ME, region, cidrs=cidrs, ipv6_cidrs=ipv6, **kw)  # type: ignore[arg-type]


def table(table_id: str, vpc_id: str, *routes_: Route, region: str = R1, ignored: bool = False) -> RouteTable:
    return RouteTable(table_id, vpc_id, region, routes=routes_, ignored=ignored)


def connection(requester: PeeringSide, accepter: PeeringSide, status: str = "active", **kw: object) -> Peering:
    return Peering(PCX, status, requester, accepter, **kw)  # type: ignore[arg-type]


WEB_VPC = vpc(WEB, ("10.0.0.0/16",))
API_VPC = vpc(API, ("10.1.0.0/16",))
SAME_ACCOUNT = connection(PeeringSide(ME, API, R1, ("10.1.0.0/16",)), PeeringSide(ME, WEB, R1, ("10.0.0.0/16",)))
LOCAL_WEB = Route("10.0.0.0/16", "local")
LOCAL_API = Route("10.1.0.0/16", "local")
WEB_TABLES = (table("rtb-web1", WEB, LOCAL_WEB), table("rtb-web2", WEB, LOCAL_WEB))
API_TABLES = (table("rtb-api1", API, LOCAL_API),)


def world(**changes: object) -> RouteWorld:
    base = RouteWorld(peerings=(SAME_ACCOUNT,), vpcs={WEB: WEB_VPC, API: API_VPC}, tables=WEB_TABLES + API_TABLES)
    return replace(base, **changes)  # type: ignore[arg-type]


def summary(plan) -> list[tuple[str, str, str]]:
    return sorted(
        (a.kind, a.resource, a.params.get("DestinationCidrBlock") or a.params["DestinationIpv6CidrBlock"])
        for a in plan.actions
    )


CASES = [
    (
        "same account: every table of both sides",
        world(),
        [
            ("create-route", "rtb-api1", "10.0.0.0/16"),
            ("create-route", "rtb-web1", "10.1.0.0/16"),
            ("create-route", "rtb-web2", "10.1.0.0/16"),
        ],
    ),
    (
        "tables already correct",
        world(
            tables=(
                table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", PCX)),
                table("rtb-api1", API, LOCAL_API, Route("10.0.0.0/16", PCX)),
            )
        ),
        [],
    ),
    (
        "cross-account: only this account's side",
        world(
            peerings=(connection(PeeringSide(OTHER, REMOTE, R1, ("10.5.0.0/16",)), PeeringSide(ME, WEB, R1)),),
            vpcs={WEB: WEB_VPC},
            tables=WEB_TABLES,
        ),
        [("create-route", "rtb-web1", "10.5.0.0/16"), ("create-route", "rtb-web2", "10.5.0.0/16")],
    ),
    (
        "cross-account: the peer's secondary CIDR from its CIDR set",
        world(
            peerings=(
                connection(PeeringSide(OTHER, REMOTE, R1, ("10.5.0.0/16", "10.6.0.0/16")), PeeringSide(ME, WEB, R1)),
            ),
            vpcs={WEB: WEB_VPC},
            tables=(WEB_TABLES[0],),
        ),
        [("create-route", "rtb-web1", "10.5.0.0/16"), ("create-route", "rtb-web1", "10.6.0.0/16")],
    ),
    (
        "cross-region: each side's tables in its own region",
        world(
            peerings=(connection(PeeringSide(ME, API, R2), PeeringSide(ME, WEB, R1)),),
            vpcs={WEB: WEB_VPC, API: replace(API_VPC, region=R2)},
            tables=(WEB_TABLES[0], table("rtb-api1", API, LOCAL_API, region=R2)),
        ),
        [("create-route", "rtb-api1", "10.0.0.0/16"), ("create-route", "rtb-web1", "10.1.0.0/16")],
    ),
    (
        "secondary CIDR of a same-account peer (from DescribeVpcs)",
        world(vpcs={WEB: WEB_VPC, API: replace(API_VPC, cidrs=("10.1.0.0/16", "10.2.0.0/16"))}, tables=WEB_TABLES[:1]),
        [("create-route", "rtb-web1", "10.1.0.0/16"), ("create-route", "rtb-web1", "10.2.0.0/16")],
    ),
    (
        "IPv6 on both sides",
        world(
            vpcs={WEB: replace(WEB_VPC, ipv6_cidrs=(WEB_V6,)), API: replace(API_VPC, ipv6_cidrs=(API_V6,))},
            tables=(WEB_TABLES[0],),
        ),
        [("create-route", "rtb-web1", "10.1.0.0/16"), ("create-route", "rtb-web1", API_V6)],
    ),
    (
        "IPv6 on one side only: no IPv6 route",
        world(vpcs={WEB: WEB_VPC, API: replace(API_VPC, ipv6_cidrs=(API_V6,))}, tables=(WEB_TABLES[0],)),
        [("create-route", "rtb-web1", "10.1.0.0/16")],
    ),
    (
        "stale route to a deleted connection is replaced",
        world(tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", OLD_PCX)),), peering_status={}),
        [("replace-route", "rtb-web1", "10.1.0.0/16")],
    ),
    (
        "route to a rejected connection is replaced",
        world(
            tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", OLD_PCX)),),
            peering_status={OLD_PCX: "deleted"},
        ),
        [("replace-route", "rtb-web1", "10.1.0.0/16")],
    ),
    (
        "blackhole route to a peering connection is replaced",
        world(tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", OLD_PCX, "blackhole")),)),
        [("replace-route", "rtb-web1", "10.1.0.0/16")],
    ),
    (
        # Contract: only routes that target a peering connection are dead; a stopped appliance is not ours.
        "blackhole route to a NAT gateway is left alone",
        world(tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", "nat-0123", "blackhole")),)),
        [],
    ),
    (
        "conflicting live route is left alone",
        world(tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", "tgw-0123")),)),
        [],
    ),
    (
        "route to another active connection is a conflict",
        world(
            tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", OTHER_PCX)),),
            peering_status={OTHER_PCX: "active"},
        ),
        [],
    ),
    ("ignored route table gets nothing", world(tables=(table("rtb-web1", WEB, LOCAL_WEB, ignored=True),)), []),
    (
        "ignored VPC's tables get nothing",
        world(vpcs={WEB: replace(WEB_VPC, ignored=True), API: API_VPC}, tables=WEB_TABLES),
        [],
    ),
    ("ignored connection gets nothing", world(peerings=(replace(SAME_ACCOUNT, ignored=True),)), []),
    ("connection not active: nothing", world(peerings=(replace(SAME_ACCOUNT, status="pending-acceptance"),)), []),
    (
        "unrelated VPC's tables untouched",
        world(tables=(table("rtb-third", THIRD, Route("10.9.0.0/16", "local")),)),
        [],
    ),
    (
        "sweep region filter: only the region's tables",
        world(
            peerings=(connection(PeeringSide(ME, API, R2), PeeringSide(ME, WEB, R1)),),
            vpcs={WEB: WEB_VPC, API: replace(API_VPC, region=R2)},
            tables=(WEB_TABLES[0], table("rtb-api1", API, LOCAL_API, region=R2)),
            regions=frozenset({R1}),
        ),
        [("create-route", "rtb-web1", "10.1.0.0/16")],
    ),
]


@pytest.mark.parametrize(("name", "observed", "expected"), CASES, ids=[c[0] for c in CASES])
def test_route_plan(name, observed, expected):
    assert summary(routes.plan(observed, ME, SETTINGS)) == expected


def test_actions_carry_the_full_api_call():
    (action,) = routes.plan(world(tables=API_TABLES), ME, SETTINGS).actions

    assert action.region == R1
    assert action.params == {
        "RouteTableId": "rtb-api1",
        "DestinationCidrBlock": "10.0.0.0/16",
        "VpcPeeringConnectionId": PCX,
    }


def test_ipv6_route_uses_the_ipv6_destination_key():
    observed = world(
        vpcs={WEB: replace(WEB_VPC, ipv6_cidrs=(WEB_V6,)), API: replace(API_VPC, ipv6_cidrs=(API_V6,))},
        tables=API_TABLES,
    )
    ipv6 = [a for a in routes.plan(observed, ME, SETTINGS).actions if "DestinationIpv6CidrBlock" in a.params]

    assert [a.params["DestinationIpv6CidrBlock"] for a in ipv6] == [WEB_V6]


def test_conflict_is_reported_with_what_and_why():
    observed = world(tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", "igw-0123")),))

    (conflict,) = routes.plan(observed, ME, SETTINGS).conflicts

    assert conflict.resource == "rtb-web1"
    assert conflict.detail == {
        "destination": "10.1.0.0/16",
        "target": "igw-0123",
        "wanted": PCX,
        "cause": "other-target",
    }
    assert (
        conflict.reason == f"rtb-web1 ({WEB}): 10.1.0.0/16 of {API} not routed via {PCX}: routed to igw-0123, not {PCX}"
    )


def test_no_route_for_a_third_vpc_cidr():
    third = vpc(THIRD, ("10.9.0.0/16",))
    observed = world(vpcs={WEB: WEB_VPC, API: API_VPC, THIRD: third})

    destinations = {a.params["DestinationCidrBlock"] for a in routes.plan(observed, ME, SETTINGS).actions}

    assert destinations == {"10.0.0.0/16", "10.1.0.0/16"}


def test_unknown_peer_cidrs_are_a_problem_not_a_guess():
    observed = world(
        peerings=(connection(PeeringSide(OTHER, REMOTE, R1), PeeringSide(ME, WEB, R1)),),
        vpcs={WEB: WEB_VPC},
        tables=WEB_TABLES,
    )

    plan = routes.plan(observed, ME, SETTINGS)

    assert plan.actions == ()
    assert "CIDRs of peer VPC" in plan.problems[0].reason


# -- the guardrail: trust, ALLOWED_PEER_CIDRS, aggregates, dead routes, gateway tables --------------
NARROW = replace(SETTINGS, allowed_peer_cidrs=(ip_network("10.0.0.0/16"),))
OVER_AGGREGATES = replace(SETTINGS, route_over_aggregates=True)
WEB1 = ("rtb-web1",)


def cross_account(owner: str, cidrs: tuple[str, ...] = ("10.5.0.0/16",), *, outgoing: bool = False) -> RouteWorld:
    """web-vpc peered with ``owner``'s remote VPC: requested from there, or (``outgoing``) from here."""
    remote, own = PeeringSide(owner, REMOTE, R1, cidrs), PeeringSide(ME, WEB, R1)
    peering = connection(own, remote) if outgoing else connection(remote, own)
    return world(peerings=(peering,), vpcs={WEB: WEB_VPC}, tables=(WEB_TABLES[0],))


def web1(*routes_: Route, edge: tuple[str, ...] = ()) -> RouteWorld:
    return world(tables=(replace(table("rtb-web1", WEB, LOCAL_WEB, *routes_), edge_gateways=edge),))


ENI, TGW = "eni-0123456789abcdef0", "tgw-0123456789abcdef0"
POLICY_CASES = [
    # name, world, settings, actions, conflicts (table, destination, cause)
    (
        "hand-accepted connection from an unlisted account: no route, conflict",
        cross_account(STRANGER),
        SETTINGS,
        [],
        [("rtb-web1", "10.5.0.0/16", "untrusted-peer")],
    ),
    (
        "connection from a listed account is routed",
        cross_account(OTHER),
        SETTINGS,
        [("create-route", *WEB1, "10.5.0.0/16")],
        [],
    ),
    (
        "outgoing connection to an unlisted account: no route",
        cross_account(STRANGER, outgoing=True),
        SETTINGS,
        [],
        [("rtb-web1", "10.5.0.0/16", "untrusted-peer")],
    ),
    (
        "outgoing connection once its account is listed: routed",
        cross_account(STRANGER, outgoing=True),
        replace(SETTINGS, allowed_peer_accounts=frozenset({ME, STRANGER})),
        [("create-route", *WEB1, "10.5.0.0/16")],
        [],
    ),
    (
        "ALLOWED_PEER_VPCS set: a peer VPC not listed is not trusted",
        cross_account(OTHER),
        replace(SETTINGS, allowed_peer_vpcs=frozenset({API})),
        [],
        [("rtb-web1", "10.5.0.0/16", "untrusted-peer")],
    ),
    (
        "same account: the own account must be listed to be trusted",
        world(tables=WEB_TABLES[:1]),
        replace(SETTINGS, allowed_peer_accounts=frozenset({OTHER})),
        [],
        [("rtb-web1", "10.1.0.0/16", "untrusted-peer")],
    ),
    (
        "public secondary block associated after acceptance: conflict, the private one still routed",
        cross_account(OTHER, ("10.5.0.0/16", "52.94.0.0/16")),
        SETTINGS,
        [("create-route", *WEB1, "10.5.0.0/16")],
        [("rtb-web1", "52.94.0.0/16", "cidr-not-allowed")],
    ),
    (
        "narrower ALLOWED_PEER_CIDRS",
        world(tables=WEB_TABLES[:1]),
        NARROW,
        [],
        [("rtb-web1", "10.1.0.0/16", "cidr-not-allowed")],
    ),
    (
        "aggregate 10.0.0.0/8 to a network interface: conflict by default",
        web1(Route("10.0.0.0/8", ENI)),
        SETTINGS,
        [],
        [("rtb-web1", "10.1.0.0/16", "inside-aggregate")],
    ),
    (
        "aggregate 10.0.0.0/8 to a network interface: routed with ROUTE_OVER_AGGREGATES",
        web1(Route("10.0.0.0/8", ENI)),
        OVER_AGGREGATES,
        [("create-route", *WEB1, "10.1.0.0/16")],
        [],
    ),
    (
        "aggregate to a transit gateway, blackhole: still counts (fail safe)",
        web1(Route("10.0.0.0/12", TGW, "blackhole")),
        SETTINGS,
        [],
        [("rtb-web1", "10.1.0.0/16", "inside-aggregate")],
    ),
    (
        "0.0.0.0/0 never counts as an aggregate",
        web1(Route("0.0.0.0/0", "nat-0123")),
        SETTINGS,
        [("create-route", *WEB1, "10.1.0.0/16")],
        [],
    ),
    (
        "an aggregate to this very connection does not count",
        web1(Route("10.0.0.0/8", PCX)),
        SETTINGS,
        [("create-route", *WEB1, "10.1.0.0/16")],
        [],
    ),
    (
        "an aggregate to a dead connection does not count",
        web1(Route("10.0.0.0/8", OLD_PCX)),
        SETTINGS,
        [("create-route", *WEB1, "10.1.0.0/16")],
        [],
    ),
    (
        "a route more specific than the peer CIDR is no aggregate",
        web1(Route("10.1.5.0/24", ENI)),
        SETTINGS,
        [("create-route", *WEB1, "10.1.0.0/16")],
        [],
    ),
    (
        "dead route inside an aggregate: not replaced by default",
        web1(Route("10.0.0.0/8", TGW), Route("10.1.0.0/16", OLD_PCX, "blackhole")),
        SETTINGS,
        [],
        [("rtb-web1", "10.1.0.0/16", "inside-aggregate")],
    ),
    (
        "blackhole route to a network interface (stopped appliance): conflict, never replaced",
        web1(Route("10.1.0.0/16", ENI, "blackhole")),
        SETTINGS,
        [],
        [("rtb-web1", "10.1.0.0/16", "blackhole-other-target")],
    ),
    (
        "blackhole route to a peering connection: replaced",
        web1(Route("10.1.0.0/16", OLD_PCX, "blackhole")),
        SETTINGS,
        [("replace-route", *WEB1, "10.1.0.0/16")],
        [],
    ),
    (
        "route with a target peerkeeper cannot read (filtered, Route Server): conflict",
        web1(Route("10.1.0.0/16", "", "filtered", "Advertisement")),
        SETTINGS,
        [],
        [("rtb-web1", "10.1.0.0/16", "unknown-target")],
    ),
    (
        "route advertised by VPC Route Server to a next hop: conflict",
        web1(Route("10.1.0.0/16", "10.0.3.7", "active", "Advertisement")),
        SETTINGS,
        [],
        [("rtb-web1", "10.1.0.0/16", "other-target")],
    ),
    ("gateway route table (edge association) gets nothing", web1(edge=("igw-0123",)), SETTINGS, [], []),
]


@pytest.mark.parametrize(
    ("name", "observed", "settings", "actions", "conflicts"), POLICY_CASES, ids=[c[0] for c in POLICY_CASES]
)
def test_route_policy(name, observed, settings, actions, conflicts):
    plan = routes.plan(observed, ME, settings)

    assert summary(plan) == actions
    assert sorted((c.resource, c.detail["destination"], c.detail["cause"]) for c in plan.conflicts) == conflicts


def test_every_conflict_names_the_table_the_cidr_and_the_reason():
    observed = cross_account(STRANGER, ("10.5.0.0/16", "52.94.0.0/16"))

    conflicts = routes.plan(observed, ME, SETTINGS).conflicts

    assert len(conflicts) == 2
    for conflict in conflicts:
        assert conflict.resource == "rtb-web1"
        assert conflict.detail["destination"] in conflict.reason
        assert "rtb-web1" in conflict.reason
        assert f"peer account {STRANGER} is not in ALLOWED_PEER_ACCOUNTS" in conflict.reason


def test_public_block_conflict_says_why():
    (conflict,) = routes.plan(cross_account(OTHER, ("52.94.0.0/16",)), ME, SETTINGS).conflicts

    assert conflict.reason.endswith("52.94.0.0/16 is outside ALLOWED_PEER_CIDRS")


def test_aggregate_conflict_names_the_aggregate_and_the_way_out():
    (conflict,) = routes.plan(web1(Route("10.0.0.0/8", ENI)), ME, SETTINGS).conflicts

    assert f"inside 10.0.0.0/8 routed to {ENI}" in conflict.reason
    assert "ROUTE_OVER_AGGREGATES=true" in conflict.reason
    assert conflict.detail["target"] == ENI


def test_route_already_to_an_untrusted_connection_is_reported_and_left():
    observed = replace(cross_account(STRANGER), tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.5.0.0/16", PCX)),))

    plan = routes.plan(observed, ME, SETTINGS)

    assert plan.actions == ()
    assert "its existing route is left" in plan.conflicts[0].reason
    assert plan.conflicts[0].detail["target"] == PCX


def test_ipv6_aggregate_counts_and_ipv6_default_does_not():
    ipv6 = {WEB: replace(WEB_VPC, ipv6_cidrs=(WEB_V6,)), API: replace(API_VPC, ipv6_cidrs=(API_V6,))}
    with_default = world(vpcs=ipv6, tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("::/0", "eigw-0123")),))
    with_aggregate = world(vpcs=ipv6, tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("2600:1f18::/32", TGW)),))

    assert [a.params.get("DestinationIpv6CidrBlock") for a in routes.plan(with_default, ME, SETTINGS).actions] == [
        None,
        API_V6,
    ]
    (conflict,) = routes.plan(with_aggregate, ME, SETTINGS).conflicts
    assert conflict.detail == {"destination": API_V6, "wanted": PCX, "cause": "inside-aggregate", "target": TGW}
