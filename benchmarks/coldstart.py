"""Cold start per handler, as Lambda bills it, each against its floor in the same environment.

(a) init: a fresh process imports ``functions/<name>/app.py`` with Lambda's ``sys.path``; floor:
    ``import boto3; boto3.client("ec2")``.
(b) init + first invocation of the function's sample event (ids replaced by a fresh lab's) against
    the emulator; floor: a bare script that imports boto3 and makes exactly the calls the handler
    made (recorded once, replayed with the new lab's ids), with the clients it needs.

Runs of the subject and its floor alternate, and the world is rebuilt before every (b) run, so both
see the same state and the same machine load. The child processes get Lambda's environment:
``LAMBDA_TASK_ROOT`` and a trace header make Powertools' Tracer active, as ``Tracing: Active`` does.
"""

from __future__ import annotations

import compileall
import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks import labs
from benchmarks.emulator import Emulator, child_env
from benchmarks.size import LAYER_LOCK, PIP_TARGET, layer_core

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "coldstart_child.py"
FUNCTIONS = ("accept_peering", "repair_routes", "sync_dns", "enable_flow_logs", "sweep")
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "peerkeeper-bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",  # nothing listens: segments go out over UDP and are lost
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "PYTHONDONTWRITEBYTECODE": "1",
}


SAM_LAYER = ROOT / ".aws-sam" / "build" / "CommonLayer" / "python"
_layers: dict[str, str] = {}


def layer_copy(directory: Path, *, bytecode: bool = True) -> str:
    """The layer as Lambda unzips it into /opt/python: what ``make build`` deploys, with the current
    source of the core (``layers/common/Makefile``'s copy step). Its dependencies are sam's layer's
    on an arm64 machine; elsewhere the same lock installed for this machine with ``pip install
    --target`` (the layer's wrapt carries an aarch64 C extension that cannot load here, and its
    pure-Python fallback would make x-ray slower than it is on Lambda).

    ``make build`` runs ``compileall --invalidation-mode unchecked-hash`` on sam's layer; the copy
    is compiled the same way after the core is put in, so no .pyc is stale or missing.
    ``bytecode=False``: the layer as ``sam build`` alone makes it (no .pyc: /opt is read-only, so
    Python compiles every module it imports on every cold start), for comparison."""
    key = "deployed" if bytecode else "no-pyc"
    if key in _layers:
        return _layers[key]
    artifacts = directory / f"layer-{key}"
    target = artifacts / "python"
    if SAM_LAYER.is_dir() and platform.machine() in ("aarch64", "arm64"):
        shutil.copytree(SAM_LAYER, target, ignore=shutil.ignore_patterns("__pycache__", "peerkeeper"))
    else:
        subprocess.run([*PIP_TARGET, str(target), *LAYER_LOCK], check=True)
    layer_core(artifacts)
    if bytecode:
        compileall.compile_dir(
            target, quiet=1, invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
    _layers[key] = str(target)
    return _layers[key]


def lambda_env(emulator: Emulator, function: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    task_root = str(ROOT / "functions" / function)
    layer = {"BENCH_LAYER": _layers["deployed"]} if "deployed" in _layers else {}
    return child_env(
        {**emulator.env(), **labs.FUNCTION_ENV, **LAMBDA_ENV, "LAMBDA_TASK_ROOT": task_root, **layer, **(extra or {})}
    )


def child(args: list[str], env: dict[str, str], python: str = sys.executable) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        result_path = Path(out.name)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [python, str(CHILD), *args],
        env={**env, "BENCH_RESULT": str(result_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start child {args} failed: {done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(result_path.read_text())
    result_path.unlink()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The child's own CPU seconds (user + system): on a loaded machine far steadier than its wall time.
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def _fresh_lab(emulator: Emulator, function: str) -> labs.Lab:
    emulator.reset()
    return labs.build(emulator.client, function)


def _event_file(lab: labs.Lab, function: str, directory: Path) -> Path:
    path = directory / f"{function}.event.json"
    path.write_text(json.dumps(labs.event(labs.EVENT_OF[function], lab)))
    return path


def _replay_file(reference: dict[str, Any], old: labs.Lab, new: labs.Lab, directory: Path) -> Path:
    text = json.dumps(reference)
    for before, after in zip(old.all_ids(), new.all_ids(), strict=True):
        text = text.replace(before, after)
    path = directory / "replay.json"
    path.write_text(text)
    return path


def _median(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def measure_function(
    emulator: Emulator, function: str, runs: int, directory: Path, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    env = lambda_env(emulator, function, extra)
    # The calls the handler makes on its first invocation, recorded once (untimed).
    reference_lab = _fresh_lab(emulator, function)
    calls_path = directory / f"{function}.calls.json"
    child(["record", function, str(_event_file(reference_lab, function, directory)), str(calls_path)], env)
    reference = json.loads(calls_path.read_text())
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        samples["init"].append(child(["init", function], env)["init"])
        samples["floor_init"].append(child(["floor-init"], env)["init"])
        lab = _fresh_lab(emulator, function)
        invoked = child(["invoke", function, str(_event_file(lab, function, directory))], env)
        samples["first_invoke_total"].append(invoked["total"])
        samples["first_invoke_handler"].append(invoked["invoke"])
        floor_lab = _fresh_lab(emulator, function)
        floored = child(["floor-invoke", str(_replay_file(reference, reference_lab, floor_lab, directory))], env)
        samples["floor_invoke_total"].append(floored["total"])
    operations: dict[str, int] = defaultdict(int)
    for _service, _region, operation, _params in reference["calls"]:
        operations[operation] += 1
    medians = {name: _median(values) for name, values in samples.items()}
    return {
        "function": function,
        "event": labs.EVENT_OF[function],
        "runs": runs,
        "calls": dict(operations),
        "ms": medians,
        "init_ratio": round(medians["init"] / medians["floor_init"], 2),
        "invoke_ratio": round(medians["first_invoke_total"] / medians["floor_invoke_total"], 2),
        "actions": [f"{a['kind']} {a['outcome']}" for a in reference["summary"].get("actions", [])],
    }


def attribute(emulator: Emulator, function: str, runs: int, directory: Path) -> dict[str, Any]:
    """Where init + first invocation spends its time, part by part, against the floor's same parts.

    Three subjects take turns on a fresh lab each: the handler as deployed (tracing on), the handler
    with ``POWERTOOLS_TRACE_DISABLED=1`` (Powertools still imports x-ray, but patches nothing and
    records nothing), and the floor replaying the handler's calls."""
    env = lambda_env(emulator, function)
    untraced = lambda_env(emulator, function, {"POWERTOOLS_TRACE_DISABLED": "1"})
    reference_lab = _fresh_lab(emulator, function)
    calls_path = directory / f"{function}.calls.json"
    child(["record", function, str(_event_file(reference_lab, function, directory)), str(calls_path)], env)
    reference = json.loads(calls_path.read_text())
    samples: dict[str, dict[str, list[float]]] = {"traced": defaultdict(list), "untraced": defaultdict(list)}
    samples["floor"] = defaultdict(list)
    for _ in range(runs):
        for name, variant_env in (("traced", env), ("untraced", untraced)):
            lab = _fresh_lab(emulator, function)
            found = child(["attribute", function, str(_event_file(lab, function, directory))], variant_env)
            for part, seconds in found.items():
                samples[name][part].append(seconds)
        floor_lab = _fresh_lab(emulator, function)
        replay = _replay_file(reference, reference_lab, floor_lab, directory)
        for part, seconds in child(["floor-attribute", str(replay)], env).items():
            samples["floor"][part].append(seconds)
    parts = {name: {part: _median(values) for part, values in found.items()} for name, found in samples.items()}
    return {
        "function": function,
        "runs": runs,
        "ms": parts,
        "traced_ratio": round(parts["traced"]["total"] / parts["floor"]["total"], 2),
        "untraced_ratio": round(parts["untraced"]["total"] / parts["floor"]["total"], 2),
    }


def run(
    emulator: Emulator,
    runs: int,
    functions: tuple[str, ...] = FUNCTIONS,
    *,
    details: bool,
    attribute_runs: int = 0,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        layer_copy(Path(tmp))
        results = [measure_function(emulator, function, runs, Path(tmp)) for function in functions]
        found = breakdown(emulator, max(3, runs // 2), Path(tmp)) if details else {}
        parts = (
            [attribute(emulator, function, attribute_runs, Path(tmp)) for function in functions]
            if attribute_runs
            else []
        )
        _layers.clear()
    on_arm = SAM_LAYER.is_dir() and platform.machine() in ("aarch64", "arm64")
    source = "make build output (.aws-sam/build/CommonLayer)" if on_arm else "pip install --target of the lock"
    source += ", compiled (unchecked-hash .pyc)"
    return {"runs": runs, "layer": source, "functions": results, "breakdown": found, "attribution": parts}


# -- where the time goes ----------------------------------------------------------------------
SNIPPETS = {
    "import boto3": "import boto3",
    "boto3.client('ec2') (the floor)": "import boto3; boto3.client('ec2')",
    "powertools Logger": "from aws_lambda_powertools import Logger; Logger(service='x')",
    "powertools Metrics": "from aws_lambda_powertools import Metrics; Metrics(service='x', namespace='x')",
    "powertools Tracer (tracing active: imports aws_xray_sdk, patches)": (
        "from aws_lambda_powertools import Tracer; Tracer(service='x')"
    ),
    "Logger + Metrics + Tracer (peerkeeper.observability)": (
        "from aws_lambda_powertools import Logger, Metrics, Tracer; "
        "Logger(service='x'); Metrics(service='x', namespace='x'); Tracer(service='x')"
    ),
}
PROFILED = {
    "botocore: load service models (JSON)": ("botocore/loaders.py", "load_service_model"),
    "botocore: create clients": ("botocore/session.py", "create_client"),
    "botocore: HTTP round trips": ("botocore/endpoint.py", "_send"),
    "x-ray: patch_all at Tracer()": ("aws_xray_sdk/core/patcher.py", "patch_all"),
    "x-ray: traced botocore calls": ("aws_xray_sdk/ext/botocore/patch.py", "_xray_traced_botocore"),
    "peerkeeper: reconcile (observe, plan, apply)": ("peerkeeper/service.py", "reconcile"),
}


def import_costs(emulator: Emulator, runs: int, directory: Path, function: str = "repair_routes") -> dict[str, float]:
    """Median ms of each snippet in a fresh process with the function's Lambda environment.

    Snippets run on this interpreter's site-packages (compiled): the cost of each import itself."""
    env = lambda_env(emulator, function)
    costs: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        for name, code in SNIPPETS.items():
            costs[name].append(child(["snippet", code], env)["init"])
        costs["import app (as deployed: layer with .pyc)"].append(child(["init", function], env)["init"])
        off = lambda_env(emulator, function, {"POWERTOOLS_TRACE_DISABLED": "1"})
        costs["import app, POWERTOOLS_TRACE_DISABLED=1"].append(child(["init", function], off)["init"])
        costs["python -c pass"].append(child(["snippet", "pass"], env)["init"])
        source_only = lambda_env(emulator, function, {"BENCH_LAYER": layer_copy(directory, bytecode=False)})
        costs["import app, layer without .pyc (sam build alone)"].append(child(["init", function], source_only)["init"])
    return {name: _median(values) for name, values in costs.items()}


def import_time_by_package(emulator: Emulator, function: str = "repair_routes") -> dict[str, float]:
    """``python -X importtime`` of the function's init: self time summed per top-level package (ms)."""
    env = lambda_env(emulator, function)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", str(CHILD), "init", function],
            env={**env, "BENCH_RESULT": out.name},
            capture_output=True,
            text=True,
            check=True,
        )
    totals: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        totals[name.strip().split(".")[0]] += int(self_us) / 1000
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    head = {name: round(ms, 1) for name, ms in ranked[:12]}
    head["(everything else)"] = round(sum(ms for _, ms in ranked[12:]), 1)
    return head


def profile_first_invocation(emulator: Emulator, function: str = "sweep") -> dict[str, float]:
    """cProfile of init + first invocation: cumulative ms of the functions in ``PROFILED``."""
    import pstats

    env = lambda_env(emulator, function)
    with tempfile.TemporaryDirectory() as tmp:
        lab = _fresh_lab(emulator, function)
        stats_path = Path(tmp) / "profile.stats"
        child(["profile", function, str(_event_file(lab, function, Path(tmp))), str(stats_path)], env)
        stats = pstats.Stats(str(stats_path))
    found: dict[str, float] = {}
    entries = stats.stats  # type: ignore[attr-defined]
    for label, (path, name) in PROFILED.items():
        found[label] = round(
            sum(value[3] for (file, _, func), value in entries.items() if file.endswith(path) and func == name) * 1000,
            1,
        )
    found["total (profiled, inflated by the profiler)"] = round(max(value[3] for value in entries.values()) * 1000, 1)
    return found


def breakdown(emulator: Emulator, runs: int, directory: Path) -> dict[str, Any]:
    return {
        "import_costs_ms": import_costs(emulator, runs, directory),
        "importtime_self_ms_by_package": import_time_by_package(emulator),
        "first_invocation_profile_ms": profile_first_invocation(emulator),
    }


TRACING = {"on": {}, "off": {"POWERTOOLS_TRACE_DISABLED": "1"}}


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.coldstart``: (a) and (b) alone, paired with their floors, tracing as
    deployed (``on``) and/or disabled (``off``), written to ``benchmarks/results/coldstart-<label>.json``."""
    import argparse
    import os

    from benchmarks import emulator as emulators

    parser = argparse.ArgumentParser(prog="python -m benchmarks.coldstart")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--function", action="append", choices=FUNCTIONS, help="repeatable (default: all)")
    parser.add_argument("--tracing", action="append", choices=sorted(TRACING), help="repeatable (default: on)")
    parser.add_argument("--label", default="coldstart")
    args = parser.parse_args(argv)
    functions = tuple(args.function or FUNCTIONS)
    found: dict[str, Any] = {"runs": args.runs, "load_before": os.getloadavg()}
    with emulators.running() as emu, tempfile.TemporaryDirectory() as tmp:
        layer_copy(Path(tmp))
        for tracing in args.tracing or ["on"]:
            rows = [measure_function(emu, f, args.runs, Path(tmp), dict(TRACING[tracing])) for f in functions]
            found[f"tracing {tracing}"] = rows
            print(f"tracing {tracing}: function, (a) init ms / floor = ratio, (b) init + 1st call ms / floor = ratio")
            for row in rows:
                ms = row["ms"]
                print(
                    f"  {row['function']:<17} {ms['init']:>7} / {ms['floor_init']:<7} = {row['init_ratio']:<5}"
                    f"  {ms['first_invoke_total']:>7} / {ms['floor_invoke_total']:<7} = {row['invoke_ratio']}"
                )
        _layers.clear()
    found["load_after"] = os.getloadavg()
    print(f"load average before {found['load_before']}, after {found['load_after']}")
    out = ROOT / "benchmarks" / "results" / f"{args.label}.json"
    out.write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
