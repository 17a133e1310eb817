"""Issue 18, the route planner under AWS's routing rules: prefix lists and overlapping peers.

AWS picks the longest prefix, and a static route over a prefix-list route of the same length: a
peering route for a block inside a prefix-list entry takes that block's traffic away from the
list's target (a transit gateway, a firewall). Two peers claiming overlapping blocks split one
peer's traffic between them. Neither is decided by ``ROUTE_OVER_AGGREGATES`` alone.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from peerkeeper import peering as acceptance
from peerkeeper import routes
from peerkeeper.model import Peering, PeeringSide, PrefixList, Route, RouteTable, Vpc
from peerkeeper.routes import RouteWorld
from peerkeeper.settings import Settings

ME, R1 = "111111111111", "us-east-1"
WEB, API, LEGIT = "vpc-0000000000000a001", "vpc-0000000000000a002", "vpc-0000000000000a003"
PCX, LEGIT_PCX = "pcx-0000000000000000a", "pcx-0000000000000000b"
PL, TGW = "pl-0123456789abcdef0", "tgw-0123456789abcdef0"
SETTINGS = Settings(region=R1, allowed_peer_accounts=frozenset({ME}))
OVER = replace(SETTINGS, route_over_aggregates=True)
LOCAL = Route("10.0.0.0/16", "local")


def side(vpc_id: str, cidr: str) -> PeeringSide:
    return PeeringSide(ME, vpc_id, R1, (cidr,))


def peering(pcx: str, peer: str, cidr: str) -> Peering:
    return Peering(pcx, "active", side(peer, cidr), side(WEB, "10.0.0.0/16"))


def world(*table_routes: Route, peers: tuple[Peering, ...] = (), lists: tuple[PrefixList, ...] = ()) -> RouteWorld:
    peerings = peers or (peering(PCX, API, "10.1.0.0/16"),)
    vpcs = {WEB: Vpc(WEB, ME, R1, cidrs=("10.0.0.0/16",))}
    vpcs |= {p.requester.vpc_id: Vpc(p.requester.vpc_id, ME, R1, cidrs=p.requester.cidrs) for p in peerings}
    tables = (RouteTable("rtb-web", WEB, R1, routes=(LOCAL, *table_routes)),)
    return RouteWorld(
        peerings=peerings, vpcs=vpcs, tables=tables, prefix_lists={(pl.region, pl.id): pl for pl in lists}
    )


def web_verdicts(plan) -> tuple[list[str], dict[str, dict[str, str]]]:
    created = sorted(a.params["DestinationCidrBlock"] for a in plan.actions if a.resource == "rtb-web")
    conflicts = {c.detail["destination"]: dict(c.detail) for c in plan.conflicts if c.resource == "rtb-web"}
    return created, conflicts


CORP = PrefixList(PL, R1, ("10.0.0.0/8", "172.16.0.0/12"))


@pytest.mark.parametrize(
    ("case", "observed", "settings", "cause"),
    [
        ("entry holds the peer CIDR", world(Route(PL, TGW), lists=(CORP,)), SETTINGS, routes.AGGREGATE),
        ("same as a CIDR route", world(Route("10.0.0.0/8", TGW)), SETTINGS, routes.AGGREGATE),
        (
            "entry equal to the peer CIDR, even over aggregates",
            world(Route(PL, TGW), lists=(PrefixList(PL, R1, ("10.1.0.0/16",)),)),
            OVER,
            routes.PREFIX_LIST_ENTRY,
        ),
        (
            "list unreadable, even over aggregates",
            world(Route(PL, TGW), lists=(PrefixList(PL, R1, error="AccessDenied"),)),
            OVER,
            routes.PREFIX_LIST_UNREADABLE,
        ),
        ("list never read counts as unreadable", world(Route(PL, TGW)), OVER, routes.PREFIX_LIST_UNREADABLE),
    ],
)
def test_prefix_list_routes_guard_the_table(case, observed, settings, cause):
    created, conflicts = web_verdicts(routes.plan(observed, ME, settings))

    assert created == [], case
    conflict = conflicts["10.1.0.0/16"]
    assert conflict["cause"] == cause
    assert conflict["target"] == TGW
    assert conflict.get("prefix_list") == (None if case == "same as a CIDR route" else PL)


def test_a_prefix_list_conflict_names_the_list_in_its_reason():
    plan = routes.plan(world(Route(PL, TGW), lists=(CORP,)), ME, SETTINGS)

    (conflict,) = [c for c in plan.conflicts if c.resource == "rtb-web"]
    assert f"inside 10.0.0.0/8 (an entry of prefix list {PL}) routed to {TGW}" in conflict.reason
    assert conflict.detail["prefix_list"] == PL


def test_route_over_aggregates_routes_beside_a_wider_prefix_list_entry():
    created, conflicts = web_verdicts(routes.plan(world(Route(PL, TGW), lists=(CORP,)), ME, OVER))

    assert (created, conflicts) == (["10.1.0.0/16"], {})


def test_prefix_lists_of_other_families_or_dead_targets_do_not_block():
    v6 = PrefixList(PL, R1, ("2600::/16",))
    dead = Route("pl-0000000000000dead", "pcx-0000000000000dead", state="blackhole")
    observed = world(Route(PL, TGW), dead, lists=(v6,))

    created, conflicts = web_verdicts(routes.plan(observed, ME, SETTINGS))

    assert (created, conflicts) == (["10.1.0.0/16"], {})


# -- two peers claiming overlapping addresses ------------------------------------------------
ATTACKER = peering(PCX, API, "10.50.128.0/17")
LEGITIMATE = peering(LEGIT_PCX, LEGIT, "10.50.0.0/16")


@pytest.mark.parametrize("settings", [SETTINGS, OVER], ids=["aggregates-guarded", "route-over-aggregates"])
@pytest.mark.parametrize(
    ("first", "newcomer", "first_cidr", "new_cidr"),
    [
        (ATTACKER, LEGITIMATE, "10.50.128.0/17", "10.50.0.0/16"),  # the newcomer contains the claim
        (LEGITIMATE, ATTACKER, "10.50.0.0/16", "10.50.128.0/17"),  # the newcomer lies inside it
    ],
    ids=["attacker-first", "legitimate-first"],
)
def test_an_overlapping_claim_is_a_conflict_naming_both(first, newcomer, first_cidr, new_cidr, settings):
    observed = world(Route(first_cidr, first.id), peers=(first, newcomer))

    created, conflicts = web_verdicts(routes.plan(observed, ME, settings))

    assert created == []
    conflict = conflicts[new_cidr]
    assert conflict["cause"] == routes.OVERLAPPING_PEER
    assert (conflict["wanted"], conflict["other_peering"]) == (newcomer.id, first.id)
    assert conflict["other_destination"] == first_cidr
    reason = next(c.reason for c in routes.plan(observed, ME, settings).conflicts if c.resource == "rtb-web")
    assert all(text in reason for text in (newcomer.id, first.id, first_cidr, new_cidr))


@pytest.mark.parametrize("order", [(ATTACKER, LEGITIMATE), (LEGITIMATE, ATTACKER)], ids=["attacker", "legitimate"])
def test_routes_planned_earlier_in_the_same_run_count(order):
    """Neither route exists yet: the first one planned keeps the addresses, the second is a conflict."""
    first, second = order
    created, conflicts = web_verdicts(routes.plan(world(peers=order), ME, OVER))

    assert created == [first.requester.cidrs[0]]
    assert conflicts[second.requester.cidrs[0]]["other_peering"] == first.id


def test_an_overlapping_route_to_a_dead_connection_does_not_count():
    dead = Route("10.50.128.0/17", "pcx-0000000000000dead", state="blackhole")
    created, conflicts = web_verdicts(routes.plan(world(dead, peers=(LEGITIMATE,)), ME, SETTINGS))

    assert (created, conflicts) == (["10.50.0.0/16"], {})


# -- at acceptance: a requester claiming what another trusted peer of the accepter VPC has --------
def test_acceptance_refuses_a_requester_overlapping_another_trusted_peer_in_both_orders():
    vpcs = {WEB: Vpc(WEB, ME, R1, cidrs=("10.0.0.0/16",))}
    for first, newcomer in ((ATTACKER, LEGITIMATE), (LEGITIMATE, ATTACKER)):
        pending = replace(newcomer, status="pending-acceptance")

        plan = acceptance.plan([pending], vpcs, SETTINGS, ME, neighbours=[first])

        assert plan.actions == ()
        (refusal,) = plan.refused
        assert refusal.resource == newcomer.id
        assert first.id in refusal.reason
        assert f"{newcomer.requester.cidrs[0]} overlaps {first.requester.cidrs[0]}" in refusal.reason


def test_acceptance_ignores_untrusted_or_inactive_neighbours():
    vpcs = {WEB: Vpc(WEB, ME, R1, cidrs=("10.0.0.0/16",))}
    pending = replace(LEGITIMATE, status="pending-acceptance")
    stranger = replace(ATTACKER, requester=replace(ATTACKER.requester, owner_id="999999999999"))
    deleted = replace(ATTACKER, status="deleted")

    plan = acceptance.plan([pending], vpcs, SETTINGS, ME, neighbours=[stranger, deleted])

    assert [a.resource for a in plan.actions] == [LEGIT_PCX]


def test_two_overlapping_requests_in_one_run_the_first_accepted_claims_first():
    vpcs = {WEB: Vpc(WEB, ME, R1, cidrs=("10.0.0.0/16",))}
    both = [replace(ATTACKER, status="pending-acceptance"), replace(LEGITIMATE, status="pending-acceptance")]

    plan = acceptance.plan(both, vpcs, SETTINGS, ME)

    assert [a.resource for a in plan.actions] == [PCX]  # in order of connection ID
    (refusal,) = plan.refused
    assert (refusal.resource, PCX in refusal.reason) == (LEGIT_PCX, True)
