"""``peerkeeper intent``: the pure compile + check at scale, and ``intent plan`` against ``plan``.

1. **compile + check** (pure, no I/O): 5,000 VPCs in 100 mesh networks of 50 (122,500 declared
   pairs), CPU seconds of :func:`peerkeeper.intent.check.compile_and_check` (median of 5). Goal:
   under 1 s.
2. **intent plan vs plan** on the 200-VPC sweep world (:mod:`benchmarks.worlds`), its 50 peered
   pairs declared by the file (50 networks of 2: the same network ``plan`` reconciles), each a fresh
   process as a user runs it, in rotated order: reads (calls by operation) and wall time, medians.
   Goal: within 1.10x of ``plan``'s reads and time. Then, for scale, a file declaring 4 meshes of
   50 on the same world (4,900 pairs to build: 39,200 planned actions).

``python -m benchmarks.intent [--repeats N]`` writes ``benchmarks/results/intent.json``. A benchmark,
not a timed test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
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


def _tag(emulator: Emulator, tags: dict[str, str]) -> None:
    ec2 = emulator.client("ec2", REGION)
    for vpc, value in tags.items():
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "net", "Value": value}])


def _file(names: list[str]) -> Path:
    networks = "".join(f"  {name}:\n    topology: mesh\n    members: [{{tags: {{net: {name}}}}}]\n" for name in names)
    file = Path(tempfile.gettempdir()) / f"peerkeeper-intent-bench-{len(names)}.yaml"
    file.write_text(f"version: 1\nnetworks:\n{networks}")
    return file


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
        # The network as it is: each peered pair (VPCs 2j and 2j+1) a network of its own.
        pairs = len(world.peerings)
        _tag(emulator, {vpc: f"p{index // 2}" for index, vpc in enumerate(world.vpcs[: 2 * pairs])})
        same = _file([f"p{j}" for j in range(pairs)])
        tools = {"peerkeeper plan": plan(), "peerkeeper intent plan": intent_plan(same)}
        measured = compare(emulator.url, tools, repeats)
        # For scale: every VPC in one of 4 meshes of 50, nothing of it built yet.
        _tag(emulator, {vpc: f"m{index // NETWORK_SIZE}" for index, vpc in enumerate(world.vpcs)})
        meshes = _file([f"m{k}" for k in range((size + NETWORK_SIZE - 1) // NETWORK_SIZE)])
        build = compare(emulator.url, {"peerkeeper intent plan, 4 meshes of 50": intent_plan(meshes)}, 1)
    plain, declared = measured["peerkeeper plan"], measured["peerkeeper intent plan"]
    return {
        "vpcs": size,
        "declared_pairs": pairs,
        "tools": measured,
        "reads_ratio": round(_reads(declared["calls"]) / _reads(plain["calls"]), 2),
        "wall_ratio": round(declared["wall_s_median"] / plain["wall_s_median"], 2),
        "cpu_ratio": round(declared["cpu_s_median"] / plain["cpu_s_median"], 2),
        "goal": 1.10,
        "four_meshes_of_50": build,
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
