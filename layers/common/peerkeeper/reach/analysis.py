"""The reachability model: pure functions over observed data, AWS's semantics.

A path is the hops a packet meets, in order. Forward (source to destination): the source's security
groups (egress), the source subnet's network ACL (outbound), the source subnet's route table
(longest prefix match; the subnet's explicit table, else the VPC's main table), the peering
connection (it must be ``active`` and join the two VPCs), the destination subnet's network ACL
(inbound), the destination's security groups (ingress). Return (the replies): the destination
subnet's ACL (outbound) and route table, the connection, the source subnet's ACL (inbound). Security
groups are stateful, so replies need nothing from them; ACLs are not, so replies must pass both ACLs on
the client's ephemeral ports (1024-65535 covers every operating system).

Within one subnet neither ACLs nor route tables are consulted; within one VPC no peering is.

Every hop is judged on its own, so every blocking component is reported, in the order a packet meets
it. For tcp/udp without a port the question is "does any port get through": each hop narrows the
set of ports, and the hop where nothing is left is the blocking one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from peerkeeper.reach import fixes
from peerkeeper.reach.model import (
    ACTIVE,
    ALL,
    ICMP,
    ICMPV6,
    TCP,
    UDP,
    AclEntry,
    Address,
    Network,
    NetworkAcl,
    Node,
    Peering,
    Route,
    RouteTable,
    SgRule,
    Traffic,
    covers,
    host,
    network,
    overlaps,
    shown,
)
from peerkeeper.reach.packets import EMPTY, EVERY_PORT, Packet, PortSet

FORWARD, RETURN = "forward", "return"
NO_ROUTE = "NO_ROUTE_TO_DESTINATION"
MORE_SPECIFIC_ROUTE = "MORE_SPECIFIC_ROUTE"
HIGHER_PRIORITY_ROUTE = "HIGHER_PRIORITY_ROUTE"
SG_MISMATCH = "ENI_SG_RULES_MISMATCH"
ACL_RESTRICTION = "SUBNET_ACL_RESTRICTION"
BAD_STATE = "BAD_STATE"


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Explanation:
    code: str
    direction: str
    component: str
    reason: str
    fixes: tuple[str, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "direction": self.direction,
            "component": self.component,
            "reason": self.reason,
            **self.detail,
            "fixes": list(self.fixes),
        }


@dataclass(frozen=True)
class Hop:
    direction: str
    step: str  # "sg egress", "acl out", "route table", "peering", "acl in", "sg ingress"
    component: str
    ok: bool
    detail: str
    explanation: Explanation | None = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"step": self.step, "component": self.component, "ok": self.ok, "detail": self.detail}
        if self.explanation is not None:
            found["code"] = self.explanation.code
        return found


@dataclass(frozen=True)
class Path:
    source: Node
    destination: Node
    hops: tuple[Hop, ...]

    @property
    def reachable(self) -> bool:
        return all(hop.ok for hop in self.hops)

    def direction(self, name: str) -> list[Hop]:
        return [hop for hop in self.hops if hop.direction == name]


def explanations(paths: Sequence[Path]) -> list[Explanation]:
    """Every blocking component of every path, in the order met, once (load balancer nodes share many)."""
    seen: set[tuple[str, str, str]] = set()
    found = []
    for path in paths:
        for hop in path.hops:
            e = hop.explanation
            if e is not None and (e.code, e.direction, e.component) not in seen:
                seen.add((e.code, e.direction, e.component))
                found.append(e)
    return found


def all_fixes(paths: Sequence[Path]) -> list[str]:
    return list(dict.fromkeys(fix for e in explanations(paths) for fix in e.fixes))


# -- the question -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    network: Network
    source: Node
    destination: Node
    traffic: Traffic
    # (route table, destination CIDR) pairs that `peerkeeper apply` would route (its own planner says so)
    planned_routes: Collection[tuple[str, str]] = ()

    @property
    def version(self) -> int:
        return self.destination.address.version

    @property
    def same_subnet(self) -> bool:
        return self.source.subnet_id == self.destination.subnet_id

    @property
    def same_vpc(self) -> bool:
        return self.source.vpc_id == self.destination.vpc_id

    def block_of(self, node: Node) -> str:
        """The CIDR a fix should name for ``node``: its VPC's block, else the node's own address."""
        vpc = self.network.vpcs.get(node.vpc_id)
        return (vpc.block_of(node.address) if vpc else None) or node.address.compressed


def analyse(question: Question) -> Path:
    hops = [*forward(question), *backward(question)]
    return Path(question.source, question.destination, tuple(hops))


def analyse_all(
    network: Network,
    source: Node,
    destinations: Sequence[Node],
    traffic: Traffic,
    planned_routes: Collection[tuple[str, str]] = (),
) -> tuple[Path, ...]:
    return tuple(analyse(Question(network, source, node, traffic, planned_routes)) for node in destinations)


def forward(q: Question) -> Iterator[Hop]:
    if _via_internet(q):
        yield from internet_forward(q)
        return
    source, destination = q.source, q.destination
    packet = Packet.request(q.traffic, q.version)
    running = packet.ports
    yield from state_hops(source)
    hop, running = sg_hop(q, FORWARD, source, destination, egress=True, packet=packet, running=running)
    yield hop
    if not q.same_subnet:
        hop, running = acl_hop(q, FORWARD, source, destination, egress=True, packet=packet, running=running)
        yield hop
        yield route_hop(q, FORWARD, source, destination)
        if not q.same_vpc:
            yield from peering_hops(q, FORWARD)
        hop, running = acl_hop(q, FORWARD, destination, source, egress=False, packet=packet, running=running)
        yield hop
    hop, running = sg_hop(q, FORWARD, destination, source, egress=False, packet=packet, running=running)
    yield hop
    yield from state_hops(destination)
    yield from listener_hops(q, packet, running)


def backward(q: Question) -> Iterator[Hop]:
    if _via_internet(q):
        yield from internet_backward(q)
        return
    if q.same_subnet:
        return
    source, destination = q.source, q.destination
    packet = Packet.reply(q.traffic, q.version)
    yield acl_hop(q, RETURN, destination, source, egress=True, packet=packet, running=packet.ports)[0]
    yield route_hop(q, RETURN, destination, source)
    if not q.same_vpc:
        yield from peering_hops(q, RETURN)
    yield acl_hop(q, RETURN, source, destination, egress=False, packet=packet, running=packet.ports)[0]


def _narrow(running: PortSet, allowed: PortSet) -> tuple[PortSet, bool]:
    """The ports still possible after a hop, and whether this hop is the one that blocks."""
    left = running & allowed
    return left, not allowed or (bool(running) and not left)


# -- security groups --------------------------------------------------------------------------
def rule_ports(rule: SgRule, packet: Packet) -> PortSet:
    """The asked ports a security group rule allows (ignoring its peer)."""
    if rule.protocol == ALL:
        return packet.ports
    if packet.protocol == ALL or rule.protocol != packet.protocol:
        return EMPTY
    if packet.protocol in (TCP, UDP):
        return packet.ports & (EVERY_PORT if rule.from_port == -1 else PortSet.span(rule.from_port, rule.to_port))
    if packet.protocol in (ICMP, ICMPV6):
        type_ok = rule.from_port in (-1, packet.icmp_type)
        code_ok = rule.to_port in (-1, packet.icmp_code)
        return packet.ports if type_ok and code_ok else EMPTY
    return packet.ports


def peer_matches(network: Network, rule: SgRule, local: Node, peer: Node) -> tuple[bool, str]:
    """Whether ``rule`` names ``peer``; a note when a reference would match but AWS ignores it."""
    if rule.peer_kind == "cidr":
        return covers(rule.peer, peer.address), ""
    if rule.peer_kind == "prefix-list":
        entries = network.prefix_lists.get(rule.peer)
        if entries is None:
            return False, f"{rule.group_id}: the entries of prefix list {rule.peer} could not be read"
        return any(covers(entry, peer.address) for entry in entries), ""
    if rule.peer not in peer.group_ids:
        return False, ""
    if local.vpc_id == peer.vpc_id:
        return True, ""
    peering = network.peering_between(local.vpc_id, peer.vpc_id)
    if peering is None or peering.status != ACTIVE:
        return False, f"{rule.group_id} references {rule.peer}, but no active peering joins the two VPCs"
    if peering.cross_region:
        return False, (
            f"{rule.group_id} references {rule.peer} across the cross-region peering {peering.id}: "
            "AWS applies security group references only within one region"
        )
    return True, ""


def sg_hop(
    q: Question, direction: str, local: Node, peer: Node, *, egress: bool, packet: Packet, running: PortSet
) -> tuple[Hop, PortSet]:
    """``local``'s security groups towards ``peer`` (egress: ``local`` sends; ingress: it receives)."""
    step = "sg egress" if egress else "sg ingress"
    groups = ", ".join(local.group_ids) or "-"
    if not local.group_ids and local.kind == "load-balancer":
        detail = "no security groups: a network load balancer without groups does not filter"
        return Hop(direction, step, "-", True, detail), running
    allowed, matched, notes = EMPTY, [], []
    for group_id in local.group_ids:
        group = q.network.groups.get(group_id)
        for rule in group.rules if group else ():
            if rule.egress != egress:
                continue
            ports = rule_ports(rule, packet)
            if not ports:
                continue
            ok, note = peer_matches(q.network, rule, local, peer)
            if note:
                notes.append(note)
            if ok:
                allowed |= ports
                matched.append(rule)
    left, blocked = _narrow(running, allowed)
    if not blocked:
        rules = "; ".join(f"{r.group_id}: {r.text()}" for r in matched[:2])
        return Hop(direction, step, local.group_ids[0], True, f"allows it ({rules})"), left
    towards = f"to {shown(peer.address)}" if egress else f"from {shown(peer.address)}"
    if allowed:
        reason = (
            f"{groups} allow {packet.text()} {towards} only on {allowed.text()}, "
            f"which the hops before do not ({running.text()})"
        )
    else:
        reason = f"no rule of {groups} allows {packet.text()} {towards}"
    reason += "".join(f"; {note}" for note in dict.fromkeys(notes))
    fix = fixes.security_group(local, egress, q.traffic, q.block_of(peer))
    component = local.group_ids[0] if local.group_ids else "-"
    info = {"security_groups": list(local.group_ids), "interface": local.interface or None, "vpc": local.vpc_id}
    explanation = Explanation(SG_MISMATCH, direction, component, reason, (fix,), info)
    return Hop(direction, step, explanation.component, False, reason, explanation), left


# -- network ACLs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class AclDecision:
    allowed: PortSet
    allowed_by: tuple[AclEntry, ...]
    denied: tuple[tuple[PortSet, AclEntry | None], ...]  # None: the implicit deny (the "*" rule)


def entry_ports(entry: AclEntry, packet: Packet) -> PortSet | None:
    """The ports an ACL entry speaks for (``None``: it does not apply to this packet)."""
    if entry.protocol == ALL:
        return EVERY_PORT
    if entry.protocol != packet.protocol:
        return None
    if packet.protocol in (TCP, UDP):
        return PortSet.span(entry.from_port, entry.to_port)
    if packet.protocol in (ICMP, ICMPV6):
        type_ok = entry.icmp_type in (-1, packet.icmp_type)
        code_ok = entry.icmp_code in (-1, packet.icmp_code)
        return EVERY_PORT if type_ok and code_ok else None
    return EVERY_PORT


def evaluate_acl(acl: NetworkAcl, egress: bool, peer: Address, packet: Packet) -> AclDecision:
    """Rules in number order, the first match decides each port, what is left falls to ``*``.

    A peer that is a range (a load balancer node) is matched by an allow only when the rule covers
    all of it, by a deny as soon as the rule touches it.
    """
    remaining = packet.ports
    allowed, allowed_by = EMPTY, []
    denied: list[tuple[PortSet, AclEntry | None]] = []
    for entry in acl.rules(egress):
        if not overlaps(entry.cidr, peer) or (entry.allow and not covers(entry.cidr, peer)):
            continue
        if packet.protocol == ALL and entry.protocol != ALL:
            if not entry.allow:  # "all traffic" is not allowed once any part of it is denied
                denied.append((remaining, entry))
                remaining = EMPTY
                break
            continue
        ports = entry_ports(entry, packet)
        matched = remaining & ports if ports is not None else EMPTY
        if not matched:
            continue
        if entry.allow:
            allowed |= matched
            allowed_by.append(entry)
        else:
            denied.append((matched, entry))
        remaining -= matched
        if not remaining:
            break
    if remaining:
        denied.append((remaining, None))
    return AclDecision(allowed, tuple(allowed_by), tuple(denied))


def acl_hop(
    q: Question, direction: str, local: Node, peer: Node, *, egress: bool, packet: Packet, running: PortSet
) -> tuple[Hop, PortSet]:
    """The network ACL of ``local``'s subnet towards ``peer`` (egress: out of the subnet; else in)."""
    step = "acl out" if egress else "acl in"
    acl = q.network.acl_of(local.subnet_id, local.vpc_id)
    if acl is None:
        reason = f"the network ACL of {local.subnet_id} could not be read"
        explanation = Explanation(ACL_RESTRICTION, direction, local.subnet_id, reason, (), {"subnet": local.subnet_id})
        return Hop(direction, step, local.subnet_id, False, reason, explanation), EMPTY
    decision = evaluate_acl(acl, egress, peer.address, packet)
    if direction == FORWARD:
        left, blocked = _narrow(running, decision.allowed)
    else:  # replies must pass on every ephemeral port: the client picks it
        left, blocked = decision.allowed, bool(decision.denied)
    if not blocked:
        rules = "; ".join(entry.text() for entry in decision.allowed_by[:2])
        return Hop(direction, step, acl.id, True, rules), left
    asked = running if direction == FORWARD and running else packet.ports
    ports, entry = next(((p & asked, e) for p, e in decision.denied if p & asked), decision.denied[0])
    towards = f"to {shown(peer.address)}" if egress else f"from {shown(peer.address)}"
    what = "replies " if direction == RETURN else ""
    shown_packet = Packet(packet.protocol, ports or packet.ports, packet.icmp_type, packet.icmp_code)
    rule = entry.text() if entry is not None else "no rule allows it: the implicit deny (rule *)"
    reason = f"{acl.id} ({local.subnet_id}) drops {what}{shown_packet.text()} {towards}: {rule}"
    if decision.allowed and direction == FORWARD:
        reason += f" (it allows {decision.allowed.text()})"
    fix = fixes.acl_entry(acl, egress, entry, shown_packet, q.block_of(peer), region=local.region)
    acl_rule = entry.to_dict() if entry is not None else {"rule_number": "*", "rule_action": "deny", "egress": egress}
    detail = {"subnet": local.subnet_id, "acl_rule": acl_rule, "vpc": local.vpc_id}
    explanation = Explanation(ACL_RESTRICTION, direction, acl.id, reason, (fix,), detail)
    return Hop(direction, step, acl.id, False, reason, explanation), left


# -- routes -----------------------------------------------------------------------------------
def route_prefix(route: Route, address: Address, prefix_lists: Mapping[str, Sequence[str]]) -> int | None:
    """How specifically ``route`` matches ``address`` (its prefix length), or ``None``."""
    if route.prefix_list:
        lengths = [int(e.split("/")[1]) for e in prefix_lists.get(route.destination, ()) if covers(e, address)]
        return max(lengths) if lengths else None
    return int(route.destination.split("/")[1]) if covers(route.destination, address) else None


def longest_prefix(table: RouteTable, address: Address, prefix_lists: Mapping[str, Sequence[str]]) -> list[Route]:
    """The routes that match ``address``, in AWS's order of preference (the first one is used).

    The longest prefix first; between routes of the same length, static routes before prefix-list
    routes before propagated ones (AWS's route priority). The sort is stable: the table's order last.
    """
    matching = [(length, r) for r in table.routes if (length := route_prefix(r, address, prefix_lists)) is not None]
    return [route for _, route in sorted(matching, key=lambda pair: (-pair[0], pair[1].priority))]


def matched_entry(route: Route, address: Address, prefix_lists: Mapping[str, Sequence[str]]) -> str:
    """The entry of a prefix-list route that matches ``address`` ("" for a CIDR route)."""
    if not route.prefix_list:
        return ""
    entries = [e for e in prefix_lists.get(route.destination, ()) if covers(e, address)]
    return max(entries, key=lambda e: int(e.split("/")[1]), default="")


def route_leads(network: Network, route: Route, from_vpc: str, to_vpc: str) -> tuple[bool, str]:
    """Whether a route takes the packet towards ``to_vpc``, and why not."""
    if route.state != ACTIVE:
        return False, f"the route {route.text()} is {route.state}"
    if route.target == "local":
        return from_vpc == to_vpc, "" if from_vpc == to_vpc else f"{route.destination} is local to {from_vpc}"
    if route.target.startswith("pcx-"):
        peering = network.peerings.get(route.target)
        if peering is None:
            return False, f"it routes {route.destination} to {route.target}, which does not exist (any more)"
        if not peering.joins(from_vpc, to_vpc):
            other = peering.other_side(from_vpc)
            where = other.vpc_id if other else "another VPC"
            return False, f"it routes {route.destination} to {route.target}, which leads to {where}, not {to_vpc}"
        return True, ""
    if from_vpc == to_vpc:
        return False, f"it routes {route.destination} to {route.target} instead of delivering it locally"
    return False, f"it routes {route.destination} to {route.target}, which peerkeeper why does not follow to {to_vpc}"


def route_hop(q: Question, direction: str, sender: Node, receiver: Node) -> Hop:
    table = q.network.route_table_of(sender.subnet_id, sender.vpc_id)
    if table is None:
        reason = f"no route table of {sender.subnet_id} ({sender.vpc_id}) could be read"
        explanation = Explanation(NO_ROUTE, direction, sender.subnet_id, reason, (), {"subnet": sender.subnet_id})
        return Hop(direction, "route table", sender.subnet_id, False, reason, explanation)
    routes = longest_prefix(table, receiver.address, q.network.prefix_lists)
    if routes:
        ok, why_not = route_leads(q.network, routes[0], sender.vpc_id, receiver.vpc_id)
        if ok:
            entry = matched_entry(routes[0], receiver.address, q.network.prefix_lists)
            return Hop(direction, "route table", table.id, True, routes[0].text(entry))
    else:
        why_not = f"it has no route for {shown(receiver.address)}"
    code = NO_ROUTE
    leading = next((r for r in routes[1:] if route_leads(q.network, r, sender.vpc_id, receiver.vpc_id)[0]), None)
    if leading is not None:  # a route that would lead there loses: to a longer prefix, or to a higher priority
        lengths = {route_prefix(r, receiver.address, q.network.prefix_lists) for r in (routes[0], leading)}
        code = MORE_SPECIFIC_ROUTE if len(lengths) > 1 else HIGHER_PRIORITY_ROUTE
        why_not += f" (it wins over {leading.text()})"
    what = "replies to" if direction == RETURN else "traffic for"
    reason = (
        f"{table.id} ({sender.subnet_id}, {sender.vpc_id}) does not route {what} {shown(receiver.address)}: {why_not}"
    )
    fix = _route_fix(q, table, receiver, routes[0] if routes else None)
    detail = {
        "route_table": table.id,
        "subnet": sender.subnet_id,
        "vpc": sender.vpc_id,
        "destination_address": shown(receiver.address),
        "route": routes[0].to_dict() if routes else None,
    }
    explanation = Explanation(code, direction, table.id, reason, tuple(fix), detail)
    return Hop(direction, "route table", table.id, False, reason, explanation)


def _route_fix(q: Question, table: RouteTable, receiver: Node, used: Route | None) -> list[str]:
    if table.vpc_id == receiver.vpc_id:
        return [fixes.delete_route(table, used)] if used is not None and used.target != "local" else []
    cidr = q.block_of(receiver)
    peering = q.network.peering_between(table.vpc_id, receiver.vpc_id)
    if peering is None:
        return [fixes.create_peering(q.network, table.vpc_id, table.region, receiver)]
    if any(t == table.id and covers(c, receiver.address) for t, c in q.planned_routes):
        return [fixes.peerkeeper_apply(table, cidr, peering.id)]
    existing = next((r for r in table.routes if r.destination == cidr), None)
    return [fixes.route(table, cidr, peering.id, replace=existing is not None)]


# -- the peering connection -------------------------------------------------------------------
def _peering_on_the_way(q: Question) -> Peering | None:
    table = q.network.route_table_of(q.source.subnet_id, q.source.vpc_id)
    routes = longest_prefix(table, q.destination.address, q.network.prefix_lists) if table else []
    used = q.network.peerings.get(routes[0].target) if routes else None
    if used is not None and used.joins(q.source.vpc_id, q.destination.vpc_id):
        return used
    return q.network.peering_between(q.source.vpc_id, q.destination.vpc_id)


def peering_hops(q: Question, direction: str) -> Iterator[Hop]:
    peering = _peering_on_the_way(q)
    if peering is None:
        return  # the route table's hop says so, and how to create one
    requester, accepter = peering.requester, peering.accepter
    sides = f"{requester.vpc_id} ↔ {accepter.vpc_id}"
    if peering.cross_region:
        sides = f"{requester.vpc_id} ({requester.region}) ↔ {accepter.vpc_id} ({accepter.region})"
    if peering.status == ACTIVE:
        yield Hop(direction, "peering", peering.id, True, f"active: {sides}")
        return
    reason = f"{peering.id} is {peering.status or 'unknown'}, not active ({sides})"
    if direction == RETURN:  # said once, on the way out
        yield Hop(direction, "peering", peering.id, False, reason)
        return
    detail = {"state": peering.status, "vpcs": [peering.requester.vpc_id, peering.accepter.vpc_id]}
    explanation = Explanation(BAD_STATE, direction, peering.id, reason, (fixes.peering_state(peering),), detail)
    yield Hop(direction, "peering", peering.id, False, reason, explanation)


# -- instances --------------------------------------------------------------------------------
RUNNING = "running"


def state_hops(node: Node) -> Iterator[Hop]:
    """An instance that is not running neither sends nor answers (said only when it is not)."""
    if node.kind != "instance" or not node.state or node.state == RUNNING:
        return
    reason = f"{node.name} is {node.state}, not running: it neither sends nor answers"
    detail = {"instance": node.name, "state": node.state, "vpc": node.vpc_id}
    explanation = Explanation(BAD_STATE, FORWARD, node.name, reason, (fixes.start_instance(node),), detail)
    yield Hop(FORWARD, "instance", node.name, False, reason, explanation)


# -- load balancers ---------------------------------------------------------------------------
LISTENERS_MISMATCH = "ELB_LISTENERS_MISMATCH"


def listener_hops(q: Question, packet: Packet, running: PortSet) -> Iterator[Hop]:
    """A load balancer accepts only what its listeners serve: their ports, tcp or udp, never icmp."""
    lb = q.destination.load_balancer
    if lb is None or lb.kind == "gateway":  # a gateway load balancer is a bump in the wire, not a destination
        return
    allowed = EMPTY
    for listener in lb.listeners:
        if listener.serves(packet.protocol):
            allowed |= PortSet.span(listener.port, listener.port)
    where = f"{lb.name} ({lb.kind}, {lb.region})"
    if packet.protocol in (TCP, UDP):
        left, blocked = _narrow(running, allowed)
        blocked = blocked or not packet.ports & allowed  # said even when a hop before blocked the port already
        if not blocked:
            yield Hop(FORWARD, "listener", lb.name, True, f"{where} listens on {left.text()}")
            return
        reason = f"no listener of {where} serves {packet.text()}: it listens on {lb.ports_text()}"
        fix: tuple[str, ...] = (fixes.listener(lb, q.traffic),)
    else:
        what = "answers no icmp (ping)" if packet.protocol in (ICMP, ICMPV6) else "does not take all traffic"
        reason = f"{where} {what}: a load balancer accepts only its listeners' ports ({lb.ports_text()})"
        fix = ()
    detail = {
        "load_balancer": lb.name,
        "load_balancer_arn": lb.arn or None,
        "listeners": [{"protocol": listener.protocol, "port": listener.port} for listener in lb.listeners],
    }
    explanation = Explanation(LISTENERS_MISMATCH, FORWARD, lb.id, reason, fix, detail)
    yield Hop(FORWARD, "listener", lb.name, False, reason, explanation)


# -- an internet-facing load balancer: over the source's route to the internet --------------
PUBLIC = {4: network("0.0.0.0/0"), 6: network("::/0")}
INTERNET_TARGETS = ("igw-", "nat-", "eigw-")
GATEWAY_NAMES = {"igw-": "an internet gateway", "nat-": "a NAT gateway", "eigw-": "an egress-only gateway"}


def _via_internet(q: Question) -> bool:
    lb = q.destination.load_balancer
    return lb is not None and lb.internet_facing


def _public_side(q: Question) -> Node:
    """The load balancer's public addresses, as the source sees them (unknown: any public address)."""
    lb = q.destination
    return Node("internet", f"{lb.name} (public addresses)", "", PUBLIC[q.version], "", "", lb.region, "", ())


@dataclass(frozen=True)
class Exit:
    """How the source leaves for the internet: the route's target, the NAT gateway, the address seen."""

    route: Route | None
    nat: Node | None = None  # the NAT gateway as a node of its subnet
    seen_as: Node | None = None  # the source's address as the load balancer sees it
    problem: Explanation | None = None  # why there is no address to be seen as


def internet_exit(q: Question) -> Exit:
    source = q.source
    table = q.network.route_table_of(source.subnet_id, source.vpc_id)
    routes = longest_prefix(table, PUBLIC[q.version], q.network.prefix_lists) if table else []
    route = routes[0] if routes else None
    if route is None or route.state != ACTIVE or not route.target.startswith(INTERNET_TARGETS):
        return Exit(route)
    if route.target.startswith("nat-"):
        nat = q.network.nat_gateways.get(route.target)
        if nat is None:
            return Exit(route)
        address = nat.private_address or str(source.address.network_address)
        node = Node(
            "nat-gateway", nat.id, "", host(address), nat.subnet_id, nat.vpc_id, source.region, source.owner_id, ()
        )
        if not nat.public_addresses:
            reason = f"{nat.id} has no public address (a private NAT gateway): it cannot reach a public load balancer"
            problem = Explanation(NO_ROUTE, FORWARD, nat.id, reason, (), {"nat_gateway": nat.id})
            return Exit(route, node, None, problem)
        public = nat.public_addresses[0]
        seen = Node("public-address", f"{nat.id} ({public})", "", host(public), "", "", source.region, "", ())
        return Exit(route, node, seen)
    if q.version == 6:
        return Exit(route, None, replace(source, kind="public-address", group_ids=(), vpc_id="", subnet_id=""))
    if source.public_address:
        public = source.public_address
        seen = Node("public-address", f"{source.name} ({public})", "", host(public), "", "", source.region, "", ())
        return Exit(route, None, seen)
    reason = (
        f"{route.target} carries only traffic of an interface with a public address, and {source.name} has none "
        f"({source.interface or source.name})"
    )
    detail = {"internet_gateway": route.target, "interface": source.interface or None}
    fix = fixes.public_address(source)
    return Exit(route, None, None, Explanation(NO_ROUTE, FORWARD, route.target, reason, (fix,), detail))


def internet_route_hop(q: Question, direction: str, sender: Node, receiver: Node, *, gateways: tuple[str, ...]) -> Hop:
    """``sender``'s subnet must route ``receiver`` (a public address, or any) to one of ``gateways``."""
    table = q.network.route_table_of(sender.subnet_id, sender.vpc_id)
    if table is None:
        reason = f"no route table of {sender.subnet_id} ({sender.vpc_id}) could be read"
        explanation = Explanation(NO_ROUTE, direction, sender.subnet_id, reason, (), {"subnet": sender.subnet_id})
        return Hop(direction, "route table", sender.subnet_id, False, reason, explanation)
    routes = longest_prefix(table, receiver.address, q.network.prefix_lists)
    route = routes[0] if routes else None
    wanted = " or ".join(GATEWAY_NAMES[g] for g in gateways)
    usable = route is not None and route.state == ACTIVE and route.target.startswith(gateways)
    if route is not None and usable and (not route.target.startswith("nat-") or route.target in q.network.nat_gateways):
        return Hop(direction, "route table", table.id, True, f"{route.text()}: to the internet")
    if route is None:
        why_not = f"it has no route for {shown(receiver.address)}"
    elif route.state != ACTIVE:
        why_not = f"the route {route.text()} is {route.state}"
    elif route.target.startswith("nat-") and route.target in gateways:
        why_not = f"it routes {route.destination} to {route.target}, which does not exist (any more)"
    else:
        why_not = f"it routes {route.destination} to {route.target}, not to {wanted}"
    what = "replies to" if direction == RETURN else "traffic for"
    reason = (
        f"{table.id} ({sender.subnet_id}, {sender.vpc_id}) does not route {what} {shown(receiver.address)} "
        f"to the internet: {why_not}"
    )
    detail = {
        "route_table": table.id,
        "subnet": sender.subnet_id,
        "vpc": sender.vpc_id,
        "destination_address": shown(receiver.address),
        "route": route.to_dict() if route else None,
    }
    fix = fixes.internet_route(table, receiver.address, gateways[0], replace=route is not None)
    explanation = Explanation(NO_ROUTE, direction, table.id, reason, (fix,), detail)
    return Hop(direction, "route table", table.id, False, reason, explanation)


def _nat_state_hop(q: Question, nat: Node) -> Hop:
    found = q.network.nat_gateways.get(nat.name)
    state = found.state if found else ""
    if state == "available":
        public = ", ".join(found.public_addresses) if found else ""
        return Hop(FORWARD, "nat gateway", nat.name, True, f"available ({nat.subnet_id}; public {public or 'none'})")
    reason = f"{nat.name} is {state or 'unknown'}, not available"
    explanation = Explanation(BAD_STATE, FORWARD, nat.name, reason, (), {"nat_gateway": nat.name, "state": state})
    return Hop(FORWARD, "nat gateway", nat.name, False, reason, explanation)


def internet_forward(q: Question) -> Iterator[Hop]:
    source, lb = q.source, q.destination
    public = _public_side(q)
    packet = Packet.request(q.traffic, q.version)
    running = packet.ports
    yield from state_hops(source)
    hop, running = sg_hop(q, FORWARD, source, public, egress=True, packet=packet, running=running)
    yield hop
    hop, running = acl_hop(q, FORWARD, source, public, egress=True, packet=packet, running=running)
    yield hop
    yield internet_route_hop(q, FORWARD, source, public, gateways=("nat-", "igw-", "eigw-"))
    way = internet_exit(q)
    if way.nat is not None:
        nat = way.nat
        if nat.subnet_id != source.subnet_id:
            hop, running = acl_hop(q, FORWARD, nat, source, egress=False, packet=packet, running=running)
            yield hop
        yield _nat_state_hop(q, nat)
        yield internet_route_hop(q, FORWARD, nat, public, gateways=("igw-",))
        hop, running = acl_hop(q, FORWARD, nat, public, egress=True, packet=packet, running=running)
        yield hop
    if way.problem is not None:
        yield Hop(FORWARD, "public address", way.problem.component, False, way.problem.reason, way.problem)
    if way.seen_as is not None:  # else no public address to judge the load balancer's ACL and groups by
        hop, running = acl_hop(q, FORWARD, lb, way.seen_as, egress=False, packet=packet, running=running)
        yield hop
        hop, running = sg_hop(q, FORWARD, lb, way.seen_as, egress=False, packet=packet, running=running)
        yield hop
    yield from listener_hops(q, packet, running)


def internet_backward(q: Question) -> Iterator[Hop]:
    source, lb = q.source, q.destination
    public = _public_side(q)
    packet = Packet.reply(q.traffic, q.version)
    way = internet_exit(q)
    seen = way.seen_as
    if seen is None:  # the request never leaves: no reply to judge
        return
    yield acl_hop(q, RETURN, lb, seen, egress=True, packet=packet, running=packet.ports)[0]
    yield internet_route_hop(q, RETURN, lb, seen, gateways=("igw-",))
    if way.nat is not None:
        yield acl_hop(q, RETURN, way.nat, public, egress=False, packet=packet, running=packet.ports)[0]
        if way.nat.subnet_id == source.subnet_id:
            return
        yield acl_hop(q, RETURN, way.nat, source, egress=True, packet=packet, running=packet.ports)[0]
    yield acl_hop(q, RETURN, source, public, egress=False, packet=packet, running=packet.ports)[0]
