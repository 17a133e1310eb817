"""``python -m benchmarks [--size tiny|small|full] [--out benchmarks/results/<name>.json]``.

Prints one table per measure and writes everything as JSON. ``tiny`` is the CI smoke size (one
handler, one run, a 10-VPC world); ``small`` and ``full`` are the sizes reported in
``docs/benchmarks.md`` (``full`` adds the 1,000-VPC world: about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import coldstart, economy, emulator, parallel, scale, size, sweep

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "runs": 1,
        "functions": ("repair_routes",),
        "worlds": [10],
        "repeats": 1,
        "details": False,
        "latency": {"size": 10, "repeats": 1, "regions": 2},
        "attribute_runs": 1,
        "scale": 20,
    },
    "small": {
        "runs": 10,
        "functions": coldstart.FUNCTIONS,
        "worlds": [10, 100],
        "repeats": 3,
        "details": True,
        "latency": {"size": 200, "repeats": 5, "regions": 4},
        "attribute_runs": 5,
        "scale": 1000,
    },
    "full": {
        "runs": 10,
        "functions": coldstart.FUNCTIONS,
        "worlds": [10, 100, 1000],
        "repeats": 3,
        "details": True,
        "latency": {"size": 200, "repeats": 7, "regions": 4},
        "attribute_runs": 5,
        "scale": 5000,
    },
}


def machine() -> dict[str, Any]:
    def sh(command: str) -> str:
        done = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    cpu = next((line.split(":", 1)[1].strip() for line in sh("lscpu").splitlines() if "Model name" in line), "")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "memory": sh("free -h | awk '/Mem:/ {print $2}'"),
        "load_average": sh("cut -d' ' -f1-3 /proc/loadavg"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(str(cell).ljust(width) for cell, width in zip(header, widths, strict=False)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)))


def _ok(scenario: dict[str, Any]) -> str:
    return "yes" if scenario["mutations_exact"] and scenario["reads_ok"] else "NO"


def calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(calls.items())) or "-"


def _invoke_cells(result: dict[str, Any]) -> list[Any]:
    return [result["ms"]["first_invoke_total"], result["ms"]["floor_invoke_total"], result["invoke_ratio"]]


def show(results: dict[str, Any]) -> None:
    cold = results["cold_start"]
    table(
        f"Cold start, median of {cold['runs']} (ms; layer: {cold['layer']})",
        ["function", "init", "floor", "ratio", "init+1st call", "floor", "ratio"],
        [
            [f["function"], *(f["ms"][k] for k in ("init", "floor_init")), f["init_ratio"], *_invoke_cells(f)]
            for f in cold["functions"]
        ],
    )
    for name, values in cold.get("breakdown", {}).items():
        table(name, ["what", "ms"], [[key, value] for key, value in values.items()])
    if "deployment_size" in results:
        sized = results["deployment_size"]
        rows = [["layer (zip)", f"{sized['layer_mib']} MiB"]]
        rows += [[f"  of which {k}", f"{v} MiB"] for k, v in sized["layer_groups_mib"].items()]
        rows += [[f"function {k} (zip)", f"{v} KiB"] for k, v in sized["functions_kib"].items()]
        rows += [["Cloud Custodian's Lambda package", f"{sized['custodian_package_mib']} MiB"]]
        table(f"Deployment size ({sized['source']})", ["what", "size"], rows)
    table(
        "API-call economy (one event, then the same event replayed)",
        ["scenario", "reads", "min", "mutations", "min", "ok"],
        [
            [
                s["scenario"],
                calls_text(s["reads"]),
                s["min_reads"],
                calls_text(s["mutations"]),
                s["min_mutations"],
                _ok(s),
            ]
            for s in results["economy"]["scenarios"]
        ],
    )
    rows = []
    for world in results["sweep"]["sizes"]:
        for name, tool in world["tools"].items():
            drift = tool.get("drift", {})
            found = ("missing_routes", "connections_missing_routes", "pending_to_accept", "vpcs_without_flow_log")
            measured = [tool["wall_s_median"], tool["vs_floor"], tool["reads"], calls_text(tool["calls"])]
            rows.append([world["vpcs"], name, *measured, *(drift.get(key, "") for key in found)])
    table(
        f"Sweep on moto's server ({results['sweep']['custodian']}), median wall s of {results['sweep']['repeats']}",
        [
            "VPCs",
            "tool",
            "wall s",
            "x floor",
            "reads",
            "calls",
            "routes found",
            "connections",
            "to accept",
            "flow logs",
        ],
        rows,
    )


def show_latency(found: dict[str, Any]) -> None:
    rows = []
    for label, key in (("no latency", "no_latency"), (f"{found['delay_s'] * 1000:.0f} ms per call", "latency")):
        for name, tool in found[key].items():
            ratios = [tool.get("vs_sequential_floor", ""), tool.get("vs_parallel_floor", "")]
            trips = tool.get("round_trips_median", "")
            rows.append([label, name, tool["wall_s_median"], *ratios, trips, calls_text(tool["calls"])])
    table(
        f"One region ({found['vpcs']} VPCs, {found['route_tables']} route tables), median wall s of {found['repeats']}",
        ["round trip", "tool", "wall s", "x seq. floor", "x par. floor", "round trips", "calls"],
        rows,
    )
    regions = found["regions"]
    table(
        f"Regions under the round trip ({', '.join(regions['names'])}), median wall s of {found['repeats']}",
        ["tool", "wall s", "x one region", "round trips", "reads"],
        [
            [name, t["wall_s_median"], t["vs_one_region"], t["round_trips_median"], t["reads"]]
            for name, t in regions["tools"].items()
        ],
    )


def show_more(results: dict[str, Any]) -> None:
    for found in results["cold_start"].get("attribution", []):
        parts = found["ms"]
        names = list(dict.fromkeys([*parts["traced"], *parts["floor"]]))
        table(
            f"Cold start of {found['function']}, part by part (median ms of {found['runs']}): "
            f"{found['traced_ratio']}x the floor traced, {found['untraced_ratio']}x untraced",
            ["part", "as deployed", "tracing off", "floor"],
            [[name, *(parts[v].get(name, "-") for v in ("traced", "untraced", "floor"))] for name in names],
        )
    found = results["scale"]
    rows = [[key, json.dumps(value) if isinstance(value, dict) else value] for key, value in found.items()]
    table("The budget of one sweep", ["what", "value"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/<size>.json)")
    args = parser.parse_args(argv)
    plan = SIZES[args.size]
    out = args.out or Path(__file__).resolve().parent / "results" / f"{args.size}.json"
    started = time.perf_counter()
    results: dict[str, Any] = {"size": args.size, "machine": machine()}
    with emulator.running() as emu:
        print(f"emulator at {emu.url}; size {args.size}", file=sys.stderr)
        results["economy"] = economy.run(emu, tiny=args.size == "tiny")
        results["cold_start"] = coldstart.run(
            emu, plan["runs"], plan["functions"], details=plan["details"], attribute_runs=plan["attribute_runs"]
        )
        if args.size != "tiny":
            results["deployment_size"] = size.run()
        results["sweep"] = sweep.run(emu, plan["worlds"], plan["repeats"])
        results["latency"] = parallel.run(emu, **plan["latency"])
    results["scale"] = scale.measure(plan["scale"])
    results["seconds"] = round(time.perf_counter() - started, 1)
    show(results)
    show_latency(results["latency"])
    show_more(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=sorted) + "\n")
    print(f"\n{args.size}: {results['seconds']} s; written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
