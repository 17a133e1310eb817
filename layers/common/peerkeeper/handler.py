"""What every ``lambda_handler`` does: event -> scope, settings, reconcile, summary.

Terminal situations (unknown event, failed call recorded by CloudTrail, resource gone, request
refused) return normally so EventBridge does not retry them; a retryable failure raises after the
whole plan ran, so the event is retried and finally lands in the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from peerkeeper.clients import default_clients
from peerkeeper.events import Scope, delivery_id, scope_from_event
from peerkeeper.notify import FAILED, ConflictMemory, as_sweep_tells, notify
from peerkeeper.observability import logger, metrics
from peerkeeper.reconcile import Pacer
from peerkeeper.securityhub import publish
from peerkeeper.service import account_from_context, env_for, reconcile
from peerkeeper.settings import SettingsError, get_settings


def handle(event: Any, context: Any, concerns: Sequence[str], *, whole_region: bool = False) -> dict[str, Any]:
    try:
        settings = get_settings()
    except SettingsError as error:
        # Fails every invocation until the configuration is fixed: loud in logs, metrics and alarms.
        logger.error("configuration error", extra={"variable": error.variable, "value": error.value})
        metrics.add_metric(name="ConfigurationError", unit="Count", value=1)
        raise
    scope = scope_from_event(event, settings.region)
    if whole_region:
        # The sweep reconciles its own region whatever started it (schedule, manual invoke, test event).
        scope = Scope(settings.region, scope.account, scope.event_name or "sweep", whole_region=True)
    logger.append_keys(event_name=scope.event_name or None, scope=scope.to_dict())
    if scope.empty and not whole_region:
        logger.info("event ignored", extra={"reason": scope.ignored_reason})
        metrics.add_metric(name="EventIgnored", unit="Count", value=1)
        return {"mode": settings.mode, "actions": [], "ignored": scope.ignored_reason}
    account = account_from_context(context) or scope.account
    env = env_for(settings, default_clients(), account, delivery_id(event, context))
    pacer = Pacer(settings.mutation_rate, settings.mutation_burst)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    time_left = (lambda: remaining() / 1000) if callable(remaining) else None
    report = reconcile(env, scope, concerns, pacer=pacer, time_left=time_left)
    report.emit_metrics()
    summary = report.to_dict()
    logger.info("reconciled", extra={"summary": summary})
    # Before raising: a failed action is exactly what operators must hear about.
    function = str(getattr(context, "function_name", "") or "")
    told = as_sweep_tells(summary, event, settings, env.account_id) if whole_region else summary
    memory = ConflictMemory(settings, env.clients, env.account_id, whole_region=whole_region)
    told = memory.to_tell(told)  # a conflict is told once, like a refusal
    notification = notify(settings, env.clients, told, function=function, account=env.account_id)
    if notification:
        summary["notification"] = notification
    if notification != FAILED:
        memory.remember()
    findings = publish(settings, env.clients, report, scope, concerns, account=env.account_id)
    if findings is not None:
        summary["security_hub"] = findings
    report.raise_if_failed()
    return summary
