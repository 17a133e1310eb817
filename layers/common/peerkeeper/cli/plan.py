"""``peerkeeper plan`` and ``peerkeeper apply``: the sweep in dry-run, and the sweep applied.

For a person at a terminal: tables, and ``apply`` shows the plan and asks before it changes
anything. For a pipe, a file or a CI log: one whole line per action and per finding. For review and
automation: ``plan --out FILE`` then ``apply --plan FILE`` (exactly the reviewed actions, each
checked again: :mod:`peerkeeper.cli.review`), ``apply --yes``, ``apply --json``, ``plan --fail-on``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peerkeeper.cli.common import (
    CONVERGED,
    DONE,
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_OK,
    FINDING_KINDS,
    SKIPPED,
    UsageError,
    confirm,
    counted,
    make_console,
    stdout_is_terminal,
)
from peerkeeper.cli.output import (
    STYLES,
    display,
    enter_fleet,
    fleet_document,
    fleet_plan_exit_code,
    print_lines,
    render_accounts,
    render_actions,
    render_findings,
    render_fleet_actions,
    render_fleet_findings,
    render_fleet_summary,
    render_outcomes,
    render_summary,
)
from peerkeeper.cli.review import Selection, load, report_left
from peerkeeper.cli.run import Fleet, Result, run_many, unit_count
from peerkeeper.fleet import dry_run
from peerkeeper.settings import DRY_RUN, ENFORCE

if TYPE_CHECKING:
    from rich.console import Console


def fail_on(value: str) -> frozenset[str]:
    """``--fail-on refused,conflicts,problems`` (any of them)."""
    kinds = frozenset(kind.strip() for kind in value.split(",") if kind.strip())
    unknown = sorted(kinds - set(FINDING_KINDS))
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(FINDING_KINDS)}, got {value!r}"
        )
    return kinds


def _document(command: str, mode: str, group: Fleet, results: Sequence[Result]) -> dict[str, Any]:
    return fleet_document(command, mode, group, results) if group.many else results[0].document()


def _show_plan(doc: Mapping[str, Any], group: Fleet) -> None:
    """The plan as a person at a terminal reads it, or one whole line per action and finding."""
    if not stdout_is_terminal():
        print_lines(doc)
        return
    console = make_console()
    if group.many:
        render_fleet_actions(console, doc, "Plan", STYLES)
        render_fleet_findings(console, doc)
        render_accounts(console, doc, "Accounts")
        render_fleet_summary(console, doc)
    else:
        render_actions(console, doc, f"Plan for account {doc['account']}")
        render_findings(console, doc)
        render_summary(console, doc)


def _plan_exit_code(doc: Mapping[str, Any], gate: frozenset[str]) -> int:
    code = fleet_plan_exit_code(doc) if "entries" in doc else _single_plan_exit_code(doc)
    if code == EXIT_OK and any(doc["counts"][kind] for kind in gate):
        return EXIT_DRIFT
    return code


def _single_plan_exit_code(doc: Mapping[str, Any]) -> int:
    if doc["errors"]:
        return EXIT_ERROR
    return EXIT_DRIFT if doc["counts"]["actions"] else EXIT_OK


def _plan(args: argparse.Namespace, base: Mapping[str, str]) -> tuple[Fleet, dict[str, Any]]:
    with display() as shown:
        group = enter_fleet(args, base, DRY_RUN, shown)
        shown.phase("planning", unit_count(group))
        results = run_many(group.targets, "plan", parallel=args.parallel, on_unit=shown.step)
    return group, _document("plan", DRY_RUN, group, results)


def write_plan(path: str, doc: Mapping[str, Any]) -> None:
    from peerkeeper.graph import write_atomically  # noqa: PLC0415

    try:
        write_atomically(Path(path), json.dumps(doc, indent=2) + "\n")
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from error


def cmd_plan(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    group, doc = _plan(args, base)
    if args.out:
        write_plan(args.out, doc)
        sys.stderr.write(f"peerkeeper: saved the plan ({counted(doc['counts']['actions'], 'actions')}) to {args.out}\n")
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _show_plan(doc, group)
    return _plan_exit_code(doc, args.fail_on or frozenset())


# -- apply --------------------------------------------------------------------------------------
def _reviewed(args: argparse.Namespace) -> Selection | None:
    """The saved plan of ``--plan``, with the run's accounts and regions defaulting to the plan's."""
    if not args.plan:
        return None
    selection = load(args.plan)
    if not args.region:
        args.region = selection.regions
    if selection.many and not (args.account or args.org):
        args.account = selection.accounts
    return selection


def _must_ask(args: argparse.Namespace) -> bool:
    if args.plan or args.yes:
        return False
    if args.json:
        raise UsageError("apply --json is for automation: pass --yes, or --plan FILE (a plan saved by plan --out)")
    if not sys.stdin.isatty():
        raise UsageError(
            "apply changes AWS and standard input is not a terminal to ask on: "
            "pass --yes to apply what it finds now, or --plan FILE to apply a reviewed plan (plan --out FILE)"
        )
    return True


def cmd_apply(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    selection = _reviewed(args)
    ask = _must_ask(args)
    with display() as shown:
        group = enter_fleet(args, base, ENFORCE, shown)
        if selection is not None:
            selection.check_covered(group.account_ids, group.regions)
        if ask:
            shown.phase("planning", unit_count(group))
            planned = run_many([dry_run(t) for t in group.targets], "plan", parallel=args.parallel, on_unit=shown.step)
    if ask:
        shown_doc = _document("plan", DRY_RUN, group, planned)
        _show_plan(shown_doc, group)
        if shown_doc["counts"]["actions"] == 0:
            return EXIT_ERROR if shown_doc["counts"]["errors"] else EXIT_OK  # nothing to ask about
        if not confirm(f"Apply these {counted(shown_doc['counts']['actions'], 'actions')}?"):
            sys.stderr.write("peerkeeper: apply cancelled: nothing changed\n")
            return EXIT_ERROR
        selection = Selection.of(shown_doc)  # exactly what was shown, each checked again
    select = selection.select if selection is not None else None
    with display() as shown:
        shown.phase("observing", 0)
        results = run_many(
            group.targets, "apply", on_action=shown.advance, on_plan=shown.grow, parallel=args.parallel, select=select
        )
        shown.phase("checking", unit_count(group))
        after = run_many([dry_run(t) for t in group.targets], "plan", parallel=args.parallel, on_unit=shown.step)
    doc, after_doc = _document("apply", ENFORCE, group, results), _document("plan", DRY_RUN, group, after)
    stale = report_left(doc, selection) if selection is not None else 0
    code = _apply_exit_code(doc, after_doc, selection)
    doc["converged"] = code == EXIT_OK
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif stdout_is_terminal():
        _render_apply(make_console(), group, results, doc, after_doc)
    else:
        print_lines(doc, after_doc)
    _tell(_closing(doc, after_doc, selection, stale), json_output=args.json)
    return code


def _render_apply(console: Console, group: Fleet, results: list[Result], doc: Mapping[str, Any], after: Any) -> None:
    if group.many:
        render_fleet_actions(console, doc, "Applied", STYLES)
        render_fleet_findings(console, after)
        render_accounts(console, after, "Accounts after apply")
        render_fleet_summary(console, doc)
    else:
        render_actions(console, doc, f"Apply for account {doc['account']}")
        render_outcomes(console, results[0])
        render_findings(console, after)
        render_summary(console, doc)


def _actions(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = doc.get("entries", [doc])
    return [action for entry in entries for group in entry["concerns"].values() for action in group["actions"]]


def _apply_exit_code(doc: Mapping[str, Any], after: Mapping[str, Any], selection: Selection | None) -> int:
    """0 when converged: without a review, nothing left to do; with one, each reviewed action done or stale."""
    if doc["counts"]["errors"] or after["counts"]["errors"]:
        return EXIT_ERROR
    if selection is None:
        return EXIT_ERROR if after["counts"]["actions"] else EXIT_OK
    return EXIT_OK if all(_settled(action) for action in _actions(doc)) else EXIT_ERROR


def _settled(action: Mapping[str, Any]) -> bool:
    return action["outcome"] in (DONE, CONVERGED) or (action["outcome"] == SKIPPED and bool(action.get("stale")))


def _closing(doc: Mapping[str, Any], after: Mapping[str, Any], selection: Selection | None, stale: int) -> list[str]:
    """The last lines: stale reviewed actions, what is left, converged or not."""
    lines: list[str] = []
    if stale:
        lines.append(f"skipped: {counted(stale, 'actions')} of the reviewed plan no longer wanted")
    left = after["counts"]["actions"]
    if selection is not None and left:
        lines.append(f"left: {counted(left, 'actions')} not in the reviewed plan wanted now (review them: plan)")
    if doc.get("converged"):
        lines.append("converged" if selection is None else "converged: the reviewed plan is carried out")
    elif not doc["counts"]["errors"] and not after["counts"]["errors"]:
        if selection is None:
            lines.append(f"not converged: {counted(left, 'actions')} still planned")
        else:
            unsettled = sum(1 for action in _actions(doc) if not _settled(action))
            lines.append(f"not converged: {counted(unsettled, 'actions')} of the reviewed plan not done")
    return lines


def _tell(lines: list[str], *, json_output: bool) -> None:
    """On a terminal in colour; else plain lines (on stderr under --json: stdout holds the document)."""
    if json_output or not stdout_is_terminal():
        stream = sys.stderr if json_output else sys.stdout
        stream.writelines(line + "\n" for line in lines)
        return
    console = make_console()
    for line in lines:
        if line.startswith("converged"):
            console.print(f"[green]✓ {line}[/green]")
        else:
            console.print(f"[{'bold red' if line.startswith('not') else 'yellow'}]{line}[/]")
