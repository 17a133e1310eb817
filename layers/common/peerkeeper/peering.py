"""Concern: accept allowlisted peering requests (and reject the rest under ``REJECT_UNLISTED``).

Desired state: a ``pending-acceptance`` connection whose accepter VPC is in this account is
accepted, in the accepter's region, when the requester account and VPC are allowed, every IPv4 CIDR
of the requester lies inside ``ALLOWED_PEER_CIDRS``, no IPv4 CIDR of one side overlaps one of the
other, and nothing involved carries the ignore tag. Anything else is refused with a reason.

Not refusals: a request this account sent to another account (it waits there, not here), and a
connection still being created (``initiating-request``, or not yet visible in the accepter's region:
a cross-region request takes seconds to appear there). The latter is ``waiting``: an event's run
raises so Lambda retries it; the sweep leaves it for its next run.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping

from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.model import ACTIVE, INITIATING, PENDING, Action, Finding, Peering, PeeringSide, Plan, Vpc
from peerkeeper.reconcile import Env, Executor
from peerkeeper.settings import Settings

CONCERN = "peering"
ACCEPT, REJECT = "accept-peering", "reject-peering"
_SETTLING = frozenset({INITIATING, PENDING})  # a request on its way to the accepter


# -- observe ----------------------------------------------------------------------------------
def observe(env: Env, scope: Scope) -> tuple[list[Peering], dict[str, Vpc], list[Peering]]:
    """The connections in scope (from the accepter's region), this account's VPCs they involve, and
    those an event named that the accepter's region does not show yet (seen from the event's region).
    """
    unseen: list[Peering] = []
    if scope.whole_region:
        peerings = env.inventory.peerings(scope.region, statuses=(PENDING,))
        peerings = [p for p in peerings if p.accepter.region == scope.region]
    elif scope.peering_ids:
        accepter_region = scope.peering_region or scope.region
        peerings = env.inventory.peerings(accepter_region, ids=scope.peering_ids)
        missing = set(scope.peering_ids) - {p.id for p in peerings}
        if missing and accepter_region != scope.region:
            # A cross-region request is logged in the requester's region before the accepter's
            # region knows it: still being created there is not gone.
            unseen = [p for p in env.inventory.peerings(scope.region, ids=missing) if p.status in _SETTLING]
    else:
        peerings = []
    wanted: dict[str, set[str]] = defaultdict(set)
    for peering in peerings:
        for side in (peering.requester, peering.accepter):
            if side.owner_id == env.account_id and side.vpc_id:
                wanted[side.region].add(side.vpc_id)
    vpcs: dict[str, Vpc] = {}
    for region, ids in wanted.items():
        vpcs.update(env.inventory.vpcs(region, ids))
    return peerings, vpcs, unseen


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


def refusal_reason(
    peering: Peering, vpcs: Mapping[str, Vpc], settings: Settings, account_id: str
) -> tuple[str, bool] | None:
    """Why ``peering`` must not be accepted, and whether it may be rejected; ``None`` to accept."""
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
        allowed = "an ACTIVE account of this organization" if settings.allow_organization else "allowed"
        return f"requester account {requester.owner_id} is not {allowed}", True
    if settings.allowed_peer_vpcs and requester.vpc_id not in settings.allowed_peer_vpcs:
        return f"requester VPC {requester.vpc_id} is not allowed", True
    requester_cidrs, accepter_cidrs = side_cidrs(requester, vpcs), side_cidrs(accepter, vpcs)
    if not requester_cidrs or not accepter_cidrs:
        return "CIDRs of the requester VPC are unknown", False
    outside = [cidr for cidr in requester_cidrs if not settings.cidr_allowed(cidr)]
    if outside:
        return f"requester CIDR {', '.join(outside)} is outside ALLOWED_PEER_CIDRS", True
    overlaps = overlapping(requester_cidrs, accepter_cidrs)
    if overlaps:
        pairs = ", ".join(f"{a} overlaps {b}" for a, b in overlaps)
        return f"overlapping CIDRs: {pairs}", True
    return None


def outgoing(peering: Peering, account_id: str) -> bool:
    """A request this account sent to another account: it waits there, there is nothing to decide."""
    return peering.requester.owner_id == account_id and peering.accepter.owner_id != account_id


def plan(
    peerings: Iterable[Peering],
    vpcs: Mapping[str, Vpc],
    settings: Settings,
    account_id: str,
    unseen: Iterable[Peering] = (),
) -> Plan:
    """Accept, refuse (and maybe reject) each request; ``unseen`` ones are not in the accepter's region yet."""
    actions: list[Action] = []
    refused: list[Finding] = []
    waiting: list[Finding] = []
    for peering in sorted(peerings, key=lambda p: p.id):
        region = peering.accepter.region
        if peering.status == ACTIVE or outgoing(peering, account_id):
            continue  # accepted already, or the other account's to decide
        if peering.status == INITIATING:
            waiting.append(Finding(peering.id, region, "still initiating-request: not pending acceptance yet"))
            continue
        verdict = refusal_reason(peering, vpcs, settings, account_id)
        detail = {"requester": f"{peering.requester.owner_id}/{peering.requester.vpc_id}", **_origin(peering)}
        if verdict is None:
            reason = f"allowed request from {detail['requester']} to {peering.accepter.vpc_id}"
            actions.append(Action(ACCEPT, peering.id, region, reason, {"VpcPeeringConnectionId": peering.id}))
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
    peerings, vpcs, unseen = observe(env, scope)
    # ALLOWED_PEER_ACCOUNTS=organization: the organisation is read only when a request is judged.
    judged = any(p.status == PENDING and not outgoing(p, env.account_id) for p in peerings)
    return plan(peerings, vpcs, env.trusting() if judged else env.settings, env.account_id, unseen)


# -- apply ------------------------------------------------------------------------------------
def _accept(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).accept_vpc_peering_connection(**action.params)


def _reject(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).reject_vpc_peering_connection(**action.params)


EXECUTORS: Mapping[str, Executor] = {ACCEPT: _accept, REJECT: _reject}
