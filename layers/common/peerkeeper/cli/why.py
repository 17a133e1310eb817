"""``peerkeeper why``: the question parsed, answered by :mod:`peerkeeper.reach`, drawn by the output module."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from peerkeeper import fleet
from peerkeeper.cli.common import (
    ACCOUNT_ID,
    EXIT_NOT_REACHABLE,
    EXIT_OK,
    ROLE_NAME,
    UsageError,
    make_console,
    open_clients,
)
from peerkeeper.cli.output import render_answer

if TYPE_CHECKING:
    from peerkeeper.clients import Clients
    from peerkeeper.settings import Settings


def other_accounts(args: argparse.Namespace, clients: Clients, settings: Settings) -> dict[str, Clients]:
    """``--account ID`` (repeatable) with ``--role-name NAME``: clients acting in each, through fleet's
    assume-role machinery (the role is assumed once per account; a refusal is one line, exit 1)."""
    account_ids = list(dict.fromkeys(getattr(args, "account", None) or []))
    role_name = getattr(args, "role_name", None)
    if not account_ids:
        if role_name:
            raise UsageError("--role-name needs --account ID")
        return {}
    if not role_name:
        raise UsageError("--account needs --role-name NAME (the role assumed in each account)")
    if not ROLE_NAME.fullmatch(role_name):
        raise UsageError(f"invalid role name {role_name!r}")
    for account_id in account_ids:
        if not ACCOUNT_ID.fullmatch(account_id):
            raise UsageError(f"--account {account_id!r} is not a 12-digit account ID")
    caller = fleet.Target(clients, "", (settings,))
    entered = {}
    for account_id in account_ids:
        try:
            entered[account_id] = fleet.assume(caller, account_id, role_name, (settings,)).clients
        except (ClientError, BotoCoreError) as error:
            raise UsageError(f"cannot assume {role_name} in {account_id}: {fleet.describe(error)}") from error
    return entered


def cmd_why(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    """Exit 0 reachable, 2 not reachable; bad input is one line and exit 1. Reads only."""
    from peerkeeper.reach import command  # noqa: PLC0415  (only this command needs them)

    try:
        traffic = command.traffic_of(args.protocol, args.port)
        clients, regions, settings = open_clients(args, base)
        accounts = other_accounts(args, clients, settings)
        own = not base.get("ALLOWED_PEER_ACCOUNTS", "").strip()
        answer = command.why(
            clients,
            regions,
            args.source,
            args.destination,
            traffic,
            settings=settings,
            own_allowlist=own,
            accounts=accounts,
            to_targets=getattr(args, "to_targets", False),
        )
    except command.InputError as error:
        raise UsageError(str(error)) from error
    if args.json:
        sys.stdout.write(json.dumps(answer.document(), indent=2) + "\n")
    else:
        render_answer(make_console(), answer)
    return EXIT_OK if answer.reachable else EXIT_NOT_REACHABLE
