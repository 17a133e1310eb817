"""``peerkeeper why``: the question parsed, answered by :mod:`peerkeeper.reach`, drawn by the output module."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from peerkeeper.cli.common import EXIT_NOT_REACHABLE, EXIT_OK, UsageError, make_console, open_clients
from peerkeeper.cli.output import render_answer

if TYPE_CHECKING:
    pass


def cmd_why(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    """Exit 0 reachable, 2 not reachable; bad input is one line and exit 1. Reads only."""
    from peerkeeper.reach import command  # noqa: PLC0415  (only this command needs them)

    try:
        traffic = command.traffic_of(args.protocol, args.port)
        clients, regions, settings = open_clients(args, base)
        own = not base.get("ALLOWED_PEER_ACCOUNTS", "").strip()
        answer = command.why(
            clients, regions, args.source, args.destination, traffic, settings=settings, own_allowlist=own
        )
    except command.InputError as error:
        raise UsageError(str(error)) from error
    if args.json:
        sys.stdout.write(json.dumps(answer.document(), indent=2) + "\n")
    else:
        render_answer(make_console(), answer)
    return EXIT_OK if answer.reachable else EXIT_NOT_REACHABLE
