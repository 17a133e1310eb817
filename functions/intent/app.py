"""intent: the network file in an SSM String parameter (``IntentParameterName``), built and kept.

Rules: the sweep's schedule (``SweepSchedule``) and EventBridge ``Tag Change on Resource`` for ec2
VPCs (a tag added or removed can make a VPC a member or not). Whatever the event, the whole intent
is reconciled from what is read now. Never deletes a connection or a route.
"""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from peerkeeper.clients import default_clients
from peerkeeper.intent.deployed import reconcile
from peerkeeper.observability import logger, metrics, tracer
from peerkeeper.service import account_from_context
from peerkeeper.settings import IntentSettings, get_settings


def _file_error(message: str) -> None:
    logger.error("intent file rejected", extra={"error": message})
    metrics.add_metric(name="IntentFileError", unit="Count", value=1)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    clients = default_clients()
    account = account_from_context(context) or clients.account_id(settings.region)
    summary = reconcile(settings, IntentSettings.from_env(), clients, account, on_error=_file_error)
    logger.info("intent reconciled", extra={"counts": summary.get("counts", {})})
    return summary
