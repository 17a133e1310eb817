"""API-call economy: the calls each handler makes for one event, by operation, against a minimum.

The real ``lambda_handler`` runs in this process against the emulator (``AWS_ENDPOINT_URL``) with a
botocore ``before-call`` hook on peerkeeper's clients (as ``tests/support.CallRecorder``). Each
scenario is then replayed: the same event again, on the converged world.

The minimum of each scenario is argued in ``MINIMUM`` (and in ``docs/benchmarks.md``): the calls no
correct handler can avoid, given that the event only says where to look (the contract: re-read the
current state, never trust the event) and that EC2 has no batch call for routes.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks import labs
from benchmarks.emulator import Emulator

READ_PREFIXES = ("Describe", "List", "Get")


@dataclass(frozen=True)
class Minimum:
    reads: dict[str, int]
    mutations: dict[str, int]
    why: str


def accept_minimum(k: int) -> Minimum:
    return Minimum(
        reads={"DescribeVpcPeeringConnections": 2, "DescribeVpcs": 1, "DescribeRouteTables": 1},
        mutations={"AcceptVpcPeeringConnection": 1, "CreateRoute": 2 * k},
        why=(
            "the connection (status, sides, tags); the accepter VPC's active connections (a requester "
            "overlapping another trusted peer is refused: issue 18); both VPCs in one filtered call (CIDRs "
            "for the overlap check, owner, ignore tag); both VPCs' tables in one filtered call. Accept once; "
            f"CreateRoute takes one route: one per table per side (2 x {k})."
        ),
    )


REPAIR_MINIMUM = Minimum(
    reads={"DescribeRouteTables": 1, "DescribeVpcPeeringConnections": 1, "DescribeVpcs": 1},
    mutations={"CreateRoute": 1},
    why=(
        "the table the event names (its VPC and routes); the active connections of that VPC; the VPCs "
        "(own: ignore tag; same-account peer: all its CIDRs). One route is missing: one CreateRoute."
    ),
)
DNS_MINIMUM = Minimum(
    reads={"ListHostedZonesByName": 1, "DescribeLoadBalancers": 1, "ListResourceRecordSets": 1},
    mutations={"ChangeResourceRecordSets": 1},
    why=(
        "the zones (the record's zone is the longest private suffix: only a listing can tell); the load "
        "balancer's current DNS name; the record set by name. One UPSERT."
    ),
)
FLOW_MINIMUM = Minimum(
    reads={"DescribeVpcs": 1, "DescribeFlowLogs": 1},
    mutations={"CreateFlowLogs": 1},
    why="the VPC (it exists, owner, ignore tag); its flow logs. One CreateFlowLogs.",
)


def _replayed(minimum: Minimum) -> Minimum:
    return Minimum(minimum.reads, {}, "replay: the same reads (state is re-read, never trusted), no mutation")


# (scenario name, lab case, route tables per VPC, function, minimum)
SCENARIOS: list[tuple[str, str, int, str, Minimum]] = [
    *((f"peering request, k={k}", "accept_peering", k, "accept_peering", accept_minimum(k)) for k in (1, 3, 10)),
    ("route deleted", "repair_routes", 2, "repair_routes", REPAIR_MINIMUM),
    ("CNAME drift (load balancer recreated)", "sync_dns", 2, "sync_dns", DNS_MINIMUM),
    ("new VPC", "enable_flow_logs", 2, "enable_flow_logs", FLOW_MINIMUM),
]
TINY_SCENARIOS = {"peering request, k=1", "new VPC"}


class Recorder:
    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)


@contextmanager
def handler_environment(emulator: Emulator) -> Iterator[None]:
    """The functions' environment in this process (tracing off: X-Ray is not what is counted)."""
    wanted = {
        **emulator.env(),
        **labs.FUNCTION_ENV,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_DEV": "false",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _invoke(function: str, event: dict[str, Any]) -> tuple[Counter[str], dict[str, Any]]:
    from peerkeeper.clients import default_clients
    from peerkeeper.settings import get_settings

    get_settings.cache_clear()
    default_clients.cache_clear()
    recorder = Recorder()
    default_clients().session.events.register("before-call", recorder)
    handler = importlib.import_module(f"functions.{function}.app").lambda_handler
    from benchmarks.coldstart_child import Context

    summary = handler(event, Context())
    return Counter(recorder.operations), summary


def _verdict(calls: Counter[str], minimum: Minimum, regions: int = 1) -> dict[str, Any]:
    reads = {op: n for op, n in calls.items() if op.startswith(READ_PREFIXES)}
    mutations = {op: n for op, n in calls.items() if not op.startswith(READ_PREFIXES)}
    read_total, min_reads = sum(reads.values()), sum(minimum.reads.values())
    return {
        "reads": dict(sorted(reads.items())),
        "mutations": dict(sorted(mutations.items())),
        "min_reads": min_reads,
        "min_mutations": sum(minimum.mutations.values()),
        "reads_over_min": read_total - min_reads,
        "mutations_exact": mutations == minimum.mutations,
        "reads_ok": read_total <= min_reads + regions,
        "why": minimum.why,
    }


def run(emulator: Emulator, *, tiny: bool = False) -> dict[str, Any]:
    results = []
    # The handlers' logs and EMF metrics go to stdout: keep the benchmark's table readable.
    with handler_environment(emulator), contextlib.redirect_stdout(io.StringIO()):
        for name, case, tables, function, minimum in SCENARIOS:
            if tiny and name not in TINY_SCENARIOS:
                continue
            emulator.reset()
            lab = labs.build(emulator.client, case, tables=tables)
            event = labs.event(labs.EVENT_OF[function], lab)
            calls, _ = _invoke(function, event)
            results.append({"scenario": name, "function": function, **_verdict(calls, minimum)})
            again, _ = _invoke(function, event)
            results.append(
                {"scenario": f"{name}: replayed", "function": function, **_verdict(again, _replayed(minimum))}
            )
    return {"scenarios": results}
