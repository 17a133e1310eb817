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

import bisect
import gc
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from peerkeeper.intent.membership import declared_pairs, membership
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


Block = tuple[int, int, int, str]  # (IP version, prefix length, network as an integer, text)


def blocks(cidrs: Iterable[str]) -> tuple[Block, ...]:
    """CIDRs parsed once into integers (the checks compare 122,500 pairs: no parsing in the loop)."""
    found = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        found.append((network.version, network.prefixlen, int(network.network_address), cidr))
    return tuple(found)


def _bits(version: int) -> int:
    return 32 if version == 4 else 128


def blocks_overlap(a: Block, b: Block) -> bool:
    """Two CIDR blocks overlap exactly when the shorter prefix holds the other's network."""
    if a[0] != b[0]:
        return False
    shift = _bits(a[0]) - min(a[1], b[1])
    return a[2] >> shift == b[2] >> shift


class _Peers:
    """Per VPC: the blocks of the peers it has (connections that exist, pairs kept), and their count.

    CIDR blocks overlap only by containment, so a block Q overlaps a peer block B when B starts
    inside Q (B within Q, or the same start), found by bisecting the sorted starts, or when B strictly
    holds Q, found by looking Q's supernet up at each prefix length the peers use: a few operations
    per pair, not a scan (the checks judge 122,500 pairs of 5,000 VPCs in well under a second).
    """

    def __init__(self) -> None:
        self.starts: dict[tuple[str, int], list[int]] = defaultdict(list)  # (vpc, version) -> sorted starts
        self.at_start: dict[tuple[str, int, int], tuple[str, str, str]] = {}  # (vpc, version, start) -> info
        self.exact: dict[tuple[str, int, int, int], tuple[str, str, str]] = {}  # (vpc, version, length, prefix)
        self.lengths: dict[str, set[tuple[int, int]]] = defaultdict(set)
        self.count: dict[str, int] = defaultdict(int)

    def add(self, own: str, peer: str, peer_blocks: Sequence[Block], name: str) -> None:
        for version, length, network, text in peer_blocks:
            info = (peer, text, name)
            if (own, version, network) not in self.at_start:
                bisect.insort(self.starts[(own, version)], network)
                self.at_start[(own, version, network)] = info
            self.exact.setdefault((own, version, length, network >> (_bits(version) - length)), info)
            self.lengths[own].add((version, length))

    def link(self, a: str, a_blocks: Sequence[Block], b: str, b_blocks: Sequence[Block], name: str) -> None:
        self.add(a, b, b_blocks, name)
        self.add(b, a, a_blocks, name)

    def clash(self, own: str, peer: str, peer_blocks: Sequence[Block]) -> str:
        lengths = self.lengths.get(own)
        if not lengths:
            return ""
        for version, length, network, text in peer_blocks:
            bits = _bits(version)
            starts = self.starts.get((own, version), [])
            last = network | ((1 << (bits - length)) - 1)
            index = bisect.bisect_left(starts, network)
            hits = []
            while index < len(starts) and starts[index] <= last:  # peer blocks starting inside this one
                hits.append(self.at_start[(own, version, starts[index])])
                if hits[-1][0] != peer:
                    break
                index += 1
            for known_version, other in lengths:  # a peer block strictly holding this one
                if known_version == version and other < length:
                    hit = self.exact.get((own, version, other, network >> (bits - other)))
                    if hit is not None:
                        hits.append(hit)
            for other_peer, cidr, link in hits:
                if other_peer != peer:
                    return f"{text} of {peer} overlaps {cidr} of {other_peer}, already a peer of {own} ({link})"
        return ""


def compile_and_check(intent: Intent, world: World) -> tuple[list[Pair], list[Verdict], list[IntentFinding]]:
    """The declared pairs, each one's verdict, and the findings (the pure part of every run).

    The cyclic garbage collector is paused meanwhile: the pairs and verdicts are acyclic tuples (one
    each per declared pair, 122,500 for 100 meshes of 50), and collections triggered by their
    allocation only rescan them, a third of the time (docs/benchmarks.md). It is resumed after, as
    it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        pairs = declared_pairs(intent, world.vpcs)
        verdicts, findings = check(intent, pairs, world)
    finally:
        if was_enabled:
            gc.enable()
    return pairs, verdicts, findings


def overlapping_vpcs(parsed: Mapping[str, Sequence[Block]]) -> set[str]:
    """The VPCs a block of which overlaps a block of another VPC (one sort, one pass).

    CIDR blocks nest or are disjoint: sorted by start, a block overlaps an earlier one exactly when it
    starts before the furthest end seen so far, and then it lies inside the block of that end. Only
    these VPCs can make ``CIDR_OVERLAP`` or ``PEER_OVERLAP``: the checks look at them alone.
    """
    spans = sorted(
        (version, network, network | ((1 << (_bits(version) - length)) - 1), vpc_id)
        for vpc_id, found in parsed.items()
        for version, length, network, _text in found
    )
    dirty: set[str] = set()
    furthest: tuple[int, int, str] = (-1, -1, "")  # (version, end, vpc)
    for version, start, end, vpc_id in spans:
        if furthest[0] == version and start <= furthest[1] and furthest[2] != vpc_id:
            dirty.update((vpc_id, furthest[2]))
        if furthest[0] != version or end > furthest[1]:
            furthest = (version, end, vpc_id)
    return dirty


def check(intent: Intent, pairs: Sequence[Pair], world: World) -> tuple[list[Verdict], list[IntentFinding]]:
    """Each pair's verdict (in the pairs' order) and the findings on pairs and on what exists."""
    vpcs = {vpc.id: vpc for vpc in world.vpcs}
    parsed = {vpc.id: blocks(vpc.cidrs) for vpc in world.vpcs}
    networks_of = membership(intent, world.vpcs)
    connections = live_connections(world.peerings)
    declared = {pair.ids: pair for pair in pairs}
    for peering in connections.values():  # a peer this run does not see: the blocks its connection gives
        for side in (peering.requester, peering.accepter):
            parsed.setdefault(side.vpc_id, blocks(side.cidrs))
    judge = _Judge(intent, world, networks_of, parsed, overlapping_vpcs(parsed))
    for ids, peering in connections.items():
        own, other = peering.requester.vpc_id, peering.accepter.vpc_id
        judge.peers.count[own] += 1
        judge.peers.count[other] += 1
        if ids not in declared:  # declared ones join as they are judged (in order, existing first)
            judge.link(own, other, peering.id)
    # Those with a connection first, then the pairs' own order (by their VPCs' keys): a stable partition.
    positions = range(len(pairs))
    existing = [i for i in positions if pairs[i].ids in connections]
    order = existing + [i for i in positions if pairs[i].ids not in connections] if existing else positions
    verdicts: list[Verdict] = list(map(Verdict, pairs))
    judged = judge.judge
    for position in order:
        pair = pairs[position]
        connection = connections.get(pair.ids) if existing else None
        code, reason = judged(pair, connection)
        if code:
            verdicts[position] = Verdict(pair, connection, code, reason)
        else:
            if connection is not None:
                verdicts[position] = Verdict(pair, connection)
            judge.link(pair.first.id, pair.second.id, connection.id if connection is not None else pair.network)
            if connection is None:
                judge.peers.count[pair.first.id] += 1
                judge.peers.count[pair.second.id] += 1
    findings = [
        IntentFinding(
            v.code,
            v.connection.id if v.connection else v.pair.label(),
            v.reason,
            (v.pair.first, v.pair.second),
            v.pair.network,
        )
        for v in verdicts
        if v.code
    ]
    findings += _existing(intent, connections, declared, vpcs, networks_of)
    return verdicts, findings


class _Judge:
    """What judging needs, computed once per check: parsed CIDRs, the VPCs whose CIDRs overlap
    another's (only they are compared), each policy's refusals."""

    def __init__(
        self,
        intent: Intent,
        world: World,
        networks_of: Mapping[str, frozenset[str]],
        parsed: Mapping[str, tuple[Block, ...]],
        dirty: set[str],
    ) -> None:
        self.intent, self.networks_of, self.parsed, self.dirty = intent, networks_of, parsed, dirty
        self.peers = _Peers()
        # Per accepter VPC: the VPCs its account-region's policy refuses as requesters (and why).
        refusals: dict[tuple[str, str], dict[str, str]] = {}
        for accepter in world.vpcs:
            key = (accepter.owner_id, accepter.region)
            if key not in refusals:
                refusals[key] = {}
                for requester in world.vpcs:
                    why = policy_refusal(requester, accepter, world)
                    if why:
                        refusals[key][requester.id] = why
        self.refused_by = {vpc.id: refusals[(vpc.owner_id, vpc.region)] for vpc in world.vpcs}

    def link(self, a: str, b: str, name: str) -> None:
        if b in self.dirty:
            self.peers.add(a, b, self.parsed.get(b, ()), name)
        if a in self.dirty:
            self.peers.add(b, a, self.parsed.get(a, ()), name)

    def judge(self, pair: Pair, connection: Peering | None) -> tuple[str, str]:
        first, second = pair.first, pair.second
        if self.intent.isolate:
            breach = isolation_breach(self.intent, self.networks_of, first.id, second.id)
            if breach:
                return ISOLATION_VIOLATED, breach
        dirty = self.dirty
        first_dirty, second_dirty = first.id in dirty, second.id in dirty
        if first_dirty and second_dirty:
            first_blocks, second_blocks = self.parsed[first.id], self.parsed[second.id]
            overlaps = [(a[3], b[3]) for a in first_blocks for b in second_blocks if blocks_overlap(a, b)]
            if overlaps:
                return CIDR_OVERLAP, "; ".join(f"{a} of {first.id} overlaps {b} of {second.id}" for a, b in overlaps)
        refusal = self.refused_by[second.id].get(first.id) or self.refused_by[first.id].get(second.id)
        if refusal:
            return NOT_ALLOWED, refusal
        peers = self.peers
        if second_dirty or first_dirty:
            clash = (second_dirty and peers.clash(first.id, second.id, self.parsed[second.id])) or (
                first_dirty and peers.clash(second.id, first.id, self.parsed[first.id])
            )
            if clash:
                return PEER_OVERLAP, clash
        if connection is None:
            limit, count = self.intent.max_peerings_per_vpc, peers.count
            if count[first.id] >= limit or count[second.id] >= limit:
                full = [vpc for vpc in (first, second) if count[vpc.id] >= limit]
                names = ", ".join(f"{vpc.id} has {count[vpc.id]}" for vpc in full)
                return PEERING_QUOTA, f"{names} of max-peerings-per-vpc {limit}"
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
