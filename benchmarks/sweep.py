"""Sweep scaling: ``peerkeeper plan`` vs the floor vs Cloud Custodian, on one world per size.

Each world is built once through the emulator's API and read by all three tools, in turn, in the
same run (the order rotates between repeats so no tool always runs on a warmer server). Every tool
runs as a fresh process, as a user runs it; its wall time includes its interpreter and imports, and
its calls are counted by operation with the same botocore hook (:mod:`benchmarks.callcount`).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.emulator import ACCOUNT, REGION, Emulator, child_env
from benchmarks.worlds import SweepWorld, build_sweep_world

ROOT = Path(__file__).resolve().parent.parent
C7N_PYTHON = ROOT / ".tools" / "c7n" / "bin" / "python"
READ_PREFIXES = ("Describe", "List", "Get")

C7N_POLICIES = """\
policies:
  - name: peering-missing-route
    resource: aws.peering-connection
    filters:
      - type: missing-route
  - name: vpc-without-flow-logs
    resource: aws.vpc
    filters:
      - type: flow-logs
        enabled: false
"""

_PCX_RE = re.compile(r"pcx-[0-9a-f]+")
_COUNT_RE = re.compile(r"^(\d+) VPC")


def _run(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, dict[str, Any], str]:
    """Wall seconds, counted calls and stdout of one fresh process."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        calls_path = out.name
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        env={**env, "BENCH_CALLS_OUT": calls_path, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 2):  # plan: 2 = drift found
        raise RuntimeError(f"{argv[:4]} exited {done.returncode}: {done.stderr[-2000:]}")
    calls = json.loads(Path(calls_path).read_text())["calls"]
    Path(calls_path).unlink()
    return wall, calls, done.stdout


def run_floor(emulator: Emulator) -> tuple[float, dict[str, Any], dict[str, Any]]:
    wall, calls, _ = _run([sys.executable, "-m", "benchmarks.floor_sweep"], child_env(emulator.env()))
    return wall, calls, {}


def plan_findings(doc: dict[str, Any]) -> dict[str, Any]:
    concerns = doc["concerns"]
    routes = set()
    for action in concerns["routes"]["actions"]:
        params = action.get("params") or {}
        pcx = params.get("VpcPeeringConnectionId") or next(iter(_PCX_RE.findall(action["reason"])), "")
        routes.add((action["resource"], pcx))
    flow_logs = 0
    for action in concerns["flow_logs"]["actions"]:
        ids = (action.get("params") or {}).get("ResourceIds")
        match = _COUNT_RE.match(action["reason"])
        flow_logs += len(ids) if ids else int(match.group(1)) if match else 0
    return {
        "accept": sorted(a["resource"] for a in concerns["peering"]["actions"] if a["kind"] == "accept-peering"),
        "routes": routes,
        "connections_missing_routes": sorted({pcx for _, pcx in routes}),
        "vpcs_without_flow_log": flow_logs,
    }


def run_plan(emulator: Emulator) -> tuple[float, dict[str, Any], dict[str, Any]]:
    code = (
        "from benchmarks.callcount import install; install(); "
        "from peerkeeper.cli.app import main; raise SystemExit(main())"
    )
    argv = [sys.executable, "-c", code, "plan", "--json", "--endpoint-url", emulator.url, "--region", REGION]
    env = child_env({**emulator.env(), "ALLOWED_PEER_ACCOUNTS": ACCOUNT})
    wall, calls, stdout = _run(argv, env)
    return wall, calls, plan_findings(json.loads(stdout))


def run_custodian(emulator: Emulator, workdir: Path) -> tuple[float, dict[str, Any], dict[str, Any]]:
    policy = workdir / "policies.yml"
    policy.write_text(C7N_POLICIES)
    output = workdir / "c7n-out"
    argv = [str(C7N_PYTHON), "-m", "benchmarks.c7n_runner", "run", "--cache-period", "0", "-s", str(output)]
    argv += ["-r", REGION, str(policy)]
    env = child_env({**emulator.env(), "HOME": str(workdir)})  # no cache or config of the user's
    wall, calls, _ = _run(argv, env)
    peerings = json.loads((output / "peering-missing-route" / "resources.json").read_text())
    vpcs = json.loads((output / "vpc-without-flow-logs" / "resources.json").read_text())
    findings = {
        "connections_missing_routes": sorted(p["VpcPeeringConnectionId"] for p in peerings),
        "vpcs_without_flow_log": len(vpcs),
    }
    return wall, calls, findings


def score(world: SweepWorld, tool: str, findings: dict[str, Any]) -> dict[str, Any]:
    """What a tool found of the world's drift, and what it missed."""
    truth = world.truth()
    wanted = set(truth["connections_missing_routes"])
    found = set(findings.get("connections_missing_routes", ()))
    result: dict[str, Any] = {
        "connections_missing_routes": f"{len(found & wanted)}/{len(wanted)}",
        "missed_connections": sorted(wanted - found),
        "false_connections": sorted(found - wanted),
        "vpcs_without_flow_log": f"{findings.get('vpcs_without_flow_log', 0)}/{truth['vpcs_without_flow_log']}",
    }
    if tool == "peerkeeper":
        routes = findings["routes"]
        result["missing_routes"] = f"{len(routes & world.missing_routes)}/{len(world.missing_routes)}"
        result["false_routes"] = len(routes - world.missing_routes)
        accepted = set(findings["accept"])
        result["pending_to_accept"] = (
            f"{len(accepted & set(truth['pending_to_accept']))}/{len(truth['pending_to_accept'])}"
        )
    else:
        result["missing_routes"] = "not reported (per connection only)"
        result["pending_to_accept"] = "not reported"
    result["drift_items_found"] = _items(findings, tool)
    return result


def _items(findings: dict[str, Any], tool: str) -> int:
    """Distinct drift items a person can act on: routes (or connections) + VPCs + requests."""
    if tool == "peerkeeper":
        return len(findings["routes"]) + findings["vpcs_without_flow_log"] + len(findings["accept"])
    if tool == "custodian":
        return len(findings["connections_missing_routes"]) + findings["vpcs_without_flow_log"]
    return 0


def _reads(calls: dict[str, int]) -> int:
    return sum(n for op, n in calls.items() if op.startswith(READ_PREFIXES))


def measure_size(emulator: Emulator, size: int, repeats: int, *, custodian: bool) -> dict[str, Any]:
    emulator.reset()
    world = build_sweep_world(emulator.client("ec2"), size)
    tools: dict[str, Any] = {"floor": run_floor, "peerkeeper": run_plan}
    runs: dict[str, list[tuple[float, dict[str, Any], dict[str, Any]]]] = {name: [] for name in tools}
    with tempfile.TemporaryDirectory() as tmp:
        if custodian:
            tools["custodian"] = lambda emu: run_custodian(emu, Path(tmp))
            runs["custodian"] = []
        names = list(tools)
        for repeat in range(repeats):
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                runs[name].append(tools[name](emulator))
    result: dict[str, Any] = {"vpcs": size, "world": world.truth(), "build": _build(world), "tools": {}}
    result["world"].pop("pending_to_accept")
    result["world"].pop("connections_missing_routes")
    floor_wall = statistics.median(wall for wall, _, _ in runs["floor"])
    for name, measured in runs.items():
        walls = [wall for wall, _, _ in measured]
        calls = measured[-1][1]
        entry: dict[str, Any] = {
            "wall_s_median": round(statistics.median(walls), 3),
            "wall_s_runs": [round(w, 3) for w in walls],
            "vs_floor": round(statistics.median(walls) / floor_wall, 2),
            "calls": dict(sorted(calls.items())),
            "reads": _reads(calls),
            "mutations": sum(calls.values()) - _reads(calls),
        }
        if name != "floor":
            entry["drift"] = score(world, name, measured[-1][2])
        result["tools"][name] = entry
    return result


def _build(world: SweepWorld) -> dict[str, Any]:
    return {"seconds": round(world.build_seconds, 1), "calls": world.build_calls}


def run(emulator: Emulator, sizes: list[int], repeats: int) -> dict[str, Any]:
    custodian = C7N_PYTHON.exists()
    results = [measure_size(emulator, size, repeats, custodian=custodian) for size in sizes]
    return {
        "custodian": "c7n 0.9.53, missing-route typo corrected in-process" if custodian else "not installed",
        "repeats": repeats,
        "sizes": results,
    }
