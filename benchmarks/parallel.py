"""One region at the limit, and regions side by side, under an AWS-like round trip.

Every request goes through :mod:`benchmarks.latency` (100 ms added to each), and every figure is a
ratio to a floor measured in the same run, the tools taking turns (the order rotates between
repeats) so none always runs on a warmer emulator or a quieter machine:

- **sequential floor**: a bare process paging the four describes one after the other;
- **parallel floor**: the same describes all at once from a thread pool (the limit);
- **peerkeeper plan**: ``peerkeeper plan --json`` for the region, a fresh process as a user runs it.

The same three without the proxy say what the overlap costs where calls are free (the emulator
answers in microseconds, so there the goal is only "no slower than before"). Then ``plan`` over
1 and 4 regions (each holding the same world) under the round trip: regions in parallel should cost
little more than one.
"""

from __future__ import annotations

import resource
import statistics
import sys
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import latency
from benchmarks.emulator import ACCOUNT, REGION, Emulator, child_env
from benchmarks.sweep import _reads, _run
from benchmarks.worlds import build_sweep_world

OTHER_REGIONS = ("us-west-2", "eu-west-1", "ap-southeast-2")
CLI_CODE = (
    "from benchmarks.callcount import install; install(); from peerkeeper.cli.app import main; raise SystemExit(main())"
)
Tool = Callable[[str], tuple[float, dict[str, Any]]]


def floor(parallel: bool, regions: Sequence[str] = (REGION,)) -> Tool:
    def run(url: str) -> tuple[float, dict[str, Any]]:
        argv = [sys.executable, "-m", "benchmarks.floor_sweep", *(["--parallel"] if parallel else []), *regions]
        env = child_env({**Emulator(url).env(), "AWS_ENDPOINT_URL": url})
        wall, calls, _ = _run(argv, env)
        return wall, calls

    return run


def plan(regions: Sequence[str] = (REGION,)) -> Tool:
    def run(url: str) -> tuple[float, dict[str, Any]]:
        argv = [sys.executable, "-c", CLI_CODE, "plan", "--json", "--endpoint-url", url]
        for region in regions:
            argv += ["--region", region]
        env = child_env({**Emulator(url).env(), "AWS_ENDPOINT_URL": url, "ALLOWED_PEER_ACCOUNTS": ACCOUNT})
        wall, calls, _ = _run(argv, env)
        return wall, calls

    return run


def cli_calls(url: str, command: list[str]) -> dict[str, int]:
    """The calls of one CLI command (a fresh process), by operation."""
    argv = [sys.executable, "-c", CLI_CODE, *command, "--endpoint-url", url, "--region", REGION]
    env = child_env({**Emulator(url).env(), "AWS_ENDPOINT_URL": url, "ALLOWED_PEER_ACCOUNTS": ACCOUNT})
    _, calls, _ = _run(argv, env)
    return dict(sorted(calls.items()))


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes: the tool just run, not moto."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ratios(result: dict[str, Any], key: str, prefix: str) -> None:
    """Each tool's ``key`` as a ratio to every floor's."""
    for name, entry in result.items():
        for reference, floor_entry in result.items():
            if reference.endswith("floor") and reference != name:
                entry[f"{prefix}_{reference.replace(' ', '_')}"] = round(entry[key] / floor_entry[key], 2)


def compare(url: str, tools: dict[str, Tool], repeats: int, proxy: latency.Proxy | None = None) -> dict[str, Any]:
    """Each tool ``repeats`` times, in rotated order; medians, and every tool's ratio to each floor.

    Behind the proxy, also the round trips each tool waited for (the latency part of its time)."""
    walls: dict[str, list[float]] = {name: [] for name in tools}
    trips: dict[str, list[float]] = {name: [] for name in tools}
    cpus: dict[str, list[float]] = {name: [] for name in tools}
    calls: dict[str, dict[str, Any]] = {}
    names = list(tools)
    for repeat in range(repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            if proxy is not None:
                proxy.round_trips()  # forget what came before
            before = _children_cpu()
            wall, calls[name] = tools[name](url)
            walls[name].append(wall)
            cpus[name].append(_children_cpu() - before)
            if proxy is not None:
                trips[name].append(proxy.round_trips())
    medians = {name: statistics.median(values) for name, values in walls.items()}
    result: dict[str, Any] = {}
    for name in names:
        entry: dict[str, Any] = {
            "wall_s_median": round(medians[name], 3),
            "wall_s_runs": [round(w, 3) for w in walls[name]],
            "reads": _reads(calls[name]),
            "calls": dict(sorted(calls[name].items())),
        }
        entry["cpu_s_median"] = round(statistics.median(cpus[name]), 3)
        if proxy is not None:
            entry["round_trips_median"] = statistics.median(trips[name])
            # What the tool would take where CPU is not shared: its own CPU, plus the round trips it
            # waited for (the server's time is inside the round trip, as on AWS).
            entry["cpu_plus_round_trips_s"] = round(
                entry["cpu_s_median"] + entry["round_trips_median"] * proxy.delay, 3
            )
        result[name] = entry
    _ratios(result, "wall_s_median", "vs")
    if proxy is not None:
        _ratios(result, "cpu_plus_round_trips_s", "model_vs")
    return result


def run(emulator: Emulator, size: int, repeats: int, *, delay: float = 0.1, regions: int = 4) -> dict[str, Any]:
    emulator.reset()
    all_regions = [REGION, *OTHER_REGIONS[: regions - 1]]
    built = {region: build_sweep_world(emulator.client("ec2", region), size) for region in all_regions}
    one = {
        "sequential floor": floor(parallel=False),
        "parallel floor": floor(parallel=True),
        "peerkeeper plan": plan(),
    }
    result: dict[str, Any] = {
        "vpcs": size,
        "route_tables": built[REGION].truth()["route_tables"],
        "peerings": len(built[REGION].peerings),
        "delay_s": delay,
        "repeats": repeats,
        "no_latency": compare(emulator.url, one, repeats),
        # API economy of the commands that draw or explain: graph must read no more than plan.
        "economy": {
            "plan": cli_calls(emulator.url, ["plan", "--json"]),
            "graph": cli_calls(emulator.url, ["graph", "--format", "mermaid"]),
        },
    }
    with latency.delayed(emulator.url, delay) as proxy:
        url = proxy.url
        result["latency"] = compare(url, one, repeats, proxy)
        fan_out = {
            "parallel floor": floor(parallel=True),
            f"{regions}-region parallel floor": floor(parallel=True, regions=all_regions),
            "plan, 1 region": plan(),
            f"plan, {regions} regions": plan(all_regions),
        }
        measured = compare(url, fan_out, repeats, proxy)
    one_region = measured["plan, 1 region"]["wall_s_median"]
    one_model = measured["plan, 1 region"]["cpu_plus_round_trips_s"]
    for name in fan_out:
        measured[name]["vs_one_region"] = round(measured[name]["wall_s_median"] / one_region, 2)
        measured[name]["model_vs_one_region"] = round(measured[name]["cpu_plus_round_trips_s"] / one_model, 2)
    result["regions"] = {"names": all_regions, "tools": measured}
    return result
