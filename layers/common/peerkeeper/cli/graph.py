"""``peerkeeper graph``: the picture of what ``plan`` sees (:mod:`peerkeeper.graph` draws it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from peerkeeper.cli.common import EXIT_ERROR, EXIT_OK, UsageError, stdout_is_terminal
from peerkeeper.cli.output import display, enter_fleet
from peerkeeper.cli.run import Result, run_many, unit_count
from peerkeeper.fleet import Target
from peerkeeper.model import printable
from peerkeeper.settings import DRY_RUN

if TYPE_CHECKING:
    from peerkeeper.intent.model import Intent
    from peerkeeper.intent.plan import IntentPlan


def intent_plan(intent: Intent, targets: list[Target], results: list[Result]) -> IntentPlan:
    """The intent judged over what each region's dry run read (its inventory)."""
    from peerkeeper.intent.observe import Seen, assemble  # noqa: PLC0415
    from peerkeeper.intent.run import evaluate  # noqa: PLC0415

    policies = {(t.account_id, s.region): s for t in targets for s in t.settings}
    seen = [
        Seen(
            result.account_id,
            region,
            tuple(inventory.known_vpcs()),
            tuple(inventory.known_route_tables()),
            tuple(inventory.known_peerings()),
        )
        for result in results
        for region, inventory in result.inventories.items()
    ]
    units = {(result.account_id, region) for result in results for region in result.inventories}
    return evaluate(intent, assemble(seen, {key: value for key, value in policies.items() if key in units}))


def _read_intent(path: str) -> Intent:
    from peerkeeper.intent import spec  # noqa: PLC0415

    try:
        return spec.load(path)
    except spec.IntentFileError as error:
        raise UsageError(str(error)) from None


def _format(args: argparse.Namespace) -> tuple[str, str | None]:
    """The format, and for SVG/PNG the ``dot`` that draws it: checked before anything is read from AWS."""
    from peerkeeper import graph  # noqa: PLC0415  (not needed on the Lambda path)
    from peerkeeper.graph import graphviz  # noqa: PLC0415

    try:
        fmt = graph.format_for(args.format, args.output)
    except graph.FormatError as error:
        raise UsageError(str(error)) from error
    if fmt == "png" and not args.output and stdout_is_terminal():
        raise UsageError("a PNG is not for a terminal: pass --output FILE.png (or pipe it)")
    if fmt not in graphviz.IMAGE_FORMATS:
        return fmt, None
    try:
        return fmt, graphviz.find_dot()
    except graphviz.GraphvizError as error:
        raise UsageError(str(error)) from error


def cmd_graph(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    from peerkeeper import graph  # noqa: PLC0415  (not needed on the Lambda path)
    from peerkeeper.graph import graphviz  # noqa: PLC0415

    fmt, dot_path = _format(args)
    intent = _read_intent(args.intent) if getattr(args, "intent", None) else None  # before any call
    with display() as shown:  # one account, or every account of --account / --org, like plan
        group = enter_fleet(args, base, DRY_RUN, shown)
        shown.phase("observing", unit_count(group))
        results = run_many(group.targets, "graph", parallel=args.parallel, on_unit=shown.step)
    observed = [item for r in results for item in graph.observed(r.account_id, r.reports, r.inventories)]
    errors = [f"{r.account_id}: {error}" if group.many else error for r in results for error in r.errors]
    errors += [f"{item.account_id}: {item.reason}" for item in group.unreachable]
    drawing = graph.picture(observed, detail=args.detail == "tables", errors=errors)
    if intent is not None:  # judged from what the dry run read: no read of its own
        drawing = graph.intent_overlay(drawing, intent_plan(intent, group.targets, results))
    content: str | bytes = graph.render(drawing, "dot" if dot_path else fmt)
    if dot_path:
        try:
            content = graphviz.render(str(content), fmt, dot_path)
        except graphviz.GraphvizError as failed:
            raise UsageError(str(failed)) from failed
    for error in errors:
        sys.stderr.write(f"peerkeeper: warning: {printable(error)}\n")
    if args.output:
        try:
            graph.write_atomically(Path(args.output), content)
        except OSError as error:
            raise UsageError(f"cannot write {args.output}: {error.strerror or error}") from error
        sys.stderr.write(f"peerkeeper: wrote the {fmt} picture to {args.output}\n")
    elif isinstance(content, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
    else:
        sys.stdout.write(content)
    return EXIT_ERROR if group.unreachable else EXIT_OK
