"""The ``IntentFunction``: the network file from an SSM String parameter, reconciled like ``intent apply``.

On the sweep's schedule and on VPC tag changes (EventBridge ``Tag Change on Resource``, forwarded
from member accounts): whatever the event, the whole intent is reconciled from what is read now (the
event only says "look"). Over this account, or also ``INTENT_ACCOUNTS`` (``org`` or a list) through
``INTENT_ROLE_NAME``, in the function's region. Without ``INTENT_PARAMETER_NAME`` it does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from peerkeeper import fleet
from peerkeeper.clients import Clients
from peerkeeper.fleet import Target
from peerkeeper.intent.run import apply_intent
from peerkeeper.intent.spec import IntentFileError, parse
from peerkeeper.reconcile import ReconcileError
from peerkeeper.settings import IntentSettings, Settings


def read_file(clients: Clients, region: str, name: str) -> str:
    """The parameter's value (a String parameter: no decryption, no KMS permission needed)."""
    return str(clients.ssm(region).get_parameter(Name=name)["Parameter"]["Value"])


def targets(
    settings: Settings, intent: IntentSettings, clients: Clients, account_id: str
) -> tuple[list[Target], list[fleet.Unreachable]]:
    """This account with the function's own clients, and each other account through the role."""
    own = Target(clients, account_id, (settings,))
    others = fleet.organization_accounts(clients, settings.region) if intent.organization else list(intent.accounts)
    others = [account for account in dict.fromkeys(others) if account != account_id]
    if not others:
        return [own], []
    reached, unreachable = fleet.reach(own, others, intent.role_name, lambda _account: (settings,))
    return [own, *reached], unreachable


def reconcile(
    settings: Settings,
    intent_settings: IntentSettings | None,
    clients: Clients,
    account_id: str,
    on_error: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The summary of one run (the ``intent apply --json`` document, with ``mode`` and ``actions``)."""
    if intent_settings is None:
        return {"mode": settings.mode, "actions": [], "ignored": "INTENT_PARAMETER_NAME is not set"}
    name = intent_settings.parameter_name
    try:
        intent = parse(read_file(clients, settings.region, name), f"ssm:{name}")
    except IntentFileError as error:
        # A person's mistake: retrying cannot fix it; it is logged, alarmed on and reported.
        if on_error is not None:
            on_error(str(error))
        return {"mode": settings.mode, "actions": [], "problems": [{"code": "INTENT_FILE", "reason": str(error)}]}
    reached, unreachable = targets(settings, intent_settings, clients, account_id)
    result = apply_intent(intent, reached, unreachable)
    summary = result.document()
    failed = [o for _, o in result.done if o.status == "failed"] or result.errors
    if failed:
        raise ReconcileError(f"{len(summary['errors'])} failure(s), the event will be retried: {summary['errors']}")
    return summary
