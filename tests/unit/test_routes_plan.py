"""The route planner, table-driven: which routes are created, replaced, left alone, reported."""

from __future__ import annotations

from dataclasses import replace

import pytest

from peerkeeper import routes
from peerkeeper.model import Peering, PeeringSide, Route, RouteTable, Vpc
from peerkeeper.routes import RouteWorld

ME, OTHER = "111111111111", "222222222222"
WEB, API, THIRD, REMOTE = (
    "vpc-0000000000000a001",
    "vpc-0000000000000a002",
    "vpc-0000000000000a003",
    "vpc-0000000000000b001",
)
PCX, OLD_PCX, OTHER_PCX = "pcx-00000000000000001", "pcx-00000000000000009", "pcx-00000000000000005"
R1, R2 = "us-east-1", "us-west-2"

WEB_V6, API_V6 = "2600:1f18:aaaa:100::/56", "2600:1f18:bbbb:200::/56"


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
        "blackhole route is replaced",
        world(tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", "nat-0123", "blackhole")),)),
        [("replace-route", "rtb-web1", "10.1.0.0/16")],
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
    assert summary(routes.plan(observed, ME)) == expected


def test_actions_carry_the_full_api_call():
    (action,) = routes.plan(world(tables=API_TABLES), ME).actions

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
    ipv6 = [a for a in routes.plan(observed, ME).actions if "DestinationIpv6CidrBlock" in a.params]

    assert [a.params["DestinationIpv6CidrBlock"] for a in ipv6] == [WEB_V6]


def test_conflict_is_reported_with_what_and_why():
    observed = world(tables=(table("rtb-web1", WEB, LOCAL_WEB, Route("10.1.0.0/16", "igw-0123")),))

    (conflict,) = routes.plan(observed, ME).conflicts

    assert conflict.resource == "rtb-web1"
    assert conflict.detail == {"destination": "10.1.0.0/16", "target": "igw-0123", "wanted": PCX}


def test_no_route_for_a_third_vpc_cidr():
    third = vpc(THIRD, ("10.9.0.0/16",))
    observed = world(vpcs={WEB: WEB_VPC, API: API_VPC, THIRD: third})

    destinations = {a.params["DestinationCidrBlock"] for a in routes.plan(observed, ME).actions}

    assert destinations == {"10.0.0.0/16", "10.1.0.0/16"}


def test_unknown_peer_cidrs_are_a_problem_not_a_guess():
    observed = world(
        peerings=(connection(PeeringSide(OTHER, REMOTE, R1), PeeringSide(ME, WEB, R1)),),
        vpcs={WEB: WEB_VPC},
        tables=WEB_TABLES,
    )

    plan = routes.plan(observed, ME)

    assert plan.actions == ()
    assert "CIDRs of peer VPC" in plan.problems[0].reason
