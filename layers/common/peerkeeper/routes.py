"""Concern: every route table of a peered VPC routes every CIDR of its peer through the connection.

For each ``active`` connection, each side in this account (in whatever region), each of that VPC's
route tables, each peer CIDR (IPv4 primary and secondary; IPv6 when both VPCs have IPv6):

- no route for the destination         -> create it;
- a route to this connection           -> nothing to do;
- a dead route (``blackhole``, or aimed at a connection that is no longer active) -> replace it;
- a route to any other live target     -> conflict: left untouched, reported.

Ignored connections, VPCs and tables get nothing; a third VPC's CIDR is never routed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace

from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.model import ACTIVE, PENDING, PROVISIONING, Action, Finding, Peering, PeeringSide, Plan, RouteTable, Vpc
from peerkeeper.reconcile import Env, Executor

CONCERN = "routes"
CREATE, REPLACE = "create-route", "replace-route"
LIVE_STATUSES = frozenset({ACTIVE, PROVISIONING})


@dataclass(frozen=True)
class RouteWorld:
    """What the route planner needs, and nothing else."""

    peerings: tuple[Peering, ...]
    vpcs: Mapping[str, Vpc]
    tables: tuple[RouteTable, ...]
    # Status of every other connection a route for a desired destination points at; absent = gone.
    peering_status: Mapping[str, str] = field(default_factory=dict)
    regions: frozenset[str] | None = None  # repair only tables in these regions (None: any)


@dataclass(frozen=True)
class Desired:
    table: RouteTable
    destination: str
    peering: Peering


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
    tables_by_vpc: dict[str, list[RouteTable]] = defaultdict(list)
    for table in world.tables:
        tables_by_vpc[table.vpc_id].append(table)
    for peering, own, peer in our_sides(world, account_id):
        vpc = world.vpcs.get(own.vpc_id)
        if vpc is None or vpc.ignored:
            continue
        for table in sorted(tables_by_vpc.get(own.vpc_id, ()), key=lambda t: t.id):
            if table.ignored:
                continue
            for destination in peer_cidrs(own, peer, world.vpcs):
                yield Desired(table, destination, peering)


def _route_params(desired: Desired) -> dict[str, str]:
    key = "DestinationIpv6CidrBlock" if ":" in desired.destination else "DestinationCidrBlock"
    return {
        "RouteTableId": desired.table.id,
        key: desired.destination,
        "VpcPeeringConnectionId": desired.peering.id,
    }


def _is_dead(target: str, state: str, world: RouteWorld, live_ids: Collection[str]) -> bool:
    if state == "blackhole":
        return True
    if not target.startswith("pcx-"):
        return False
    return target not in live_ids and world.peering_status.get(target) not in LIVE_STATUSES


def plan(world: RouteWorld, account_id: str) -> Plan:
    actions: list[Action] = []
    conflicts: list[Finding] = []
    problems: list[Finding] = []
    live_ids = {p.id for p in world.peerings if p.status in LIVE_STATUSES}
    for peering, own, peer in our_sides(world, account_id):
        if own.vpc_id not in world.vpcs:
            problems.append(Finding(own.vpc_id, own.region, f"VPC of {peering.id} not found"))
        elif not peer_cidrs(own, peer, world.vpcs):
            problems.append(Finding(peering.id, own.region, f"CIDRs of peer VPC {peer.vpc_id} are unknown"))
    for desired in desired_routes(world, account_id):
        table, destination, peering = desired.table, desired.destination, desired.peering
        route = table.route_to(destination)
        where = f"{table.id} ({table.vpc_id})"
        if route is None:
            reason = f"{where} has no route for {destination} via {peering.id}"
            actions.append(Action(CREATE, table.id, table.region, reason, _route_params(desired)))
        elif route.target == peering.id:
            continue
        elif _is_dead(route.target, route.state, world, live_ids):
            reason = f"{where} routes {destination} to dead target {route.target}"
            actions.append(Action(REPLACE, table.id, table.region, reason, _route_params(desired)))
        else:
            reason = f"{where} routes {destination} to {route.target}, not {peering.id}"
            detail = {"destination": destination, "target": route.target, "wanted": peering.id}
            conflicts.append(Finding(table.id, table.region, reason, detail))
    return Plan(CONCERN, actions=tuple(actions), conflicts=tuple(conflicts), problems=tuple(problems))


# -- observe ----------------------------------------------------------------------------------
def _table_scope(scope: Scope) -> frozenset[str] | None:
    """Tables named by a route-level event: only they need looking at (one filtered describe)."""
    return scope.route_table_ids if scope.route_table_ids and not scope.vpc_ids else None


def _peerings_in_scope(env: Env, scope: Scope, assume_active: Collection[str]) -> list[Peering]:
    """Connections to route; ``assume_active`` ones were accepted a moment ago by this invocation."""
    inventory = env.inventory
    statuses = (ACTIVE, PENDING) if assume_active else (ACTIVE,)
    if scope.whole_region:
        found = inventory.peerings(scope.region, statuses=statuses)
    elif scope.peering_ids:
        found = inventory.peerings(scope.peering_region or scope.region, ids=scope.peering_ids)
    else:
        vpc_ids = set(scope.vpc_ids)
        table_ids = _table_scope(scope)
        if table_ids:
            vpc_ids |= {table.vpc_id for table in inventory.route_tables(scope.region, table_ids=table_ids)}
        found = inventory.peerings(scope.region, statuses=statuses, vpc_ids=vpc_ids) if vpc_ids else []
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
    return replace(world, peering_status=_other_targets_status(env, world))


def _other_targets_status(env: Env, world: RouteWorld) -> dict[str, str]:
    """Status of connections that routes for our destinations point at (read only when needed)."""
    known = {p.id: p.status for p in world.peerings}
    unknown: dict[str, set[str]] = defaultdict(set)
    for desired in desired_routes(world, env.account_id):
        route = desired.table.route_to(desired.destination)
        if route is not None and route.state != "blackhole" and route.peering_id and route.peering_id not in known:
            unknown[desired.table.region].add(route.peering_id)
    for region, ids in unknown.items():
        known.update({p.id: p.status for p in env.inventory.peerings(region, ids=ids)})
    return known


def plan_for(env: Env, scope: Scope, assume_active: Collection[str] = ()) -> Plan:
    return plan(observe(env, scope, assume_active), env.account_id)


# -- apply ------------------------------------------------------------------------------------
def _create(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).create_route(**action.params)


def _replace(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).replace_route(**action.params)


EXECUTORS: Mapping[str, Executor] = {CREATE: _create, REPLACE: _replace}
