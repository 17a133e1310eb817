"""Before/after cold starts, interleaved: ``python -m benchmarks.coldstart_ab NAME=CORE ...``.

Each ``CORE`` is a ``peerkeeper/`` folder (the Lambda core, e.g. an older checkout's
``layers/common/peerkeeper``); each gets a copy of the same layer (the lock's dependencies, compiled
like ``make build``) with that core in it. Every run takes turns: for each variant (a) ``import app``
and (b) init + first call on a fresh lab, each followed by its floor, so every variant and its floor
see the same machine load even while the load drifts. Prints medians and ratios to the floors
measured beside each variant; writes ``benchmarks/results/<label>.json``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks import coldstart, emulator
from benchmarks.size import LAYER_LOCK, PIP_TARGET


def _layer(directory: Path, name: str, core: Path, dependencies: Path) -> str:
    target = directory / name / "python"
    shutil.copytree(dependencies, target)
    shutil.copytree(core, target / "peerkeeper", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(target, quiet=1, invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return str(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coldstart_ab")
    parser.add_argument("variants", nargs="+", help="NAME=PATH/TO/peerkeeper")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--function", action="append", choices=coldstart.FUNCTIONS)
    parser.add_argument("--tracing", choices=sorted(coldstart.TRACING), default="on")
    parser.add_argument("--label", default="coldstart-ab")
    args = parser.parse_args(argv)
    variants = dict(v.split("=", 1) for v in args.variants)
    functions = tuple(args.function or coldstart.FUNCTIONS)
    extra = dict(coldstart.TRACING[args.tracing])
    found: dict[str, Any] = {"runs": args.runs, "tracing": args.tracing, "load_before": os.getloadavg()}
    with emulator.running() as emu, tempfile.TemporaryDirectory() as tmp:
        dependencies = Path(tmp) / "dependencies"
        subprocess.run([*PIP_TARGET, str(dependencies), *LAYER_LOCK], check=True)
        layers = {name: _layer(Path(tmp), name, Path(core), dependencies) for name, core in variants.items()}
        for function in functions:
            samples: dict[str, list[float]] = defaultdict(list)
            envs = {
                name: coldstart.lambda_env(emu, function, {**extra, "BENCH_LAYER": layer})
                for name, layer in layers.items()
            }
            any_env = next(iter(envs.values()))
            reference_lab = coldstart._fresh_lab(emu, function)
            calls = Path(tmp) / f"{function}.calls.json"
            event = coldstart._event_file(reference_lab, function, Path(tmp))
            coldstart.child(["record", function, str(event), str(calls)], any_env)
            reference = json.loads(calls.read_text())
            for _ in range(args.runs):
                for name, env in envs.items():
                    timed = {
                        "init": coldstart.child(["init", function], env),
                        "floor init": coldstart.child(["floor-init"], env),
                    }
                    lab = coldstart._fresh_lab(emu, function)
                    event = str(coldstart._event_file(lab, function, Path(tmp)))
                    timed["invoke"] = coldstart.child(["invoke", function, event], env)
                    floor_lab = coldstart._fresh_lab(emu, function)
                    replay = coldstart._replay_file(reference, reference_lab, floor_lab, Path(tmp))
                    timed["floor invoke"] = coldstart.child(["floor-invoke", str(replay)], env)
                    for part, found_part in timed.items():
                        samples[f"{name} {part}"].append(found_part["init" if "init" in part else "total"])
                        samples[f"{name} {part} cpu"].append(found_part["cpu"])
            ms = {key: round(statistics.median(values) * 1000, 1) for key, values in samples.items()}
            rows = {}
            for name in variants:
                rows[name] = {
                    "init": ms[f"{name} init"],
                    "floor_init": ms[f"{name} floor init"],
                    "init_ratio": round(ms[f"{name} init"] / ms[f"{name} floor init"], 2),
                    "invoke": ms[f"{name} invoke"],
                    "floor_invoke": ms[f"{name} floor invoke"],
                    "invoke_ratio": round(ms[f"{name} invoke"] / ms[f"{name} floor invoke"], 2),
                    "cpu_init_ratio": round(ms[f"{name} init cpu"] / ms[f"{name} floor init cpu"], 2),
                    "cpu_invoke_ratio": round(ms[f"{name} invoke cpu"] / ms[f"{name} floor invoke cpu"], 2),
                    "cpu_ms": {
                        part: ms[f"{name} {part} cpu"] for part in ("init", "floor init", "invoke", "floor invoke")
                    },
                }
                row = rows[name]
                print(
                    f"{function:<17} {name:<10} (a) {row['init']:>7} / {row['floor_init']:<7} = {row['init_ratio']:<5}"
                    f" (b) {row['invoke']:>7} / {row['floor_invoke']:<7} = {row['invoke_ratio']:<5}"
                    f" CPU (a) {row['cpu_init_ratio']:<5} (b) {row['cpu_invoke_ratio']}",
                    flush=True,
                )
            found[function] = rows
    found["load_after"] = os.getloadavg()
    print(f"tracing {args.tracing}; load average before {found['load_before']}, after {found['load_after']}")
    out = coldstart.ROOT / "benchmarks" / "results" / f"{args.label}.json"
    out.write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
