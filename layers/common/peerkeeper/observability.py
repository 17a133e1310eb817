"""The one Logger, Metrics and Tracer of peerkeeper (Powertools).

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` /
``POWERTOOLS_METRICS_NAMESPACE`` (set in the template), with the defaults below elsewhere.

``tracer`` is created on first access (PEP 562): Powertools' Tracer imports aws_xray_sdk (~0.5 s,
see docs/benchmarks.md), which only the Lambda handlers need; the CLI and the demo never pay it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "peerkeeper"
NAMESPACE = "Peerkeeper"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

# One metric per outcome, so dashboards and alarms can be built on names that never change.
OUTCOME_METRICS = {
    ("accept-peering", "done"): "PeeringAccepted",
    ("reject-peering", "done"): "PeeringRejected",
    ("create-route", "done"): "RouteCreated",
    ("replace-route", "done"): "RouteReplaced",
    ("upsert-record", "done"): "RecordUpdated",
    ("create-flow-logs", "done"): "FlowLogCreated",
}


@cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - deferred on purpose (module docstring)

    return Tracer(service=SERVICE)


def __getattr__(name: str) -> Tracer:
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
