"""``peerkeeper intent``: the pure compile + check at scale, and ``intent plan`` against ``plan``.

1. **compile + check** (pure, no I/O): 5,000 VPCs in 100 mesh networks of 50 (122,500 declared
   pairs), CPU seconds of :func:`peerkeeper.intent.check.compile_and_check` (median of 5). Goal:
   under 1 s.
2. **intent plan vs plan** on the 200-VPC sweep world (:mod:`benchmarks.worlds`, every VPC tagged
   into 4 mesh networks of 50), each a fresh process as a user runs it, in rotated order: reads
   (calls by operation) and wall time, medians. Goal: within 1.10x of ``plan``'s reads and time.

``python -m benchmarks.intent [--repeats N]`` writes ``benchmarks/results/intent.json``. A benchmark,
not a timed test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.emulator import ACCOUNT, REGION, Emulator, child_env, running
from benchmarks.parallel import CLI_CODE, compare, plan
from benchmarks.sweep import _reads, _run
from benchmarks.worlds import build_sweep_world, cidr
from peerkeeper.intent import check as intent_check
from peerkeeper.intent.model import MESH, Intent, Network, Selector, World
from peerkeeper.model import Vpc
from peerkeeper.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
NETWORK_SIZE = 50


def synthetic(vpcs: int, size: int = NETWORK_SIZE) -> tuple[Intent, World]:
    networks = tuple(
        Network(f"n{index:03d}", MESH, (Selector((("net", f"n{index:03d}"),)),)) for index in range(vpcs // size)
    )
    found = tuple(
        Vpc(f"vpc-{index:017x}", ACCOUNT, REGION, (cidr(index),), tags=(("net", f"n{index // size:03d}"),))
        for index in range(vpcs)
    )
    policy = Settings(region=REGION, allowed_peer_accounts=frozenset({ACCOUNT}))
    return Intent(networks, max_peerings_per_vpc=size), World(found, (), (), {(ACCOUNT, REGION): policy})


def compile_and_check(vpcs: int, repeats: int) -> dict[str, Any]:
    intent, world = synthetic(vpcs)
    cpu: list[float] = []
    pairs_count = infeasible = 0
    for _ in range(repeats):
        started = time.process_time()
        pairs, verdicts, _ = intent_check.compile_and_check(intent, world)
        cpu.append(time.process_time() - started)
        pairs_count, infeasible = len(pairs), sum(1 for v in verdicts if not v.feasible)
    return {
        "vpcs": vpcs,
        "networks": len(intent.networks),
        "pairs": pairs_count,
        "infeasible": infeasible,
        "cpu_s_median": round(statistics.median(cpu), 3),
        "cpu_s_runs": [round(c, 3) for c in cpu],
        "goal_s": 1.0,
    }


def _tag_world(emulator: Emulator, vpcs: list[str]) -> None:
    ec2 = emulator.client("ec2", REGION)
    for index, vpc in enumerate(vpcs):
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "net", "Value": f"n{index // NETWORK_SIZE}"}])


def intent_plan(file: Path):  # type: ignore[no-untyped-def]
    def run(url: str) -> tuple[float, dict[str, Any]]:
        argv = [sys.executable, "-c", CLI_CODE, "intent", "plan", str(file), "--json", "--endpoint-url", url]
        argv += ["--region", REGION]
        env = child_env({**Emulator(url).env(), "AWS_ENDPOINT_URL": url, "ALLOWED_PEER_ACCOUNTS": ACCOUNT})
        wall, calls, _ = _run(argv, env)
        return wall, calls

    return run


def against_plan(size: int, repeats: int) -> dict[str, Any]:
    with running() as emulator:
        world = build_sweep_world(emulator.client("ec2", REGION), size)
        _tag_world(emulator, world.vpcs)
        networks = "".join(
            f"  n{index}:\n    topology: mesh\n    members: [{{tags: {{net: n{index}}}}}]\n"
            for index in range((size + NETWORK_SIZE - 1) // NETWORK_SIZE)
        )
        file = RESULTS / "intent-bench.yaml"
        file.write_text(f"version: 1\nnetworks:\n{networks}")
        tools = {"peerkeeper plan": plan(), "peerkeeper intent plan": intent_plan(file)}
        measured = compare(emulator.url, tools, repeats)
    plain, declared = measured["peerkeeper plan"], measured["peerkeeper intent plan"]
    return {
        "vpcs": size,
        "tools": measured,
        "reads_ratio": round(_reads(declared["calls"]) / _reads(plain["calls"]), 2),
        "wall_ratio": round(declared["wall_s_median"] / plain["wall_s_median"], 2),
        "goal": 1.10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--vpcs", type=int, default=5000)
    parser.add_argument("--world", type=int, default=200)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    result = {
        "compile_and_check": compile_and_check(args.vpcs, args.repeats),
        "intent_plan_vs_plan": against_plan(args.world, args.repeats),
    }
    (RESULTS / "intent.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
