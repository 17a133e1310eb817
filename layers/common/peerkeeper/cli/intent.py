"""``peerkeeper intent plan FILE`` and ``peerkeeper intent apply FILE``.

The file is read and checked first: a mistake is one line and exit 1, before any AWS call. Then the
same fleet (``--account`` / ``--org`` with ``--role-name``), progress display and ``--json``
conventions as ``plan`` / ``apply``. Printed text is one whole line per pair, action and finding
(never a table cut to a width), so CI logs keep every resource, region, CIDR and target.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from peerkeeper.cli.common import UsageError, make_console
from peerkeeper.cli.output import display, enter_fleet, escape
from peerkeeper.cli.run import unit_count
from peerkeeper.intent import spec
from peerkeeper.intent.model import IN_SYNC, INFEASIBLE, MISSING, PENDING, Intent
from peerkeeper.intent.run import IntentResult, apply_intent, plan_intent
from peerkeeper.settings import DRY_RUN, ENFORCE

if TYPE_CHECKING:
    from rich.console import Console

STATE_STYLES = {IN_SYNC: "green", PENDING: "yellow", MISSING: "cyan", INFEASIBLE: "bold red"}


def read_intent(path: str) -> Intent:
    """The file, or a :class:`UsageError` whose one line names the file, the line and the fix."""
    try:
        return spec.load(path)
    except spec.IntentFileError as error:
        raise UsageError(str(error)) from None


def cmd_intent_plan(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    intent = read_intent(args.file)
    with display() as shown:
        group = enter_fleet(args, base, DRY_RUN, shown)
        shown.phase("reading", unit_count(group))
        result = plan_intent(intent, group.targets, group.unreachable, parallel=args.parallel, on_unit=shown.step)
    return _report(args, result)


def cmd_intent_apply(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    intent = read_intent(args.file)
    with display() as shown:
        group = enter_fleet(args, base, ENFORCE, shown)
        shown.phase("applying", None)
        result = apply_intent(intent, group.targets, group.unreachable, parallel=args.parallel, on_action=shown.advance)
    return _report(args, result)


def _report(args: argparse.Namespace, result: IntentResult) -> int:
    doc = result.document()
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        render(make_console(), doc)
    return result.exit_code()


def _vpcs(edge: Mapping[str, Any]) -> str:
    return " <-> ".join(f"{v['vpc']} ({v['account']} {v['region']})" for v in edge["vpcs"])


def render(console: Console, doc: Mapping[str, Any]) -> None:
    """One whole line per pair, action and finding, then the counts."""
    for edge in doc["edges"]:
        state = edge["state"]
        extra = f" {edge['code']}: {edge.get('reason', '')}" if state == INFEASIBLE else ""
        via = f" via {edge['connection']}" if edge["connection"] else ""
        console.print(
            f"[{STATE_STYLES[state]}]{state:10}[/] {escape(edge['network'])}: {_vpcs(edge)}{via}{escape(extra)}",
            soft_wrap=True,
        )
    for action in doc["actions"]:
        outcome = action.get("outcome", "planned")
        error = f" [red]{escape(action['error'])}[/red]" if action.get("error") else ""
        console.print(
            f"{outcome:9} {action['kind']} {action['resource']} ({action['account']} {action['region']}): "
            f"{escape(action['reason'])}{error}",
            soft_wrap=True,
        )
    for finding in doc["findings"]:
        console.print(
            f"[magenta]{finding['code']}[/magenta] {finding['resource']}: {escape(str(finding['reason']))}",
            soft_wrap=True,
        )
    counts = doc["counts"]
    states = ", ".join(f"{counts[state]} {state}" for state in (IN_SYNC, PENDING, MISSING, INFEASIBLE) if counts[state])
    console.print(
        f"[bold]{doc['command']}[/bold] · {', '.join(doc['accounts'])} · {', '.join(doc['regions'])}: "
        f"{counts['edges']} pair(s) ({states or 'none declared'}), {counts['actions']} action(s), "
        f"{counts['findings']} finding(s)",
        soft_wrap=True,
    )
    for error in doc["errors"]:
        console.print(f"[bold red]error:[/bold red] {escape(error)}", soft_wrap=True)


def add_parser(commands: Any, common_options: Any, fleet_options: Any) -> None:
    """``intent plan FILE`` / ``intent apply FILE`` (called by :func:`peerkeeper.cli.app.build_parser`)."""
    intent = commands.add_parser("intent", help="declare which VPCs talk (a network file); peerkeeper builds it")
    verbs = intent.add_subparsers(dest="intent_command", required=True, metavar="plan|apply")
    for verb, handler, text in (
        (
            "plan",
            cmd_intent_plan,
            "what apply would do, each pair's state (exit 0 nothing to do, 2 actions or findings)",
        ),
        ("apply", cmd_intent_apply, "request, accept, set DNS options and route the declared pairs (exit 0 converged)"),
    ):
        parser = verbs.add_parser(verb, help=text)
        parser.add_argument("file", metavar="FILE", help="the network file (YAML or JSON)")
        parser.add_argument("--json", action="store_true", help="print the document as JSON")
        common_options(parser)
        fleet_options(parser)
        parser.set_defaults(handler=handler)
