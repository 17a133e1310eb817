"""The acceptance planner, table-driven: which requests are accepted, refused, rejected, and why."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network

import pytest

from peerkeeper import peering
from peerkeeper.model import Peering, PeeringSide, Vpc
from peerkeeper.settings import Settings

ME, OTHER, STRANGER = "111111111111", "222222222222", "333333333333"
WEB, API, REMOTE = "vpc-0000000000000a001", "vpc-0000000000000a002", "vpc-0000000000000b001"


def side(owner: str, vpc: str, region: str = "us-east-1", cidrs: tuple[str, ...] = ()) -> PeeringSide:
    return PeeringSide(owner_id=owner, vpc_id=vpc, region=region, cidrs=cidrs)


def request(
    requester: PeeringSide,
    accepter: PeeringSide | None = None,
    status: str = "pending-acceptance",
    ignored: bool = False,
) -> Peering:
    return Peering(
        id="pcx-00000000000000001",
        status=status,
        requester=requester,
        accepter=accepter or side(ME, WEB),
        ignored=ignored,
    )


VPCS = {
    WEB: Vpc(WEB, ME, "us-east-1", cidrs=("10.0.0.0/16",)),
    API: Vpc(API, ME, "us-east-1", cidrs=("10.1.0.0/16",)),
}
SETTINGS = Settings(region="us-east-1", allowed_peer_accounts=frozenset({ME, OTHER}))

CASES = [
    # name, peering, vpcs, settings, expected action kinds, expected refusal fragment
    ("same-account", request(side(ME, API)), VPCS, SETTINGS, ["accept-peering"], None),
    (
        "cross-account allowed",
        request(side(OTHER, REMOTE, cidrs=("10.5.0.0/16",))),
        VPCS,
        SETTINGS,
        ["accept-peering"],
        None,
    ),
    (
        "cross-region accepted in accepter region",
        request(side(ME, API, "eu-west-1"), side(ME, WEB, "us-west-2")),
        {**VPCS, WEB: replace(VPCS[WEB], region="us-west-2"), API: replace(VPCS[API], region="eu-west-1")},
        SETTINGS,
        ["accept-peering"],
        None,
    ),
    (
        "unlisted account",
        request(side(STRANGER, REMOTE, cidrs=("10.5.0.0/16",))),
        VPCS,
        SETTINGS,
        [],
        "account 333333333333 is not allowed",
    ),
    (
        "own account must be listed",
        request(side(ME, API)),
        VPCS,
        replace(SETTINGS, allowed_peer_accounts=frozenset({OTHER})),
        [],
        "account 111111111111 is not allowed",
    ),
    (
        "unlisted VPC",
        request(side(OTHER, REMOTE, cidrs=("10.5.0.0/16",))),
        VPCS,
        replace(SETTINGS, allowed_peer_vpcs=frozenset({API})),
        [],
        f"VPC {REMOTE} is not allowed",
    ),
    (
        "listed VPC",
        request(side(OTHER, REMOTE, cidrs=("10.5.0.0/16",))),
        VPCS,
        replace(SETTINGS, allowed_peer_vpcs=frozenset({REMOTE})),
        ["accept-peering"],
        None,
    ),
    (
        "overlap on primary CIDRs",
        request(side(OTHER, REMOTE, cidrs=("10.0.128.0/17",))),
        VPCS,
        SETTINGS,
        [],
        "overlapping CIDRs: 10.0.128.0/17 overlaps 10.0.0.0/16",
    ),
    (
        "overlap on the requester's secondary CIDR",
        request(side(OTHER, REMOTE, cidrs=("10.5.0.0/16", "10.0.0.0/24"))),
        VPCS,
        SETTINGS,
        [],
        "10.0.0.0/24 overlaps 10.0.0.0/16",
    ),
    (
        "overlap on the accepter's secondary CIDR (from DescribeVpcs)",
        request(side(OTHER, REMOTE, cidrs=("172.16.0.0/16",))),
        {**VPCS, WEB: replace(VPCS[WEB], cidrs=("10.0.0.0/16", "172.16.5.0/24"))},
        SETTINGS,
        [],
        "172.16.0.0/16 overlaps 172.16.5.0/24",
    ),
    (
        "same-account requester's secondary CIDR read from DescribeVpcs",
        request(side(ME, API, cidrs=("10.1.0.0/16",))),
        {**VPCS, API: replace(VPCS[API], cidrs=("10.1.0.0/16", "10.0.1.0/24"))},
        SETTINGS,
        [],
        "overlapping CIDRs",
    ),
    ("ignore tag on the connection", request(side(ME, API), ignored=True), VPCS, SETTINGS, [], "ignore tag"),
    (
        "ignore tag on the accepter VPC",
        request(side(ME, API)),
        {**VPCS, WEB: replace(VPCS[WEB], ignored=True)},
        SETTINGS,
        [],
        f"ignore tag on {WEB}",
    ),
    (
        "ignore tag on the requester VPC",
        request(side(ME, API)),
        {**VPCS, API: replace(VPCS[API], ignored=True)},
        SETTINGS,
        [],
        f"ignore tag on {API}",
    ),
    ("not pending", request(side(ME, API), status="rejected"), VPCS, SETTINGS, [], "not pending"),
    ("already active: nothing to decide", request(side(ME, API), status="active"), VPCS, SETTINGS, [], None),
    (
        # The contract: a request this account sent, waiting in the other account, is not a refusal.
        "outgoing request waiting in another account: nothing to decide, not refused",
        request(side(ME, API), side(OTHER, REMOTE)),
        VPCS,
        SETTINGS,
        [],
        None,
    ),
    (
        "public secondary CIDR of the requester",
        request(side(OTHER, REMOTE, cidrs=("10.5.0.0/16", "52.94.0.0/16"))),
        VPCS,
        SETTINGS,
        [],
        "requester CIDR 52.94.0.0/16 is outside ALLOWED_PEER_CIDRS",
    ),
    (
        "narrower ALLOWED_PEER_CIDRS",
        request(side(OTHER, REMOTE, cidrs=("10.5.0.0/16",))),
        VPCS,
        replace(SETTINGS, allowed_peer_cidrs=(ip_network("172.16.0.0/12"), ip_network("10.0.0.0/16"))),
        [],
        "requester CIDR 10.5.0.0/16 is outside ALLOWED_PEER_CIDRS",
    ),
    (
        "CIDR inside a narrower ALLOWED_PEER_CIDRS",
        request(side(OTHER, REMOTE, cidrs=("10.5.0.0/16",))),
        VPCS,
        replace(SETTINGS, allowed_peer_cidrs=(ip_network("10.4.0.0/15"),)),
        ["accept-peering"],
        None,
    ),
    (
        "100.64.0.0/10 (carrier-grade NAT space) is allowed by default",
        request(side(OTHER, REMOTE, cidrs=("100.64.8.0/22",))),
        VPCS,
        SETTINGS,
        ["accept-peering"],
        None,
    ),
    (
        "requester CIDRs unknown",
        request(side(OTHER, REMOTE)),
        VPCS,
        SETTINGS,
        [],
        "CIDRs of the requester VPC are unknown",
    ),
]


@pytest.mark.parametrize(
    ("name", "connection", "vpcs", "settings", "kinds", "refusal"), CASES, ids=[c[0] for c in CASES]
)
def test_acceptance_plan(name, connection, vpcs, settings, kinds, refusal):
    plan = peering.plan([connection], vpcs, settings, ME)

    assert [action.kind for action in plan.actions] == kinds
    if refusal is None:
        assert plan.refused == ()
    else:
        assert len(plan.refused) == 1
        assert refusal in plan.refused[0].reason
        assert plan.refused[0].resource == connection.id


def test_accept_action_targets_the_accepter_region():
    connection = request(side(ME, API, "eu-west-1"), side(ME, WEB, "us-west-2"))
    vpcs = {WEB: replace(VPCS[WEB], region="us-west-2"), API: replace(VPCS[API], region="eu-west-1")}

    (action,) = peering.plan([connection], vpcs, SETTINGS, ME).actions

    assert action.region == "us-west-2"
    assert action.params == {"VpcPeeringConnectionId": connection.id}


REJECTABLE = [
    c for c in CASES if c[4] == [] and c[5] and ("not allowed" in c[5] or "overlap" in c[5] or "outside" in c[5])
]
NEVER_REJECTED = [c for c in CASES if c[4] == [] and c[5] and c not in REJECTABLE]


@pytest.mark.parametrize(
    ("name", "connection", "vpcs", "settings", "kinds", "refusal"), REJECTABLE, ids=[c[0] for c in REJECTABLE]
)
def test_reject_unlisted_rejects_policy_refusals(name, connection, vpcs, settings, kinds, refusal):
    plan = peering.plan([connection], vpcs, replace(settings, reject_unlisted=True), ME)

    assert [(a.kind, a.resource) for a in plan.actions] == [("reject-peering", connection.id)]
    assert refusal in plan.refused[0].reason


@pytest.mark.parametrize(
    ("name", "connection", "vpcs", "settings", "kinds", "refusal"), NEVER_REJECTED, ids=[c[0] for c in NEVER_REJECTED]
)
def test_reject_unlisted_never_touches_ignored_or_foreign_requests(name, connection, vpcs, settings, kinds, refusal):
    plan = peering.plan([connection], vpcs, replace(settings, reject_unlisted=True), ME)

    assert plan.actions == ()
    assert refusal in plan.refused[0].reason


def test_refused_requests_are_left_pending_by_default():
    plan = peering.plan([request(side(STRANGER, REMOTE, cidrs=("10.5.0.0/16",)))], VPCS, SETTINGS, ME)

    assert plan.actions == ()
    assert plan.refused[0].detail["requester"] == f"{STRANGER}/{REMOTE}"


def test_overlap_ignores_different_ip_versions():
    assert peering.overlapping(["10.0.0.0/16"], ["2600:1f18::/56"]) == []
    assert peering.overlapping(["10.0.0.0/16", "10.9.0.0/16"], ["10.9.1.0/24"]) == [("10.9.0.0/16", "10.9.1.0/24")]


def test_initiating_request_waits_and_is_not_refused():
    connection = request(side(ME, API), status="initiating-request")

    plan = peering.plan([connection], VPCS, replace(SETTINGS, reject_unlisted=True), ME)

    assert plan.actions == ()
    assert plan.refused == ()
    assert [(f.resource, f.reason) for f in plan.waiting] == [
        (connection.id, "still initiating-request: not pending acceptance yet")
    ]


def test_request_not_yet_visible_in_the_accepter_region_waits():
    connection = request(side(ME, API, "eu-west-1"), side(ME, WEB, "us-west-2"))

    plan = peering.plan([], VPCS, SETTINGS, ME, unseen=[connection])

    assert plan.actions == ()
    assert plan.refused == ()
    assert plan.waiting[0].resource == connection.id
    assert "not yet visible in the accepter's region us-west-2" in plan.waiting[0].reason


def test_unseen_request_to_another_account_does_not_wait():
    connection = request(side(ME, API, "eu-west-1"), side(OTHER, REMOTE, "us-west-2"))

    assert peering.plan([], VPCS, SETTINGS, ME, unseen=[connection]).waiting == ()


def test_ipv6_cidrs_of_the_requester_are_not_judged_at_acceptance():
    """The contract names IPv4 only: IPv6 blocks are global unicast by nature (ALLOWED_PEER_CIDRS has ::/0)."""
    settings = replace(SETTINGS, allowed_peer_cidrs=(ip_network("10.0.0.0/8"),))
    remote = replace(side(OTHER, REMOTE, cidrs=("10.5.0.0/16",)), ipv6_cidrs=("2600:1f18:bbbb:200::/56",))

    assert [a.kind for a in peering.plan([request(remote)], VPCS, settings, ME).actions] == ["accept-peering"]
