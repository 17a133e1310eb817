"""Scale to one Lambda: the budget of a sweep of one large region, and what happens past it.

A sweep must fit in Lambda's 15 minutes: observe (the region's listings), plan (pure), then apply,
its mutating calls paced at EC2's refill of 5 per second after a burst of 50:

    sweep = observe + plan + max(0, actions - burst) / rate        (<= 900 s - 10 s reserve)

Building a 5,000-VPC region through moto's API takes hours on a shared 2-core machine, and moto's
answer times are not AWS's anyway. So the region's listings are made here as AWS returns them
(the fields peerkeeper reads, in pages of each API's largest size) and served by a stand-in EC2
client; what is timed is all of peerkeeper's own work on them: the paginated reads at once
(:meth:`Inventory.load_region`, the deadline checked before every page), the parsing, and the plan
of every concern, with peak memory. The world follows :mod:`benchmarks.worlds` (3 route tables per
VPC, half the VPCs peered in pairs: pending, one table unrouted, routed, one side unrouted), and
the plan is checked against the drift it holds by construction.

Observe on AWS is the slowest listing's pages times the round trip (the listings run at the same
time) plus botocore's parsing of the answers (measured on moto: ``PARSE_S_PER_1000_VPCS``). Past
the budget the sweep does what ``peerkeeper.deadline`` says: it stops 10 s before the end, reports
the rest (``remaining``), and the next sweep, which observes afresh, carries on.
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.emulator import ACCOUNT, REGION
from benchmarks.worlds import ONE_SIDE_MISSING, ONE_TABLE_MISSING, PENDING, ROUTED, cidr

LAMBDA_SECONDS = 900
RESERVE_SECONDS = 10
BURST, RATE = 50, 5.0
ROUND_TRIP_S = 0.3  # one page on AWS, a pessimistic round trip (50-300 ms)
# The most items one page of each listing holds (each API's MaxResults maximum).
PAGE_ITEMS = {
    "describe_vpcs": 1000,
    "describe_route_tables": 100,
    "describe_vpc_peering_connections": 1000,
    "describe_flow_logs": 1000,
}
KEYS = {
    "describe_vpcs": "Vpcs",
    "describe_route_tables": "RouteTables",
    "describe_vpc_peering_connections": "VpcPeeringConnections",
    "describe_flow_logs": "FlowLogs",
}


def region_listings(vpcs: int) -> dict[str, list[dict[str, Any]]]:
    """The four listings of a region of ``vpcs`` VPCs built like :func:`benchmarks.worlds.build_sweep_world`."""
    vpc_ids = [f"vpc-{i:017x}" for i in range(vpcs)]
    listings: dict[str, list[dict[str, Any]]] = {op: [] for op in KEYS}
    for i, vpc in enumerate(vpc_ids):
        block = cidr(i)
        listings["describe_vpcs"].append(
            {
                "VpcId": vpc,
                "OwnerId": ACCOUNT,
                "CidrBlock": block,
                "CidrBlockAssociationSet": [{"CidrBlock": block, "CidrBlockState": {"State": "associated"}}],
            }
        )
    routes: dict[str, list[list[dict[str, Any]]]] = {
        vpc: [[{"DestinationCidrBlock": cidr(i), "GatewayId": "local", "State": "active"}] for _ in range(3)]
        for i, vpc in enumerate(vpc_ids)
    }
    for pair in range(vpcs // 4):
        kind, requester, accepter = pair % 4, 2 * pair, 2 * pair + 1
        pcx = f"pcx-{pair:017x}"
        status = "pending-acceptance" if kind == PENDING else "active"
        listings["describe_vpc_peering_connections"].append(
            {
                "VpcPeeringConnectionId": pcx,
                "Status": {"Code": status},
                "RequesterVpcInfo": {
                    "OwnerId": ACCOUNT,
                    "VpcId": vpc_ids[requester],
                    "CidrBlock": cidr(requester),
                    "Region": REGION,
                },
                "AccepterVpcInfo": {
                    "OwnerId": ACCOUNT,
                    "VpcId": vpc_ids[accepter],
                    "CidrBlock": cidr(accepter),
                    "Region": REGION,
                },
            }
        )
        routed_tables = {
            ROUTED: ((requester, 3), (accepter, 3)),
            ONE_TABLE_MISSING: ((requester, 2), (accepter, 3)),
            ONE_SIDE_MISSING: ((accepter, 3),),
        }.get(kind, ())
        for side, count in routed_tables:
            peer = accepter if side == requester else requester
            for table in routes[vpc_ids[side]][:count]:
                table.append({"DestinationCidrBlock": cidr(peer), "VpcPeeringConnectionId": pcx, "State": "active"})
    for i, vpc in enumerate(vpc_ids):
        for t, table_routes in enumerate(routes[vpc]):
            association = [{"Main": True, "RouteTableId": f"rtb-{3 * i + t:017x}"}] if t == 0 else []
            listings["describe_route_tables"].append(
                {
                    "RouteTableId": f"rtb-{3 * i + t:017x}",
                    "VpcId": vpc,
                    "Routes": table_routes,
                    "Associations": association,
                }
            )
    return listings


def expected_drift(vpcs: int) -> dict[str, int]:
    kinds = [pair % 4 for pair in range(vpcs // 4)]
    return {
        "accept-peering": kinds.count(PENDING),
        "create-route": 6 * kinds.count(PENDING) + kinds.count(ONE_TABLE_MISSING) + 3 * kinds.count(ONE_SIDE_MISSING),
        "create-flow-logs": math.ceil(vpcs / 1000),
    }


class ListingEc2:
    """Stands for an EC2 client: serves the listings in pages of each API's largest size."""

    def __init__(self, listings: dict[str, list[dict[str, Any]]]) -> None:
        self.listings = listings
        self.pages: dict[str, int] = {}

    def get_paginator(self, operation: str) -> Any:
        outer = self

        class Paginator:
            def paginate(self, **_: Any) -> Iterator[dict[str, Any]]:
                items, size = outer.listings[operation], PAGE_ITEMS[operation]
                starts = range(0, max(1, len(items)), size)
                for number, start in enumerate(starts, start=1):
                    outer.pages[operation] = number
                    page: dict[str, Any] = {KEYS[operation]: items[start : start + size]}
                    if start + size < len(items):
                        page["NextToken"] = str(number)
                    yield page

        return Paginator()


class ListingClients:
    def __init__(self, ec2: ListingEc2) -> None:
        self._ec2 = ec2

    def ec2(self, region: str) -> ListingEc2:
        return self._ec2


def budget(observe_s: float, plan_s: float) -> dict[str, float]:
    """How many actions one sweep can apply after observing and planning."""
    left = LAMBDA_SECONDS - RESERVE_SECONDS - observe_s - plan_s
    return {"seconds_left_for_actions": round(left, 1), "actions_that_fit": int(max(0.0, left) * RATE + BURST)}


def run(vpcs: int) -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from peerkeeper import service
    from peerkeeper.events import Scope
    from peerkeeper.inventory import Inventory
    from peerkeeper.reconcile import Env
    from peerkeeper.settings import Settings

    listings = region_listings(vpcs)
    parse = botocore_parse_seconds(listings)
    ec2 = ListingEc2(listings)
    clients: Any = ListingClients(ec2)
    environ = {"AWS_REGION": REGION, "ALLOWED_PEER_ACCOUNTS": ACCOUNT, "PEERKEEPER_MODE": "dry-run"}
    settings = Settings.from_env(environ)
    inventory = Inventory(clients, ACCOUNT)
    env = Env(settings, clients, ACCOUNT, inventory, "scale")
    started, cpu_started = time.perf_counter(), time.process_time()
    inventory.load_region(REGION, ("vpcs", "route_tables", "peerings", "flow_logs"))
    observed, cpu_observed = time.perf_counter(), time.process_time()
    report = service.reconcile(
        env, Scope(REGION, ACCOUNT, "scale", whole_region=True), ("peering", "routes", "flow_logs")
    )
    planned, cpu_planned = time.perf_counter(), time.process_time()
    kinds: dict[str, int] = {}
    for outcome in report.outcomes:
        kinds[outcome.action.kind] = kinds.get(outcome.action.kind, 0) + 1
    actions = sum(kinds.values())
    plan_s = planned - observed
    pages = dict(ec2.pages)
    # The listings are read at the same time: the slowest one's pages, one round trip each, and the
    # parsing (botocore's and peerkeeper's CPU, one core: the GIL serialises it).
    parse_s = sum(parse.values())
    observe_aws = max(pages.values()) * ROUND_TRIP_S + parse_s + (cpu_observed - cpu_started)
    apply_s = max(0, actions - BURST) / RATE
    fits = budget(observe_aws, plan_s)
    return {
        "vpcs": vpcs,
        "route_tables": len(listings["describe_route_tables"]),
        "peerings": len(listings["describe_vpc_peering_connections"]),
        "pages": pages,
        "read_and_parse_s": round(observed - started, 2),
        "read_and_parse_cpu_s": round(cpu_observed - cpu_started, 2),
        "plan_s": round(plan_s, 2),
        "plan_cpu_s": round(cpu_planned - cpu_observed, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "actions": actions,
        "actions_by_kind": kinds,
        "drift_found_as_built": kinds == expected_drift(vpcs),
        "botocore_parse_cpu_s": parse,
        "observe_s_on_aws": round(observe_aws, 1),
        "apply_s_at_5_per_s": round(apply_s, 1),
        "sweep_s_on_aws": round(observe_aws + plan_s + apply_s, 1),
        "budget": fits,
        "sweeps_to_converge": max(1, math.ceil(actions / max(1, fits["actions_that_fit"]))),
    }


def measure(vpcs: int) -> dict[str, Any]:
    """In a fresh process, so the peak memory is the sweep's own."""
    import json
    import subprocess
    import sys
    import tempfile

    from benchmarks.emulator import child_env

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "scale.json")
        subprocess.run(
            [sys.executable, "-m", "benchmarks.scale", str(vpcs), out],
            env=child_env({"PYTHONPATH": os.pathsep.join([root, os.path.join(root, "layers", "common")])}),
            cwd=root,
            capture_output=True,
            check=True,
            timeout=3600,
        )
        with open(out) as handle:
            return json.load(handle)  # type: ignore[no-any-return]


def botocore_parse_seconds(listings: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """CPU seconds botocore spends turning EC2's XML answers for ``listings`` into dicts, per listing.

    The answers are written from the listings through botocore's own EC2 model (its XML names),
    one page at a time, and parsed with botocore's EC2 parser: the parse every real read pays."""
    from xml.sax.saxutils import escape

    import botocore.session
    from botocore.parsers import create_parser

    model = botocore.session.get_session().get_service_model("ec2")
    parser = create_parser("ec2")

    def xml(shape: Any, value: Any) -> str:
        if shape.type_name == "structure":
            parts = []
            for name, member in shape.members.items():
                if name in value:
                    tag = member.serialization.get("name", name[0].lower() + name[1:])
                    parts.append(f"<{tag}>{xml(member, value[name])}</{tag}>")
            return "".join(parts)
        if shape.type_name == "list":
            return "".join(f"<item>{xml(shape.member, item)}</item>" for item in value)
        if shape.type_name == "boolean":
            return "true" if value else "false"
        return escape(str(value))

    spent: dict[str, float] = {}
    for operation, items in listings.items():
        output = model.operation_model(operation.title().replace("_", "")).output_shape
        size = PAGE_ITEMS[operation]
        bodies = [
            f"<Response>{xml(output, {KEYS[operation]: items[start : start + size]})}</Response>".encode()
            for start in range(0, max(1, len(items)), size)
        ]
        started = time.process_time()
        parsed = [parser.parse({"body": body, "headers": {}, "status_code": 200}, output) for body in bodies]
        spent[operation] = round(time.process_time() - started, 2)
        if sum(len(page[KEYS[operation]]) for page in parsed) != len(items):
            raise RuntimeError(f"{operation}: the written answers do not parse back")
    return spent


if __name__ == "__main__":
    import json
    import sys

    found = run(int(sys.argv[1]))
    text = json.dumps(found, indent=2)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as handle:
            handle.write(text)
    else:
        print(text)
