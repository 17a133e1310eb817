"""Concern: accept allowlisted peering requests (and reject the rest under ``REJECT_UNLISTED``).

Desired state: a ``pending-acceptance`` connection whose accepter VPC is in this account is
accepted, in the accepter's region, when the requester account and VPC are allowed, every IPv4 CIDR
of the requester lies inside ``ALLOWED_PEER_CIDRS``, no IPv4 CIDR of one side overlaps one of the
other, no requester CIDR overlaps a CIDR of another active, trusted peer of the accepter VPC, and
nothing involved carries the ignore tag (on any region's copy of the connection). Anything else is
refused with a reason.

Not refusals: a request this account sent to another account (it waits there, not here), and a
connection still being created (``initiating-request``, or not yet visible in the accepter's region:
a cross-region request takes seconds to appear there). The latter is ``waiting``: an event's run
raises so Lambda retries it; the sweep leaves it for its next run.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.model import (
    ACTIVE,
    INITIATING,
    PENDING,
    Action,
    Finding,
    Peering,
    PeeringSide,
    Plan,
    Vpc,
    untrusted_reason,
)
from peerkeeper.reconcile import Env, Executor
from peerkeeper.settings import Settings

CONCERN = "peering"
ACCEPT, REJECT = "accept-peering", "reject-peering"
_SETTLING = frozenset({INITIATING, PENDING})  # a request on its way to the accepter


# -- observe ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Observed:
    """What acceptance is decided on."""

    peerings: list[Peering]
    vpcs: dict[str, Vpc]
    unseen: list[Peering]  # named by an event, not visible in the accepter's region yet
    neighbours: list[Peering]  # active connections of the accepter VPCs of pending requests


def observe(env: Env, scope: Scope) -> Observed:
    """The connections in scope (from the accepter's region), this account's VPCs they involve, and
    those an event named that the accepter's region does not show yet (seen from the event's region).
    The ignore tag of every region's copy of a same-account connection counts.
    """
    unseen: list[Peering] = []
    if scope.whole_region:
        peerings = env.inventory.peerings(scope.region, statuses=(PENDING,))
        peerings = [p for p in peerings if p.accepter.region == scope.region]
        peerings = env.inventory.ignored_anywhere(scope.region, peerings)
    elif scope.peering_ids:
        accepter_region = scope.peering_region or scope.region
        peerings = env.inventory.peerings(accepter_region, ids=scope.peering_ids)
        peerings = env.inventory.ignored_anywhere(accepter_region, peerings)
        missing = set(scope.peering_ids) - {p.id for p in peerings}
        if missing and accepter_region != scope.region:
            # A cross-region request is logged in the requester's region before the accepter's
            # region knows it: still being created there is not gone.
            unseen = [p for p in env.inventory.peerings(scope.region, ids=missing) if p.status in _SETTLING]
    else:
        peerings = []
    neighbours = _neighbours(env, peerings)
    wanted: dict[str, set[str]] = defaultdict(set)
    for peering in peerings + neighbours:
        for side in (peering.requester, peering.accepter):
            if side.owner_id == env.account_id and side.vpc_id:
                wanted[side.region].add(side.vpc_id)
    vpcs: dict[str, Vpc] = {}
    for region, ids in wanted.items():
        vpcs.update(env.inventory.vpcs(region, ids))
    return Observed(peerings, vpcs, unseen, neighbours)


def _neighbours(env: Env, peerings: Iterable[Peering]) -> list[Peering]:
    """Active connections of the accepter VPCs of this account's pending requests (one filtered
    describe per accepter region; memory in the sweep)."""
    accepters: dict[str, set[str]] = defaultdict(set)
    for peering in peerings:
        if peering.status == PENDING and peering.accepter.owner_id == env.account_id:
            accepters[peering.accepter.region].add(peering.accepter.vpc_id)
    found: list[Peering] = []
    for region, vpc_ids in sorted(accepters.items()):
        found += env.inventory.peerings(region, statuses=(ACTIVE,), vpc_ids=vpc_ids)
    return found


# -- plan (pure) ------------------------------------------------------------------------------
def side_cidrs(side: PeeringSide, vpcs: Mapping[str, Vpc]) -> tuple[str, ...]:
    """IPv4 CIDRs of one side: our own VPC's from DescribeVpcs, else the connection's CIDR set."""
    vpc = vpcs.get(side.vpc_id)
    return vpc.cidrs if vpc is not None else side.cidrs


def overlapping(left: Iterable[str], right: Iterable[str]) -> list[tuple[str, str]]:
    right_networks = [ipaddress.ip_network(cidr, strict=False) for cidr in right]
    return [
        (str(a), str(b))
        for a in (ipaddress.ip_network(cidr, strict=False) for cidr in left)
        for b in right_networks
        if a.version == b.version and a.overlaps(b)
    ]


def claimed_by_neighbour(
    peering: Peering,
    requester_cidrs: Iterable[str],
    *,
    vpcs: Mapping[str, Vpc],
    settings: Settings,
    account_id: str,
    neighbours: Iterable[Peering],
) -> str | None:
    """Why a requester CIDR overlaps one of another active, trusted peer of the accepter VPC."""
    accepter = peering.accepter.vpc_id
    for other in sorted(neighbours, key=lambda p: p.id):
        if other.id == peering.id or other.status != ACTIVE or untrusted_reason(other, settings, account_id):
            continue
        for own, peer in other.sides():
            if own.vpc_id != accepter or peer.vpc_id == accepter:
                continue
            overlaps = overlapping(requester_cidrs, side_cidrs(peer, vpcs))
            if overlaps:
                pairs = ", ".join(f"{a} overlaps {b}" for a, b in overlaps)
                return f"requester CIDR {pairs} of {peer.vpc_id}, already peered with {accepter} through {other.id}"
    return None


def refusal_reason(
    peering: Peering,
    vpcs: Mapping[str, Vpc],
    settings: Settings,
    account_id: str,
    neighbours: Iterable[Peering] = (),
) -> tuple[str, bool] | None:
    """Why ``peering`` must not be accepted, and whether it may be rejected; ``None`` to accept.

    ``neighbours`` are the active connections of the accepter VPC: a requester claiming addresses
    another trusted peer already has is refused, not rejected (the other peer may be the intruder).
    """
    requester, accepter = peering.requester, peering.accepter
    if accepter.owner_id != account_id:
        return f"accepter {accepter.vpc_id} is not in this account ({accepter.owner_id})", False
    if peering.status != PENDING:
        return f"not pending acceptance (status {peering.status})", False
    ignored = [peering.id] if peering.ignored else []
    ignored += [side.vpc_id for side in (requester, accepter) if side.vpc_id in vpcs and vpcs[side.vpc_id].ignored]
    if ignored:
        return f"ignore tag on {', '.join(ignored)}", False
    if accepter.vpc_id not in vpcs:
        return f"accepter VPC {accepter.vpc_id} not found", False
    if requester.owner_id not in settings.allowed_peer_accounts:
        return f"requester account {requester.owner_id} is not allowed", True
    if settings.allowed_peer_vpcs and requester.vpc_id not in settings.allowed_peer_vpcs:
        return f"requester VPC {requester.vpc_id} is not allowed", True
    return _address_reason(peering, vpcs, settings, account_id, neighbours)


def _address_reason(
    peering: Peering, vpcs: Mapping[str, Vpc], settings: Settings, account_id: str, neighbours: Iterable[Peering]
) -> tuple[str, bool] | None:
    """The requester's addresses: known, inside ``ALLOWED_PEER_CIDRS``, claimed by no one else."""
    requester_cidrs, accepter_cidrs = side_cidrs(peering.requester, vpcs), side_cidrs(peering.accepter, vpcs)
    if not requester_cidrs or not accepter_cidrs:
        return "CIDRs of the requester VPC are unknown", False
    outside = [cidr for cidr in requester_cidrs if not settings.cidr_allowed(cidr)]
    if outside:
        return f"requester CIDR {', '.join(outside)} is outside ALLOWED_PEER_CIDRS", True
    overlaps = overlapping(requester_cidrs, accepter_cidrs)
    if overlaps:
        pairs = ", ".join(f"{a} overlaps {b}" for a, b in overlaps)
        return f"overlapping CIDRs: {pairs}", True
    claimed = claimed_by_neighbour(
        peering, requester_cidrs, vpcs=vpcs, settings=settings, account_id=account_id, neighbours=neighbours
    )
    return (claimed, False) if claimed else None


def outgoing(peering: Peering, account_id: str) -> bool:
    """A request this account sent to another account: it waits there, there is nothing to decide."""
    return peering.requester.owner_id == account_id and peering.accepter.owner_id != account_id


def plan(
    peerings: Iterable[Peering],
    vpcs: Mapping[str, Vpc],
    settings: Settings,
    account_id: str,
    unseen: Iterable[Peering] = (),
    *,
    neighbours: Iterable[Peering] = (),
) -> Plan:
    """Accept, refuse (and maybe reject) each request; ``unseen`` ones are not in the accepter's region yet."""
    actions: list[Action] = []
    refused: list[Finding] = []
    waiting: list[Finding] = []
    neighbours = list(neighbours)
    for peering in sorted(peerings, key=lambda p: p.id):
        region = peering.accepter.region
        if peering.status == ACTIVE or outgoing(peering, account_id):
            continue  # accepted already, or the other account's to decide
        if peering.status == INITIATING:
            waiting.append(Finding(peering.id, region, "still initiating-request: not pending acceptance yet"))
            continue
        verdict = refusal_reason(peering, vpcs, settings, account_id, neighbours)
        detail = {"requester": f"{peering.requester.owner_id}/{peering.requester.vpc_id}", **_origin(peering)}
        if verdict is None:
            reason = f"allowed request from {detail['requester']} to {peering.accepter.vpc_id}"
            actions.append(Action(ACCEPT, peering.id, region, reason, {"VpcPeeringConnectionId": peering.id}))
            neighbours.append(replace(peering, status=ACTIVE))  # accepted first in this run: it claims first
            continue
        reason, rejectable = verdict
        refused.append(Finding(peering.id, region, reason, detail))
        if rejectable and settings.reject_unlisted:
            actions.append(Action(REJECT, peering.id, region, reason, {"VpcPeeringConnectionId": peering.id}))
    for peering in sorted(unseen, key=lambda p: p.id):
        if peering.accepter.owner_id == account_id:
            reason = f"{peering.status} and not yet visible in the accepter's region {peering.accepter.region}"
            waiting.append(Finding(peering.id, peering.accepter.region, reason))
    return Plan(CONCERN, actions=tuple(actions), refused=tuple(refused), waiting=tuple(waiting))


def _origin(peering: Peering) -> dict[str, str]:
    """Where and when the request was made: notifications tell a refusal once (see notify.py)."""
    origin = {"requester_region": peering.requester.region}
    if peering.requested_at is not None:
        origin["requested_at"] = peering.requested_at.isoformat()
    return origin


def plan_for(env: Env, scope: Scope) -> Plan:
    seen = observe(env, scope)
    return plan(seen.peerings, seen.vpcs, env.settings, env.account_id, seen.unseen, neighbours=seen.neighbours)


# -- apply ------------------------------------------------------------------------------------
def _accept(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).accept_vpc_peering_connection(**action.params)


def _reject(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).reject_vpc_peering_connection(**action.params)


EXECUTORS: Mapping[str, Executor] = {ACCEPT: _accept, REJECT: _reject}
