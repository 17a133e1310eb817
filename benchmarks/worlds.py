"""Worlds built through the API on the emulator, and the drift each one holds by construction.

The sweep world of ``n`` VPCs: every VPC has 3 route tables (the main one and two more) and no flow
log. Half of the VPCs are peered in pairs (2j, 2j+1) for j < n/4, and pair j is, by ``j % 4`` (ordered so that
even the 10-VPC world holds the two kinds that tell the tools apart):

- 0  a pending request (drift: accept it, then route all 6 tables);
- 1  active, one table of the requester VPC lacks the route (drift that Custodian's ``missing-route``
     cannot see: the VPC is routed in its other tables);
- 2  active and fully routed (no drift);
- 3  active, no table of the requester VPC routes it (drift: 3 routes).

moto also has the region's default VPC (one main table, no peering, no flow log): it counts too.

The ground truth (which connection lacks which route, which VPC lacks a flow log) is returned with
the world, so every tool's findings can be scored against it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

PENDING, ONE_TABLE_MISSING, ROUTED, ONE_SIDE_MISSING = 0, 1, 2, 3
KIND_NAMES = {
    PENDING: "pending request",
    ROUTED: "active, fully routed",
    ONE_TABLE_MISSING: "active, 1 table of one side unrouted",
    ONE_SIDE_MISSING: "active, one side unrouted",
}


def cidr(index: int) -> str:
    """Non-overlapping /24s: 10.0.0.0/24, 10.0.1.0/24, ... (room for 65,536 VPCs)."""
    return f"10.{index // 256}.{index % 256}.0/24"


@dataclass
class SweepWorld:
    size: int
    vpcs: list[str] = field(default_factory=list)
    tables: dict[str, list[str]] = field(default_factory=dict)  # vpc -> [main, extra, extra]
    peerings: dict[str, int] = field(default_factory=dict)  # pcx -> kind
    missing_routes: set[tuple[str, str]] = field(default_factory=set)  # (table, pcx)
    default_vpcs: list[str] = field(default_factory=list)
    build_seconds: float = 0.0
    build_calls: int = 0

    def truth(self) -> dict[str, Any]:
        by_kind: dict[str, int] = {}
        for kind in self.peerings.values():
            by_kind[KIND_NAMES[kind]] = by_kind.get(KIND_NAMES[kind], 0) + 1
        return {
            "vpcs": len(self.vpcs) + len(self.default_vpcs),
            "route_tables": sum(len(t) for t in self.tables.values()) + len(self.default_vpcs),
            "peerings": by_kind,
            "pending_to_accept": sorted(p for p, k in self.peerings.items() if k == PENDING),
            "connections_missing_routes": sorted({pcx for _, pcx in self.missing_routes}),
            "missing_routes": len(self.missing_routes),
            "vpcs_without_flow_log": len(self.vpcs) + len(self.default_vpcs),
        }


def build_sweep_world(ec2: Any, size: int) -> SweepWorld:
    """Build the world with as few calls as the API allows (it has no batch create for these)."""
    started = time.perf_counter()
    world = SweepWorld(size)
    calls = 0
    for index in range(size):
        world.vpcs.append(ec2.create_vpc(CidrBlock=cidr(index))["Vpc"]["VpcId"])
        calls += 1
    for vpc in world.vpcs:
        world.tables[vpc] = []
    for vpc in world.vpcs:
        for _ in range(2):
            world.tables[vpc].append(ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"])
            calls += 1
    # One paged read finds every main table (CreateVpc does not return its id).
    for page in ec2.get_paginator("describe_route_tables").paginate(
        Filters=[{"Name": "association.main", "Values": ["true"]}]
    ):
        calls += 1
        for table in page["RouteTables"]:
            if table["VpcId"] in world.tables:
                world.tables[table["VpcId"]].insert(0, table["RouteTableId"])
    for pair in range(size // 4):
        calls += _peer(ec2, world, pair)
    world.default_vpcs = [
        v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    ]
    calls += 1
    world.build_seconds = time.perf_counter() - started
    world.build_calls = calls
    return world


def _peer(ec2: Any, world: SweepWorld, pair: int) -> int:
    """Pair ``pair``'s connection in the state its kind says; returns the calls it took."""
    requester, accepter = world.vpcs[2 * pair], world.vpcs[2 * pair + 1]
    kind = pair % 4
    pcx = ec2.create_vpc_peering_connection(VpcId=requester, PeerVpcId=accepter)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    world.peerings[pcx] = kind
    if kind == PENDING:
        world.missing_routes |= {(t, pcx) for v in (requester, accepter) for t in world.tables[v]}
        return 1
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    routed = {
        ROUTED: world.tables[requester],
        ONE_TABLE_MISSING: world.tables[requester][1:],
        ONE_SIDE_MISSING: [],
    }[kind]
    world.missing_routes |= {(table, pcx) for table in world.tables[requester] if table not in routed}
    wanted = [(table, cidr(2 * pair + 1)) for table in routed] + [(t, cidr(2 * pair)) for t in world.tables[accepter]]
    for table, destination in wanted:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock=destination, VpcPeeringConnectionId=pcx)
    return 2 + len(wanted)
