"""The one Logger, Metrics and Tracer of peerkeeper (Powertools).

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` /
``POWERTOOLS_METRICS_NAMESPACE`` (set in the template), with the defaults below elsewhere.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "peerkeeper"
NAMESPACE = "Peerkeeper"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
tracer = Tracer(service=SERVICE)

# One metric per outcome, so dashboards and alarms can be built on names that never change.
OUTCOME_METRICS = {
    ("accept-peering", "done"): "PeeringAccepted",
    ("reject-peering", "done"): "PeeringRejected",
    ("create-route", "done"): "RouteCreated",
    ("replace-route", "done"): "RouteReplaced",
    ("upsert-record", "done"): "RecordUpdated",
    ("create-flow-logs", "done"): "FlowLogCreated",
}
