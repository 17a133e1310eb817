"""Check: every declared pair judged before any call (pure, no I/O, like the planners).

Pairs are judged in a stable order, those with a connection first, then by (account, region, VPC
ID) of their two VPCs, so that the same world gives the same choice on every run. In that order,
the first rule a pair breaks is its code:

- ``ISOLATION_VIOLATED``: it joins members of networks that ``isolate`` keeps apart;
- ``CIDR_OVERLAP``: an IPv4 CIDR of one VPC (primary or secondary) overlaps one of the other;
- ``NOT_ALLOWED``: either VPC, judged as a requester would be by the other side's policy (the
  guardrail's own settings of that account and region), fails it: account, VPC or
  ``ALLOWED_PEER_CIDRS``. The file never overrides the policy;
- ``PEER_OVERLAP``: a CIDR of the peer overlaps one of another peer of the same VPC, counting the
  connections that exist and the pairs kept before it;
- ``PEERING_QUOTA``: a new connection would take a VPC beyond ``max-peerings-per-vpc``, counting
  every connection active or on its way.

Connections that exist are reported too: ``ISOLATION_VIOLATED`` when one joins isolated networks,
``UNDECLARED`` when one is tagged ``peerkeeper:intent`` with a network that does not declare it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from peerkeeper.intent.membership import membership
from peerkeeper.intent.model import (
    CIDR_OVERLAP,
    INTENT_TAG_KEY,
    ISOLATION_VIOLATED,
    NOT_ALLOWED,
    PEER_OVERLAP,
    PEERING_QUOTA,
    UNDECLARED,
    Intent,
    IntentFinding,
    Pair,
    Verdict,
    World,
)
from peerkeeper.model import ACTIVE, INITIATING, PENDING, PROVISIONING, Peering, Vpc
from peerkeeper.peering import overlapping

# "Active or on its way": a connection in one of these satisfies its pair, and takes a quota slot.
ON_ITS_WAY = (ACTIVE, PROVISIONING, PENDING, INITIATING)


def live_connections(peerings: Iterable[Peering]) -> dict[frozenset[str], Peering]:
    """Per pair of VPC IDs, the connection that satisfies it: the most advanced, then the lowest ID."""
    found: dict[frozenset[str], Peering] = {}
    for peering in sorted(peerings, key=lambda p: (ON_ITS_WAY.index(p.status) if p.status in ON_ITS_WAY else 9, p.id)):
        if peering.status not in ON_ITS_WAY:
            continue
        found.setdefault(frozenset({peering.requester.vpc_id, peering.accepter.vpc_id}), peering)
    return found


def isolation_breach(intent: Intent, networks_of: Mapping[str, frozenset[str]], a: str, b: str) -> str:
    """Why a link between VPCs ``a`` and ``b`` joins isolated networks; empty when it does not."""
    of_a, of_b = networks_of.get(a, frozenset()), networks_of.get(b, frozenset())
    for group in intent.isolate:
        for left in sorted(of_a & set(group)):
            for right in sorted(of_b & set(group)):
                if left != right:
                    return f"{a} is in {left}, {b} is in {right}, and isolate keeps {', '.join(group)} apart"
    return ""


def policy_refusal(requester: Vpc, accepter: Vpc, world: World) -> str:
    """Why the accepter's policy would refuse ``requester``; empty when it would accept it."""
    policy = world.policies.get((accepter.owner_id, accepter.region))
    if policy is None:
        return ""  # not a unit of this run: its own stack judges it
    where = f"the policy of {accepter.owner_id} in {accepter.region}"
    if requester.owner_id not in policy.allowed_peer_accounts:
        return f"{requester.id}: account {requester.owner_id} is not in ALLOWED_PEER_ACCOUNTS of {where}"
    if policy.allowed_peer_vpcs and requester.id not in policy.allowed_peer_vpcs:
        return f"{requester.id} is not in ALLOWED_PEER_VPCS of {where}"
    outside = [cidr for cidr in requester.cidrs if not policy.cidr_allowed(cidr)]
    if outside:
        return f"{requester.id}: CIDR {', '.join(outside)} is outside ALLOWED_PEER_CIDRS of {where}"
    return ""


class _Peers:
    """Per VPC: the peers it has (connections that exist, pairs kept) and their count."""

    def __init__(self) -> None:
        self.cidrs: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # vpc -> (peer vpc, cidr, link)
        self.count: dict[str, int] = defaultdict(int)

    def link(self, a: str, a_cidrs: Sequence[str], b: str, b_cidrs: Sequence[str], name: str) -> None:
        self.cidrs[a].extend((b, cidr, name) for cidr in b_cidrs)
        self.cidrs[b].extend((a, cidr, name) for cidr in a_cidrs)

    def clash(self, own: Vpc, peer: Vpc) -> str:
        for other, cidr, name in self.cidrs[own.id]:
            if other == peer.id:
                continue
            hits = overlapping(peer.cidrs, [cidr])
            if hits:
                mine = hits[0][0]
                return f"{mine} of {peer.id} overlaps {cidr} of {other}, already a peer of {own.id} ({name})"
        return ""


def _cidrs(vpc_id: str, fallback: Sequence[str], vpcs: Mapping[str, Vpc]) -> Sequence[str]:
    vpc = vpcs.get(vpc_id)
    return vpc.cidrs if vpc is not None else fallback


def check(intent: Intent, pairs: Sequence[Pair], world: World) -> tuple[list[Verdict], list[IntentFinding]]:
    """Each pair's verdict (in the pairs' order) and the findings on pairs and on what exists."""
    vpcs = {vpc.id: vpc for vpc in world.vpcs}
    networks_of = membership(intent, world.vpcs)
    connections = live_connections(world.peerings)
    declared = {pair.ids: pair for pair in pairs}
    peers = _Peers()
    for ids, peering in connections.items():
        own, other = peering.requester, peering.accepter
        peers.count[own.vpc_id] += 1
        peers.count[other.vpc_id] += 1
        if ids not in declared:  # declared ones join as they are judged (in order, existing first)
            peers.link(
                own.vpc_id,
                _cidrs(own.vpc_id, own.cidrs, vpcs),
                other.vpc_id,
                _cidrs(other.vpc_id, other.cidrs, vpcs),
                peering.id,
            )
    order = sorted(pairs, key=lambda pair: (pair.ids not in connections, pair.key))
    verdicts: dict[frozenset[str], Verdict] = {}
    for pair in order:
        connection = connections.get(pair.ids)
        code, reason = _judge(intent, pair, connection=connection, world=world, networks_of=networks_of, peers=peers)
        verdicts[pair.ids] = Verdict(pair, connection, code, reason)
        if not code:
            name = connection.id if connection is not None else f"declared by {pair.network}"
            peers.link(pair.first.id, pair.first.cidrs, pair.second.id, pair.second.cidrs, name)
            if connection is None:
                peers.count[pair.first.id] += 1
                peers.count[pair.second.id] += 1
    findings = [
        IntentFinding(
            v.code,
            v.connection.id if v.connection else v.pair.label(),
            v.reason,
            (v.pair.first, v.pair.second),
            v.pair.network,
        )
        for v in (verdicts[pair.ids] for pair in pairs)
        if v.code
    ]
    findings += _existing(intent, connections, declared, vpcs, networks_of)
    return [verdicts[pair.ids] for pair in pairs], findings


def _judge(
    intent: Intent,
    pair: Pair,
    *,
    connection: Peering | None,
    world: World,
    networks_of: Mapping[str, frozenset[str]],
    peers: _Peers,
) -> tuple[str, str]:
    first, second = pair.first, pair.second
    breach = isolation_breach(intent, networks_of, first.id, second.id)
    if breach:
        return ISOLATION_VIOLATED, breach
    overlaps = overlapping(first.cidrs, second.cidrs)
    if overlaps:
        return CIDR_OVERLAP, "; ".join(f"{a} of {first.id} overlaps {b} of {second.id}" for a, b in overlaps)
    refusal = policy_refusal(first, second, world) or policy_refusal(second, first, world)
    if refusal:
        return NOT_ALLOWED, refusal
    clash = peers.clash(first, second) or peers.clash(second, first)
    if clash:
        return PEER_OVERLAP, clash
    if connection is None:
        full = [vpc for vpc in (first, second) if peers.count[vpc.id] + 1 > intent.max_peerings_per_vpc]
        if full:
            names = ", ".join(f"{vpc.id} has {peers.count[vpc.id]}" for vpc in full)
            return PEERING_QUOTA, f"{names} of max-peerings-per-vpc {intent.max_peerings_per_vpc}"
    return "", ""


def _existing(
    intent: Intent,
    connections: Mapping[frozenset[str], Peering],
    declared: Mapping[frozenset[str], Pair],
    vpcs: Mapping[str, Vpc],
    networks_of: Mapping[str, frozenset[str]],
) -> list[IntentFinding]:
    """Findings on connections that exist: undeclared ones tagged by intent, isolated networks joined."""
    findings: list[IntentFinding] = []
    for ids, peering in sorted(connections.items(), key=lambda item: item[1].id):
        a, b = peering.requester.vpc_id, peering.accepter.vpc_id
        seen = tuple(vpcs[vpc_id] for vpc_id in (a, b) if vpc_id in vpcs)
        region = peering.requester.region
        pair = declared.get(ids)
        breach = isolation_breach(intent, networks_of, a, b)
        if breach and pair is None:  # a declared pair breaching isolation is reported as infeasible
            findings.append(IntentFinding(ISOLATION_VIOLATED, peering.id, breach, seen, region=region))
        tagged = dict(peering.tags).get(INTENT_TAG_KEY)
        if tagged is None or len(seen) < 2:
            continue  # untagged, or a VPC this run does not see: its pair cannot be judged here
        if intent.network(tagged) is None:
            reason = f"{peering.id} is tagged {INTENT_TAG_KEY}={tagged}, a network the file does not declare"
            findings.append(IntentFinding(UNDECLARED, peering.id, reason, seen, tagged, region))
        elif pair is None or tagged not in pair.networks:
            reason = f"{peering.id} is tagged {INTENT_TAG_KEY}={tagged}, but {tagged} does not declare {a} <-> {b}"
            findings.append(IntentFinding(UNDECLARED, peering.id, reason, seen, tagged, region))
    return findings
