"""Scale to one Lambda: the budget of a sweep of one large region, and what happens past it.

A sweep must fit in Lambda's 15 minutes: observe (the region's listings), plan (pure), then apply,
its mutating calls paced at EC2's refill of 5 per second after a burst of 50. This measure builds
the region in-process (moto's ``mock_aws``: no HTTP, so the build takes minutes, not hours), then
times peerkeeper's observe (every listing, parsed) and plan on it, counts the actions and the peak
memory, and computes the budget:

    sweep = observe + plan + max(0, actions - burst) / rate        (<= 900 s - 10 s reserve)

Observe on AWS is not moto's: it is the slowest listing's pages times the round trip (the listings
run at the same time), computed here for the page sizes AWS allows. Past the budget the sweep does
what ``peerkeeper.deadline`` says: it stops 10 s before the end, reports the rest (``remaining``),
and the next sweep, which observes afresh, carries on (tests/integration/test_sweep.py).
"""

from __future__ import annotations

import math
import os
import resource
import time
from typing import Any

from benchmarks.emulator import ACCOUNT, AWS_ENV, REGION
from benchmarks.worlds import build_sweep_world

LAMBDA_SECONDS = 900
RESERVE_SECONDS = 10
BURST, RATE = 50, 5.0
# Round trip of one page on AWS, and the most items a page holds (each API's MaxResults maximum).
ROUND_TRIP_S = 0.3
PAGE_ITEMS = {
    "DescribeVpcs": 1000,
    "DescribeRouteTables": 100,
    "DescribeVpcPeeringConnections": 1000,
    "DescribeFlowLogs": 1000,
}


def budget(observe_s: float, plan_s: float) -> dict[str, float]:
    """How many actions one sweep can apply after observing and planning."""
    left = LAMBDA_SECONDS - RESERVE_SECONDS - observe_s - plan_s
    return {"seconds_left_for_actions": round(left, 1), "actions_that_fit": int(max(0.0, left) * RATE + BURST)}


def aws_observe_seconds(counts: dict[str, int]) -> dict[str, Any]:
    pages = {op: max(1, math.ceil(n / PAGE_ITEMS[op])) for op, n in counts.items()}
    return {"pages": pages, "seconds": round(max(pages.values()) * ROUND_TRIP_S, 1), "round_trip_s": ROUND_TRIP_S}


def measure(vpcs: int) -> dict[str, Any]:
    """In a fresh process (``mock_aws`` and the environment it needs stay out of the benchmark's)."""
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
            timeout=7200,
        )
        with open(out) as handle:
            return json.load(handle)  # type: ignore[no-any-return]


def run(vpcs: int) -> dict[str, Any]:
    from moto import mock_aws

    os.environ.update({**AWS_ENV, "ALLOWED_PEER_ACCOUNTS": ACCOUNT, "POWERTOOLS_TRACE_DISABLED": "1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from peerkeeper import service
    from peerkeeper.clients import Clients
    from peerkeeper.events import Scope
    from peerkeeper.inventory import Inventory
    from peerkeeper.reconcile import Env
    from peerkeeper.settings import Settings

    with mock_aws():
        import boto3

        world = build_sweep_world(boto3.client("ec2", region_name=REGION), vpcs)
        settings = Settings.from_env({**os.environ, "PEERKEEPER_MODE": "dry-run"})
        clients = Clients()
        inventory = Inventory(clients, ACCOUNT)
        started = time.perf_counter()
        inventory.load_region(REGION, ("vpcs", "route_tables", "peerings", "flow_logs"))
        observed = time.perf_counter()
        env = Env(settings, clients, ACCOUNT, inventory)
        scope = Scope(REGION, ACCOUNT, "scale", whole_region=True)
        report = service.reconcile(env, scope, ("peering", "routes", "dns", "flow_logs"))
        planned = time.perf_counter()
    counts = {
        "DescribeVpcs": len(inventory.all_vpcs(REGION)),
        "DescribeRouteTables": world.truth()["route_tables"],
        "DescribeVpcPeeringConnections": len(world.peerings),
        "DescribeFlowLogs": 0,
    }
    kinds: dict[str, int] = {}
    for outcome in report.outcomes:
        kinds[outcome.action.kind] = kinds.get(outcome.action.kind, 0) + 1
    actions = sum(kinds.values())
    observe_s, plan_s = observed - started, planned - observed
    on_aws = aws_observe_seconds(counts)
    apply_s = max(0, actions - BURST) / RATE
    return {
        "vpcs": counts["DescribeVpcs"],
        "route_tables": counts["DescribeRouteTables"],
        "peerings": counts["DescribeVpcPeeringConnections"],
        "build_s": round(world.build_seconds, 1),
        "observe_s_on_moto": round(observe_s, 2),
        "plan_s": round(plan_s, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "actions": actions,
        "actions_by_kind": kinds,
        "apply_s_at_5_per_s": round(apply_s, 1),
        "observe_on_aws": on_aws,
        "sweep_s_on_aws": round(on_aws["seconds"] + plan_s + apply_s, 1),
        "budget": budget(on_aws["seconds"], plan_s),
    }


if __name__ == "__main__":
    import json
    import sys

    found = run(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
    text = json.dumps(found, indent=2)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as handle:
            handle.write(text)
    else:
        print(text)
