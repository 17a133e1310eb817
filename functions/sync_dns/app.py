"""sync_dns: each DNS_RECORDS name is a simple CNAME to its load balancer's current DNS name.

Rules: CloudTrail CreateLoadBalancer, DeleteLoadBalancer (v2 and classic), ChangeResourceRecordSets,
AssociateVPCWithHostedZone (Route 53 events reach us-east-1 only; the sweep covers other regions).
"""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerkeeper.handler import handle
from peerkeeper.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, concerns=("dns",))
