"""enable_flow_logs: every VPC delivers flow logs to FLOW_LOG_DESTINATION (a log group, or S3).

Rules: CloudTrail CreateVpc (that VPC), DeleteFlowLogs (the whole region: the event names only the
deleted flow log's id, which can no longer be described).
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
    return handle(event, context, concerns=("flow_logs",))
