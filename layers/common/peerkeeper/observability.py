"""The one Logger, Metrics and Tracer of peerkeeper (Powertools).

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` /
``POWERTOOLS_METRICS_NAMESPACE`` (set in the template), with the defaults below elsewhere.

``tracer`` is created on first access (PEP 562), and only where tracing is on: Powertools' Tracer
imports aws_xray_sdk (~70-160 ms, see docs/benchmarks.md) even when it then traces nothing. Tracing
is on as Powertools decides it (in Lambda, unless ``POWERTOOLS_TRACE_DISABLED`` is true or under
``sam local``); off, the handlers get ``Untraced``, whose decorators return the handler unchanged. The
CLI and the demo never pay for x-ray either way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "peerkeeper"
NAMESPACE = "Peerkeeper"
TRACED_MODULES = ("botocore",)  # what x-ray patches when tracing is on

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


class Untraced:
    """The Tracer's decorators when tracing is off: the function itself, nothing imported. Used as
    Powertools' are, with or without arguments (``@tracer.capture_method``, ``(capture_response=False)``)."""

    disabled = True

    def capture_lambda_handler(
        self, lambda_handler: Callable[..., Any] | None = None, **_options: bool | None
    ) -> Callable[..., Any]:
        return _unchanged if lambda_handler is None else lambda_handler

    def capture_method(self, method: Callable[..., Any] | None = None, **_options: bool | None) -> Callable[..., Any]:
        return _unchanged if method is None else method


def _unchanged(function: Callable[..., Any]) -> Callable[..., Any]:
    return function


def tracing_enabled() -> bool:
    """Would Powertools' Tracer trace here? Its own rule (``Tracer._is_tracer_disabled``: the Tracer
    class is already imported with Logger; only creating one imports x-ray)."""
    from aws_lambda_powertools.tracing.tracer import Tracer  # noqa: PLC0415 - imported with Logger already

    return not Tracer._is_tracer_disabled()


@cache
def _tracer() -> Tracer | Untraced:
    if not tracing_enabled():
        return Untraced()
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - deferred on purpose (module docstring)

    # Every AWS call is traced through botocore's patch. patch_all would also patch http.client (a
    # second subsegment for the same HTTP request of each call: peerkeeper makes no other) and sqlite3:
    # that cost sync_dns's first call ~0.3x of its floor (docs/benchmarks.md section 12).
    return Tracer(service=SERVICE, patch_modules=TRACED_MODULES)


def __getattr__(name: str) -> Tracer | Untraced:
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
