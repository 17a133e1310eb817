"""sweep: the concerns of CONCERNS (all four by default) over the whole account in this region, on a schedule.

Rule: Schedule (`SweepSchedule`, default rate(15 minutes)). The only way requests from other
accounts get accepted: their CreateVpcPeeringConnection events never reach this account. Observes in
bulk, paces its mutating calls, and stops cleanly before the deadline (`remaining` in the summary);
the next run carries on.
"""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerkeeper.handler import handle
from peerkeeper.observability import logger, metrics, tracer

CONCERNS = ("peering", "routes", "dns", "flow_logs")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, concerns=CONCERNS, whole_region=True)
