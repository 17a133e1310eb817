"""Concern: every route table of a peered VPC routes every CIDR of its peer through the connection.

For each ``active`` connection whose other party is *trusted* (passes the acceptance policy today),
each side in this account (in whatever region), each of that VPC's route tables, each peer CIDR
(IPv4 primary and secondary; IPv6 when both VPCs have IPv6) inside ``ALLOWED_PEER_CIDRS``:

- no route for the destination          -> create it;
- a route to this connection            -> nothing to do;
- a dead route (it targets a peering connection that is no longer active, or is ``blackhole`` and
  targets a peering connection)         -> replace it;
- a route to any other target, live or ``blackhole`` (an inspection appliance's network interface
  that stopped, a deleted NAT gateway), or to a target peerkeeper cannot read -> conflict: left
  untouched, reported.

Before creating or replacing, unless ``ROUTE_OVER_AGGREGATES=true``: a destination strictly inside
an existing route of that table to another target (not ``local``, not ``0.0.0.0/0`` or ``::/0``, not
a dead peering route) is a conflict, so a direct peering route never bypasses a transit gateway or
an inspection appliance that the table sends the aggregate to.

An untrusted connection (accepted by hand, or requested to an unlisted account) and a peer CIDR
outside ``ALLOWED_PEER_CIDRS`` (a public block the peer associated after acceptance) get no route
and are reported as conflicts, per table and CIDR. Ignored connections, VPCs and tables, and gateway
route tables (edge-associated with an internet or virtual private gateway, which AWS limits to
local, Gateway Load Balancer endpoint and network interface targets) get nothing; a third VPC's CIDR
is never routed.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace

from botocore.exceptions import ClientError

from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.inventory import parse_route_table
from peerkeeper.model import (
    ACTIVE,
    BLACKHOLE,
    PENDING,
    PROVISIONING,
    Action,
    Finding,
    Peering,
    PeeringSide,
    Plan,
    PrefixList,
    Route,
    RouteTable,
    Vpc,
    untrusted_reason,
)
from peerkeeper.reconcile import ActionConflict, Env, Executor
from peerkeeper.settings import Settings

CONCERN = "routes"
CREATE, REPLACE = "create-route", "replace-route"
LIVE_STATUSES = frozenset({ACTIVE, PROVISIONING})

# Why a desired route was not planned (``cause`` in a conflict's detail).
UNTRUSTED, CIDR_NOT_ALLOWED, AGGREGATE = "untrusted-peer", "cidr-not-allowed", "inside-aggregate"
OTHER_TARGET, BLACKHOLE_OTHER, UNKNOWN_TARGET, LOST_RACE = (
    "other-target",
    "blackhole-other-target",
    "unknown-target",
    "lost-race",
)
# Never overridden by ROUTE_OVER_AGGREGATES: a prefix-list entry of the same length (AWS prefers the
# static route), a prefix list that cannot be read, two peers claiming overlapping addresses.
PREFIX_LIST_ENTRY, PREFIX_LIST_UNREADABLE, OVERLAPPING_PEER = (
    "prefix-list-entry",
    "prefix-list-unreadable",
    "overlapping-peer",
)


@dataclass(frozen=True)
class RouteWorld:
    """What the route planner needs, and nothing else."""

    peerings: tuple[Peering, ...]
    vpcs: Mapping[str, Vpc]
    tables: tuple[RouteTable, ...]
    # Status of every other connection a route for a desired destination points at; absent = gone.
    peering_status: Mapping[str, str] = field(default_factory=dict)
    regions: frozenset[str] | None = None  # repair only tables in these regions (None: any)
    # (region, list ID) -> entries of the managed prefix lists the tables route; absent = unreadable.
    prefix_lists: Mapping[tuple[str, str], PrefixList] = field(default_factory=dict)


@dataclass(frozen=True)
class Desired:
    table: RouteTable
    destination: str
    peering: Peering
    peer: PeeringSide


# -- plan (pure) ------------------------------------------------------------------------------
def peer_cidrs(own: PeeringSide, peer: PeeringSide, vpcs: Mapping[str, Vpc]) -> tuple[str, ...]:
    """The peer's CIDRs to route from ``own``: IPv4 always, IPv6 only when both VPCs have IPv6."""
    own_vpc, peer_vpc = vpcs.get(own.vpc_id), vpcs.get(peer.vpc_id)
    peer_v4 = peer_vpc.cidrs if peer_vpc is not None else peer.cidrs
    peer_v6 = peer_vpc.ipv6_cidrs if peer_vpc is not None else peer.ipv6_cidrs
    own_v6 = own_vpc.ipv6_cidrs if own_vpc is not None else own.ipv6_cidrs
    return tuple(peer_v4) + (tuple(peer_v6) if own_v6 and peer_v6 else ())


def our_sides(world: RouteWorld, account_id: str) -> Iterator[tuple[Peering, PeeringSide, PeeringSide]]:
    for peering in world.peerings:
        if peering.ignored or peering.status not in LIVE_STATUSES:
            continue
        for own, peer in peering.sides():
            if own.owner_id == account_id and (world.regions is None or own.region in world.regions):
                yield peering, own, peer


def desired_routes(world: RouteWorld, account_id: str) -> Iterator[Desired]:
    """Every (table, peer CIDR, connection) the tables of our sides are meant to route, before policy."""
    tables_by_vpc: dict[str, list[RouteTable]] = defaultdict(list)
    for table in world.tables:
        tables_by_vpc[table.vpc_id].append(table)
    for peering, own, peer in our_sides(world, account_id):
        vpc = world.vpcs.get(own.vpc_id)
        if vpc is None or vpc.ignored:
            continue
        for table in sorted(tables_by_vpc.get(own.vpc_id, ()), key=lambda t: t.id):
            if table.ignored or table.edge_gateways:
                continue  # opted out; or a gateway route table, which cannot take a peering target
            for destination in peer_cidrs(own, peer, world.vpcs):
                yield Desired(table, destination, peering, peer)


def _route_params(desired: Desired) -> dict[str, str]:
    key = "DestinationIpv6CidrBlock" if ":" in desired.destination else "DestinationCidrBlock"
    return {
        "RouteTableId": desired.table.id,
        key: desired.destination,
        "VpcPeeringConnectionId": desired.peering.id,
    }


def _is_dead(route: Route, world: RouteWorld, live_ids: Collection[str]) -> bool:
    """Only a route that targets a peering connection can be dead (and be replaced)."""
    if route.peering_id is None:
        return False
    if route.state == BLACKHOLE:
        return True
    return route.target not in live_ids and world.peering_status.get(route.target) not in LIVE_STATUSES


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def _never(_route: Route) -> bool:
    return False


def covering_route(
    table: RouteTable, destination: str, wanted: str, is_dead: Callable[[Route], bool] = _never
) -> Route | None:
    """The route of ``table`` whose destination strictly contains ``destination``, to another target.

    ``local``, the default routes (``0.0.0.0/0``, ``::/0``), routes to ``wanted`` and dead routes
    never count.
    """
    network = _network(destination)
    if network is None:
        return None
    found: list[tuple[int, Route]] = []
    for route in table.routes:
        covering = _network(route.destination)
        if covering is None or covering.version != network.version or covering.prefixlen == 0:
            continue
        if route.local or route.target == wanted or is_dead(route):
            continue
        if covering.prefixlen < network.prefixlen and network.subnet_of(covering):  # type: ignore[arg-type]
            found.append((covering.prefixlen, route))
    return max(found, key=lambda item: item[0])[1] if found else None


@dataclass(frozen=True)
class Claim:
    """One block a table sends somewhere: a CIDR route, or one entry of a prefix-list route."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    route: Route
    prefix_list: str = ""  # the list the entry belongs to

    def describe(self) -> str:
        held = f" (an entry of prefix list {self.prefix_list})" if self.prefix_list else ""
        return f"{self.network.compressed}{held} routed to {self.route.target or 'an unreadable target'}"


def claims(
    table: RouteTable, prefix_lists: Mapping[tuple[str, str], PrefixList], planned: Collection[Route] = ()
) -> tuple[list[Claim], list[Route]]:
    """What ``table`` routes, block by block (each prefix-list entry counts), and the prefix-list
    routes whose entries could not be read. ``planned`` are routes this run already decided to add.
    """
    found: list[Claim] = []
    unreadable: list[Route] = []
    for route in (*table.routes, *planned):
        if route.prefix_list:
            listed = prefix_lists.get((table.region, route.prefix_list))
            if listed is None or not listed.readable:
                unreadable.append(route)
                continue
            found += [Claim(n, route, route.prefix_list) for n in map(_network, listed.entries) if n is not None]
            continue
        network = _network(route.destination)
        if network is not None:
            found.append(Claim(network, route))
    return found, unreadable


def _conflict(desired: Desired, cause: str, why: str, route: Route | None = None, **extra: str) -> Finding:
    table = desired.table
    reason = (
        f"{table.id} ({table.vpc_id}): {desired.destination} of {desired.peer.vpc_id} not routed via "
        f"{desired.peering.id}: {why}"
    )
    detail: dict[str, str] = {"destination": desired.destination, "wanted": desired.peering.id, "cause": cause}
    if route is not None:
        detail["target"] = route.target
    detail.update(extra)
    return Finding(table.id, table.region, reason, detail)


def _existing_route_conflict(desired: Desired, route: Route) -> Finding:
    if not route.target:
        why = f"a route to a target peerkeeper cannot read (state {route.state}, origin {route.origin or '?'})"
        return _conflict(desired, UNKNOWN_TARGET, why, route)
    if route.state == BLACKHOLE:
        why = f"a blackhole route to {route.target} exists (not a peering connection: left for its owner)"
        return _conflict(desired, BLACKHOLE_OTHER, why, route)
    return _conflict(desired, OTHER_TARGET, f"routed to {route.target}, not {desired.peering.id}", route)


def _guardrail(
    desired: Desired,
    world: RouteWorld,
    settings: Settings,
    is_dead: Callable[[Route], bool],
    planned: Collection[Route],
) -> Finding | None:
    """The conflicts that keep a new route out of a table: overlapping peers, prefix lists, aggregates.

    Routes to the wanted connection and dead routes never count; ``local`` and the default routes
    only count as overlapping claims (they are not peering routes, so they never do).
    """
    network = _network(desired.destination)
    if network is None:
        return None
    table, wanted = desired.table, desired.peering.id
    found, unreadable = claims(table, world.prefix_lists, planned)
    unreadable = [r for r in unreadable if r.target != wanted and not is_dead(r)]
    if unreadable:
        lists = ", ".join(sorted({r.prefix_list for r in unreadable}))
        why = f"the entries of prefix list {lists} (routed to {unreadable[0].target}) cannot be read"
        return _conflict(desired, PREFIX_LIST_UNREADABLE, why, unreadable[0], prefix_list=unreadable[0].prefix_list)
    relevant = [
        c
        for c in found
        if c.network.version == network.version
        and c.route.target != wanted
        and not c.route.local
        and not is_dead(c.route)
    ]
    for claim in relevant:  # two peers claiming overlapping addresses: whoever came first keeps them
        if claim.route.peering_id and claim.network.overlaps(network):
            why = (
                f"it overlaps {claim.describe()}: two peers would claim the same addresses "
                "(not routed beside it, whatever ROUTE_OVER_AGGREGATES says)"
            )
            extra = {"other_destination": claim.network.compressed, "other_peering": claim.route.target}
            return _conflict(desired, OVERLAPPING_PEER, why, claim.route, **extra, **_listed(claim))
    for claim in relevant:  # AWS prefers a static route over a prefix-list route of the same length
        if claim.prefix_list and claim.network == network:
            why = f"{claim.describe()}: a static route would take its traffic (whatever ROUTE_OVER_AGGREGATES says)"
            return _conflict(desired, PREFIX_LIST_ENTRY, why, claim.route, prefix_list=claim.prefix_list)
    if settings.route_over_aggregates:
        return None
    covering = [
        c
        for c in relevant
        if 0 < c.network.prefixlen < network.prefixlen and network.subnet_of(c.network)  # type: ignore[arg-type]
    ]
    if not covering:
        return None
    aggregate = max(covering, key=lambda c: (c.network.prefixlen, not c.prefix_list))
    why = f"inside {aggregate.describe()} (set ROUTE_OVER_AGGREGATES=true to route it beside the aggregate)"
    return _conflict(desired, AGGREGATE, why, aggregate.route, **_listed(aggregate))


def _listed(claim: Claim) -> dict[str, str]:
    return {"prefix_list": claim.prefix_list} if claim.prefix_list else {}


def judge(
    desired: Desired,
    world: RouteWorld,
    settings: Settings,
    live_ids: Collection[str],
    planned: Collection[Route] = (),
) -> Action | Finding | None:
    """What one desired route needs: an action, a conflict, or nothing (already so).

    ``planned`` are the routes this run already plans to add to the same table: they count as
    existing (an overlapping claim planned first keeps its addresses).
    """
    table, destination, peering = desired.table, desired.destination, desired.peering
    where = f"{table.id} ({table.vpc_id})"
    route = table.route_to(destination)
    if not settings.cidr_allowed(destination):
        routed = route is not None and route.target == peering.id
        why = f"{destination} is outside ALLOWED_PEER_CIDRS" + ("; its existing route is left" if routed else "")
        return _conflict(desired, CIDR_NOT_ALLOWED, why, route if routed else None)
    if route is not None and route.target == peering.id:
        return None
    if route is not None and not _is_dead(route, world, live_ids):
        return _existing_route_conflict(desired, route)
    blocked = _guardrail(desired, world, settings, lambda r: _is_dead(r, world, live_ids), planned)
    if blocked is not None:
        return blocked
    if route is None:
        reason = f"{where} has no route for {destination} via {peering.id}"
        return Action(CREATE, table.id, table.region, reason, _route_params(desired))
    reason = f"{where} routes {destination} to dead target {route.target}"
    return Action(REPLACE, table.id, table.region, reason, _route_params(desired))


def plan(world: RouteWorld, account_id: str, settings: Settings) -> Plan:
    actions: list[Action] = []
    conflicts: list[Finding] = []
    problems: list[Finding] = []
    live_ids = {p.id for p in world.peerings if p.status in LIVE_STATUSES}
    for peering, own, peer in our_sides(world, account_id):
        if own.vpc_id not in world.vpcs:
            problems.append(Finding(own.vpc_id, own.region, f"VPC of {peering.id} not found"))
        elif not peer_cidrs(own, peer, world.vpcs):
            problems.append(Finding(peering.id, own.region, f"CIDRs of peer VPC {peer.vpc_id} are unknown"))
    distrust = {p.id: untrusted_reason(p, settings, account_id) for p in world.peerings}
    planned: dict[str, list[Route]] = defaultdict(list)  # table -> routes this run adds
    for desired in desired_routes(world, account_id):
        untrusted = distrust.get(desired.peering.id)
        if untrusted:
            route = desired.table.route_to(desired.destination)
            routed = route is not None and route.target == desired.peering.id
            why = f"the connection is not trusted ({untrusted})" + ("; its existing route is left" if routed else "")
            conflicts.append(_conflict(desired, UNTRUSTED, why, route if routed else None))
            continue
        verdict = judge(desired, world, settings, live_ids, planned[desired.table.id])
        if isinstance(verdict, Action):
            actions.append(verdict)
            planned[desired.table.id].append(Route(desired.destination, desired.peering.id))
        elif isinstance(verdict, Finding):
            conflicts.append(verdict)
    return Plan(CONCERN, actions=tuple(actions), conflicts=tuple(conflicts), problems=tuple(problems))


# -- observe ----------------------------------------------------------------------------------
def _table_scope(scope: Scope) -> frozenset[str] | None:
    """Tables named by a route-level event: only they need looking at (one filtered describe)."""
    return scope.route_table_ids if scope.route_table_ids and not scope.vpc_ids else None


def _peerings_in_scope(env: Env, scope: Scope, assume_active: Collection[str]) -> list[Peering]:
    """Connections to route; ``assume_active`` ones were accepted a moment ago by this invocation."""
    inventory = env.inventory
    statuses = (ACTIVE, PENDING) if assume_active else (ACTIVE,)
    read_in = scope.region
    if scope.whole_region:
        found = inventory.peerings(scope.region, statuses=statuses)
    elif scope.peering_ids:
        read_in = scope.peering_region or scope.region
        found = inventory.peerings(read_in, ids=scope.peering_ids)
    else:
        vpc_ids = set(scope.vpc_ids)
        table_ids = _table_scope(scope)
        if table_ids:
            vpc_ids |= {table.vpc_id for table in inventory.route_tables(scope.region, table_ids=table_ids)}
        found = inventory.peerings(scope.region, statuses=statuses, vpc_ids=vpc_ids) if vpc_ids else []
    found = inventory.ignored_anywhere(read_in, found)  # the ignore tag of every region's copy counts
    return [replace(p, status=ACTIVE) if p.id in assume_active else p for p in found]


def observe(env: Env, scope: Scope, assume_active: Collection[str] = ()) -> RouteWorld:
    """Connections in scope, this account's VPCs on them (and same-account peers), their tables."""
    peerings = [p for p in _peerings_in_scope(env, scope, assume_active) if p.status in LIVE_STATUSES]
    regions = frozenset({scope.region}) if scope.whole_region else None
    world = RouteWorld(peerings=tuple(peerings), vpcs={}, tables=(), regions=regions)
    own_vpcs: dict[str, set[str]] = defaultdict(set)
    vpc_lookups: dict[str, set[str]] = defaultdict(set)
    for _peering, own, peer in our_sides(world, env.account_id):
        own_vpcs[own.region].add(own.vpc_id)
        vpc_lookups[own.region].add(own.vpc_id)
        if peer.owner_id == env.account_id:
            vpc_lookups[peer.region].add(peer.vpc_id)  # authoritative CIDRs (moto omits CidrBlockSet)
    vpcs: dict[str, Vpc] = {}
    for region, ids in vpc_lookups.items():
        vpcs.update(env.inventory.vpcs(region, ids))
    table_ids = _table_scope(scope)
    tables: list[RouteTable] = []
    for region, ids in own_vpcs.items():
        if table_ids:
            found = env.inventory.route_tables(region, table_ids=table_ids)
        else:
            found = env.inventory.route_tables(region, vpc_ids=ids)
        tables += [table for table in found if table.vpc_id in ids]
    world = replace(world, vpcs=vpcs, tables=tuple(tables))
    return replace(world, peering_status=_other_targets_status(env, world), prefix_lists=_prefix_lists(env, world))


def _prefix_lists(env: Env, world: RouteWorld) -> dict[tuple[str, str], PrefixList]:
    """Entries of the prefix lists that tables about to get a route send somewhere (one read per list)."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for desired in desired_routes(world, env.account_id):
        wanted[desired.table.region] |= {route.prefix_list for route in desired.table.routes if route.prefix_list}
    found: dict[tuple[str, str], PrefixList] = {}
    for region, ids in sorted(wanted.items()):
        found.update({(region, pl.id): pl for pl in env.inventory.prefix_lists(region, ids).values()})
    return found


def _other_targets_status(env: Env, world: RouteWorld) -> dict[str, str]:
    """Status of connections that routes of the tables in question point at (read only when needed).

    Those routes decide whether a route for a desired destination, or an aggregate around it, is dead.
    """
    known = {p.id: p.status for p in world.peerings}
    unknown: dict[str, set[str]] = defaultdict(set)
    seen: set[str] = set()
    for desired in desired_routes(world, env.account_id):
        if desired.table.id in seen:
            continue
        seen.add(desired.table.id)
        for route in desired.table.routes:
            if route.state != BLACKHOLE and route.peering_id and route.peering_id not in known:
                unknown[desired.table.region].add(route.peering_id)
    for region, ids in unknown.items():
        known.update({p.id: p.status for p in env.inventory.peerings(region, ids=ids)})
    return known


def plan_for(env: Env, scope: Scope, assume_active: Collection[str] = ()) -> Plan:
    return plan(observe(env, scope, assume_active), env.account_id, env.settings)


# -- apply ------------------------------------------------------------------------------------
def _destination(action: Action) -> str:
    return str(action.params.get("DestinationCidrBlock") or action.params.get("DestinationIpv6CidrBlock") or "")


def _current_route(clients: Clients, action: Action) -> Route | None:
    """The route for the action's destination as the table holds it now (one describe)."""
    found = clients.ec2(action.region).describe_route_tables(RouteTableIds=[action.resource])["RouteTables"]
    tables = [parse_route_table(dict(item), action.region) for item in found]
    return next((t.route_to(_destination(action)) for t in tables if t.route_to(_destination(action))), None)


def _create(clients: Clients, action: Action) -> None:
    """CreateRoute; ``RouteAlreadyExists`` is success only when the route there targets this connection.

    Another writer may have won the race between our describe and our create: re-read the table
    and report a conflict in this run rather than count someone else's route as ours.
    """
    try:
        clients.ec2(action.region).create_route(**action.params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "RouteAlreadyExists":
            raise
        wanted = str(action.params["VpcPeeringConnectionId"])
        route = _current_route(clients, action)
        if route is not None and route.target == wanted:
            raise  # converged: the route that exists is ours
        target = route.target if route is not None else "nothing (deleted since)"
        destination = _destination(action)
        reason = f"{action.resource}: {destination} lost a race: the table now routes it to {target}, not {wanted}"
        detail = {"destination": destination, "wanted": wanted, "cause": LOST_RACE, "target": target}
        raise ActionConflict(Finding(action.resource, action.region, reason, detail)) from error


def _replace(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).replace_route(**action.params)


EXECUTORS: Mapping[str, Executor] = {CREATE: _create, REPLACE: _replace}
