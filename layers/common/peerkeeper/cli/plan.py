"""``peerkeeper plan`` and ``peerkeeper apply``: the sweep in dry-run, and the sweep applied."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from peerkeeper.cli.common import EXIT_DRIFT, EXIT_ERROR, EXIT_OK, make_console
from peerkeeper.cli.output import (
    STYLES,
    display,
    enter_fleet,
    fleet_document,
    fleet_plan_exit_code,
    render_accounts,
    render_actions,
    render_findings,
    render_fleet_actions,
    render_fleet_findings,
    render_fleet_summary,
    render_outcomes,
    render_summary,
)
from peerkeeper.cli.run import Fleet, Result, run_many, unit_count
from peerkeeper.fleet import dry_run
from peerkeeper.settings import DRY_RUN, ENFORCE

if TYPE_CHECKING:
    from rich.console import Console


def cmd_plan(args: argparse.Namespace, base: Mapping[str, str]) -> int:

    with display() as shown:
        group = enter_fleet(args, base, DRY_RUN, shown)
        shown.phase("planning", unit_count(group))
        results = run_many(group.targets, "plan", parallel=args.parallel, on_unit=shown.step)
    if group.many:
        doc = fleet_document("plan", DRY_RUN, group, results)
        if args.json:
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            console = make_console()
            render_fleet_actions(console, doc, "Plan", STYLES)
            render_fleet_findings(console, doc)
            render_accounts(console, doc, "Accounts")
            render_fleet_summary(console, doc)
        return fleet_plan_exit_code(doc)
    doc = results[0].document()
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    else:
        console = make_console()
        render_actions(console, doc, f"Plan for account {doc['account']}")
        render_findings(console, doc)
        render_summary(console, doc)
    if doc["errors"]:
        return EXIT_ERROR
    return EXIT_DRIFT if doc["counts"]["actions"] else EXIT_OK


def cmd_apply(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    console = make_console()
    with display() as shown:
        group = enter_fleet(args, base, ENFORCE, shown)
        shown.phase("observing", 0)
        results = run_many(group.targets, "apply", on_action=shown.advance, on_plan=shown.grow, parallel=args.parallel)
        shown.phase("checking", unit_count(group))
        checks = [dry_run(target) for target in group.targets]
        after = run_many(checks, "plan", parallel=args.parallel, on_unit=shown.step)
    if group.many:
        return _apply_fleet(console, group, results, after)
    result, doc, after_doc = results[0], results[0].document(), after[0].document()
    render_actions(console, doc, f"Apply for account {doc['account']}")
    render_outcomes(console, result)
    render_findings(console, after_doc)
    render_summary(console, doc)
    return _converged(console, bool(doc["errors"] or after_doc["errors"]), after_doc["counts"]["actions"])


def _apply_fleet(console: Console, group: Fleet, results: list[Result], after: list[Result]) -> int:

    doc = fleet_document("apply", ENFORCE, group, results)
    after_doc = fleet_document("plan", DRY_RUN, group, after)
    render_fleet_actions(console, doc, "Applied", STYLES)
    render_fleet_findings(console, after_doc)
    render_accounts(console, after_doc, "Accounts after apply")
    render_fleet_summary(console, doc)
    return _converged(
        console, bool(doc["counts"]["errors"] or after_doc["counts"]["errors"]), after_doc["counts"]["actions"]
    )


def _converged(console: Console, errors: bool, still_planned: int) -> int:
    if errors:
        return EXIT_ERROR
    if still_planned:
        console.print(f"[bold red]not converged:[/bold red] {still_planned} action(s) still planned")
        return EXIT_ERROR
    console.print("[green]✓ converged[/green]")
    return EXIT_OK
