"""``peerkeeper plan | apply | graph | demo``: the sweep's plan and apply, from a terminal.

Every command goes through :func:`peerkeeper.service.reconcile` with a whole-region scope, exactly
like the sweep function: ``plan`` is the sweep in dry-run, ``apply`` is the sweep with a progress bar.
The configuration is the contract's environment variables; flags override them for one run.
Regions, and with ``--account`` / ``--org`` accounts, run concurrently through :mod:`peerkeeper.fleet`
(one bounded pool, one progress bar); :mod:`peerkeeper.fleet_output` draws a run over several
accounts: one JSON entry per account and region, tables grouped by account, the worst exit code.

Exit codes: ``plan`` 0 in sync, 2 drift (at least one action), 1 error; ``apply`` 0 converged, 1 error.
Refused requests, conflicts and problems are shown but are not drift: no action of peerkeeper would
change them (a refused request stays refused, a conflict needs a human), so a plan that shows only
them exits 0. A person's mistake (no credentials, unknown region or profile, a malformed variable,
an unreachable endpoint) prints one line on stderr and exits 1, never a traceback.

rich is imported inside the functions that draw: the Lambda layer never pays for it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)

from peerkeeper import fleet
from peerkeeper.clients import Clients
from peerkeeper.fleet import DEFAULT_PARALLEL, Target, Unreachable, dry_run
from peerkeeper.model import Action, Plan
from peerkeeper.settings import DRY_RUN, ENFORCE, Settings, SettingsError

__all__ = ["Result", "Target", "dry_run", "main", "resolve", "resolve_fleet", "run", "run_many"]

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from peerkeeper.inventory import Inventory
    from peerkeeper.reconcile import Outcome, Report

# Outcome names of peerkeeper.reconcile (imported lazily: see main).
PLANNED, DONE, CONVERGED, TERMINAL, FAILED, SKIPPED = "planned", "done", "converged", "terminal", "failed", "skipped"

# The sweep's concerns, in the sweep's order (routes after peering: it routes what was just accepted).
CONCERNS = ("peering", "routes", "dns", "flow_logs")
FINDING_KINDS = ("refused", "conflicts", "problems")
EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2
EXIT_NOT_REACHABLE = 2  # why
ACCOUNT_ID = re.compile(r"\d{12}")
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}|[\w+=,.@/-]{1,511}/[\w+=,.@-]{1,64}")  # a name, or a path and a name

# flag destination -> the contract variable it overrides
FLAG_VARIABLES = {
    "allowed_accounts": "ALLOWED_PEER_ACCOUNTS",
    "allowed_vpcs": "ALLOWED_PEER_VPCS",
    "reject_unlisted": "REJECT_UNLISTED",
    "allowed_cidrs": "ALLOWED_PEER_CIDRS",
    "route_over_aggregates": "ROUTE_OVER_AGGREGATES",
    "dns_records": "DNS_RECORDS",
    "dns_ttl": "DNS_TTL",
    "flow_log_group": "FLOW_LOG_GROUP",
    "flow_log_role_arn": "FLOW_LOG_ROLE_ARN",
    "flow_log_traffic_type": "FLOW_LOG_TRAFFIC_TYPE",
}
_CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)


def _with_params(outcome: Outcome) -> dict[str, Any]:
    return {**outcome.to_dict(), "params": dict(outcome.action.params)}


class UsageError(Exception):
    """A mistake of the person running the command: reported in one line, exit 1."""


# -- what to reconcile ------------------------------------------------------------------------
def effective_environ(base: Mapping[str, str], args: argparse.Namespace, region: str, mode: str) -> dict[str, str]:
    """The process environment, overridden by the flags, for one region and mode."""
    environ = dict(base)
    for dest, variable in FLAG_VARIABLES.items():
        value = getattr(args, dest, None)
        if isinstance(value, bool):
            environ[variable] = "true" if value else "false"
        elif value is not None:
            environ[variable] = str(value)
    environ.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "PEERKEEPER_MODE": mode})
    return environ


def _regions(args: argparse.Namespace, base: Mapping[str, str], session: boto3.Session) -> list[str]:
    regions = list(dict.fromkeys(args.region or []))
    if not regions:
        configured = base.get("AWS_REGION") or base.get("AWS_DEFAULT_REGION") or session.region_name
        if not configured:
            raise UsageError("no region: pass --region or set AWS_REGION (or a region in the profile)")
        regions = [configured]
    return regions


def _check_known_region(session: boto3.Session, region: str, base: Mapping[str, str], endpoint: str | None) -> None:
    """Refuse a region no partition knows, unless an endpoint (an emulator) is configured."""
    if endpoint or base.get("AWS_ENDPOINT_URL") or base.get("AWS_ENDPOINT_URL_EC2"):
        return
    known = {
        name
        for partition in session.get_available_partitions()
        for name in session.get_available_regions("ec2", partition)
    }
    if region not in known:
        raise UsageError(f"unknown region {region!r}: no EC2 endpoint is known for it")


def _settings_error(error: SettingsError, args: argparse.Namespace) -> UsageError:
    flags = {variable: dest for dest, variable in FLAG_VARIABLES.items()}
    if error.variable == "AWS_REGION":
        return UsageError(f"invalid region {error.value!r}: expected a region name such as us-east-1")
    dest = flags.get(error.variable)
    if dest is not None and getattr(args, dest, None) is not None:
        return UsageError(f"{error} (from --{dest.replace('_', '-')})")
    return UsageError(str(error))


def _own_allowlist(args: argparse.Namespace, base: Mapping[str, str]) -> bool:
    """Like the template: an unset allowlist means the account itself (each account's own, in a fleet)."""
    return args.allowed_accounts is None and not base.get("ALLOWED_PEER_ACCOUNTS", "").strip()


def _for_account(settings: Sequence[Settings], account_id: str, own: bool) -> tuple[Settings, ...]:
    if not own:
        return tuple(settings)
    return tuple(replace(s, allowed_peer_accounts=frozenset({account_id})) for s in settings)


def resolve(args: argparse.Namespace, base: Mapping[str, str], mode: str) -> Target:
    """Validate everything first (no AWS call on a malformed setting), then ask STS who we are."""
    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    regions = _regions(args, base, session)
    try:
        settings = [Settings.from_env(effective_environ(base, args, region, mode)) for region in regions]
    except SettingsError as error:
        raise _settings_error(error, args) from error
    for region in regions:
        _check_known_region(session, region, base, args.endpoint_url)
    first = settings[0]
    clients = Clients(
        session, retry_mode=first.retry_mode, max_attempts=first.max_attempts, endpoint_url=args.endpoint_url
    )
    account_id = clients.account_id(regions[0])
    return Target(clients, account_id, _for_account(settings, account_id, _own_allowlist(args, base)))


@dataclass
class Fleet:
    """The accounts a command runs in: the caller's own, or those of ``--account`` / ``--org``."""

    account_ids: list[str]  # in the order asked (or listed by the organisation)
    regions: list[str]
    targets: list[Target]
    unreachable: list[Unreachable] = field(default_factory=list)
    many: bool = False  # --account or --org: the output has one entry per account and region


def _account_ids(args: argparse.Namespace, caller: Target) -> list[str]:
    listed = fleet.organization_accounts(caller.clients, caller.regions[0]) if args.org else list(args.account)
    for account_id in [*listed, *(args.exclude_account or [])]:
        if not ACCOUNT_ID.fullmatch(account_id):
            raise UsageError(f"invalid account ID {account_id!r}: expected 12 digits")
    excluded = set(args.exclude_account or [])
    chosen = [account_id for account_id in dict.fromkeys(listed) if account_id not in excluded]
    if not chosen:
        raise UsageError("no account to run in: --account / --org gave none (after --exclude-account)")
    return chosen


def resolve_fleet(
    args: argparse.Namespace,
    base: Mapping[str, str],
    mode: str,
    on_account: Callable[[str], None] | None = None,
    on_accounts: Callable[[int], None] | None = None,
) -> Fleet:
    """The caller (:func:`resolve`), then, with ``--account`` / ``--org``, the role assumed in each account."""
    many = bool(getattr(args, "account", None) or getattr(args, "org", False))
    role_name = getattr(args, "role_name", None)
    if not many and role_name:
        raise UsageError("--role-name needs --account ID or --org")
    if many and not role_name:
        raise UsageError("--account and --org need --role-name NAME (the role assumed in each account)")
    if many and role_name and not ROLE_NAME.fullmatch(role_name):
        raise UsageError(f"invalid role name {role_name!r}")
    caller = resolve(args, base, mode)
    if not many or role_name is None:
        return Fleet([caller.account_id], caller.regions, [caller])
    account_ids = _account_ids(args, caller)
    if on_accounts is not None:
        on_accounts(len(account_ids))
    own = _own_allowlist(args, base)
    targets, unreachable = fleet.reach(
        caller,
        account_ids,
        role_name,
        lambda account_id: _for_account(caller.settings, account_id, own),
        parallel=args.parallel,
        on_done=on_account,
    )
    return Fleet(account_ids, caller.regions, targets, unreachable, many=True)


# -- running ----------------------------------------------------------------------------------
@dataclass
class Result:
    """The reports of one command over its regions, and the JSON document they make."""

    command: str
    account_id: str
    mode: str
    reports: dict[str, Report] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # region -> why it could not run at all
    inventories: dict[str, Inventory] = field(default_factory=dict)  # what each region's run read

    @property
    def outcomes(self) -> list[Any]:
        return [outcome for report in self.reports.values() for outcome in report.outcomes]

    @property
    def errors(self) -> list[str]:
        failed = [f"{o.action.kind} {o.action.resource}: {o.error}" for o in self.outcomes if o.status == FAILED]
        reported = [f"{region}: {error}" for region, r in self.reports.items() for error in r.errors]
        return failed + reported + [f"{region}: {error}" for region, error in self.failures.items()]

    def only(self, region: str) -> Result:
        """This result restricted to one region (a fleet's entry)."""
        reports = {region: self.reports[region]} if region in self.reports else {}
        failures = {region: self.failures[region]} if region in self.failures else {}
        inventories = {region: self.inventories[region]} if region in self.inventories else {}
        return Result(self.command, self.account_id, self.mode, reports, failures, inventories)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def document(self) -> dict[str, Any]:
        """The ``--json`` document: per concern, actions (with their API arguments) and findings."""
        concerns: dict[str, dict[str, list[dict[str, Any]]]] = {
            name: {"actions": [], **{kind: [] for kind in FINDING_KINDS}} for name in CONCERNS
        }
        for report in self.reports.values():
            outcomes = iter(report.outcomes)  # execute() answers each plan's actions in order, one by one
            for plan in report.plans:
                group = concerns.setdefault(plan.concern, {"actions": [], **{kind: [] for kind in FINDING_KINDS}})
                # The API call's arguments too, so scripts need not parse the human-readable reason.
                group["actions"].extend(_with_params(next(outcomes)) for _ in plan.actions)
                for kind in FINDING_KINDS:
                    group[kind].extend(finding.to_dict() for finding in getattr(plan, kind))
        counts = {kind: sum(len(group[kind]) for group in concerns.values()) for kind in ("actions", *FINDING_KINDS)}
        counts["errors"] = len(self.errors)
        return {
            "command": self.command,
            "account": self.account_id,
            "mode": self.mode,
            "regions": [*self.reports, *(r for r in self.failures if r not in self.reports)],
            "in_sync": counts["actions"] == 0 and not self.errors,
            "counts": counts,
            "concerns": concerns,
            "errors": self.errors,
        }


def run_many(
    targets: Sequence[Target],
    command: str,
    *,
    on_action: Callable[[Action], None] | None = None,
    concerns: Sequence[str] = CONCERNS,
    on_plan: Callable[[Plan], None] | None = None,
    parallel: int = DEFAULT_PARALLEL,
    on_unit: Callable[[str, str], None] | None = None,
) -> list[Result]:
    """The sweep in every (account, region) of ``targets``, concurrently (:mod:`peerkeeper.fleet`)."""
    results = {
        target.account_id: Result(command, target.account_id, target.settings[0].mode if target.settings else DRY_RUN)
        for target in targets
    }
    units = fleet.reconcile(
        targets, command, concerns, parallel=parallel, on_action=on_action, on_plan=on_plan, on_unit=on_unit
    )
    for unit in units:
        result = results[unit.account_id]
        if unit.value is not None:
            result.reports[unit.region], result.inventories[unit.region] = unit.value.report, unit.value.inventory
        else:
            result.failures[unit.region] = unit.error
    for target in targets:  # regions in the order asked, whichever finished first
        result = results[target.account_id]
        result.reports = {region: result.reports[region] for region in target.regions if region in result.reports}
        result.inventories = {region: result.inventories[region] for region in result.reports}
    return list(results.values())


def run(
    target: Target,
    command: str,
    on_action: Callable[[Action], None] | None = None,
    concerns: Sequence[str] = CONCERNS,
    on_plan: Callable[[Plan], None] | None = None,
    *,
    parallel: int = DEFAULT_PARALLEL,
) -> Result:
    """The sweep over every region of ``target`` (regions concurrently), through the one reconcile path."""
    (result,) = run_many([target], command, on_action=on_action, concerns=concerns, on_plan=on_plan, parallel=parallel)
    return result


# -- drawing ----------------------------------------------------------------------------------
_STYLES = {PLANNED: "cyan", DONE: "green", CONVERGED: "green", TERMINAL: "yellow", FAILED: "bold red", SKIPPED: "dim"}


def _where(item: Mapping[str, Any]) -> str:
    return f"{item.get('resource', '')}\n[dim]{item.get('region', '')}[/dim]"


def render_actions(console: Console, doc: Mapping[str, Any], title: str) -> None:
    from rich.table import Table  # noqa: PLC0415  (not needed on the Lambda path)

    show_outcome = doc["command"] != "plan"
    table = Table(title=title, title_justify="left", show_lines=False, expand=True)
    table.add_column("concern", style="bold", no_wrap=True)
    table.add_column("what", no_wrap=True)
    table.add_column("where", max_width=36, overflow="fold")
    table.add_column("why", ratio=1)
    if show_outcome:
        table.add_column("outcome", no_wrap=True)
    for name, group in doc["concerns"].items():
        if not group["actions"]:
            continue
        for index, action in enumerate(group["actions"]):
            outcome = action.get("outcome", PLANNED)
            why = action["reason"] + (f"\n[red]{action['error']}[/red]" if action.get("error") else "")
            row = [name if index == 0 else "", action["kind"], _where(action), why]
            if show_outcome:
                row.append(f"[{_STYLES.get(outcome, '')}]{outcome}[/]")
            table.add_row(*row)
        table.add_section()
    if doc["counts"]["actions"]:
        console.print(table)
    else:
        console.print(f"[green]✓ no action: every concern is in sync[/green] ({', '.join(doc['regions'])})")


def render_findings(console: Console, doc: Mapping[str, Any]) -> None:
    from rich.table import Table  # noqa: PLC0415

    labels = {
        "refused": ("refused", "yellow", "left as it is by policy"),
        "conflicts": ("conflict", "magenta", "needs a human"),
        "problems": ("problem", "red", "could not be checked or changed"),
    }
    table = Table(title="Not changed by peerkeeper", title_justify="left", expand=True)
    for column in ("", "concern"):
        table.add_column(column, no_wrap=True)
    table.add_column("where", max_width=36, overflow="fold")
    table.add_column("why", ratio=1)
    rows = 0
    for kind in FINDING_KINDS:
        label, style, _ = labels[kind]
        for name, group in doc["concerns"].items():
            for finding in group[kind]:
                table.add_row(f"[{style}]{label}[/]", name, _where(finding), str(finding.get("reason", "")))
                rows += 1
    if rows:
        console.print(table)


def render_summary(console: Console, doc: Mapping[str, Any]) -> None:
    counts = doc["counts"]
    parts = [f"{counts['actions']} action(s)"] + [f"{counts[kind]} {kind}" for kind in FINDING_KINDS if counts[kind]]
    console.print(
        f"[bold]{doc['command']}[/bold] · account {doc['account']} · {', '.join(doc['regions'])}: {', '.join(parts)}"
    )
    for error in doc["errors"]:
        console.print(f"[bold red]error:[/bold red] {error}", highlight=False)


def render_outcomes(console: Console, result: Result) -> None:
    from rich.table import Table  # noqa: PLC0415

    statuses = (DONE, CONVERGED, TERMINAL, FAILED, SKIPPED)
    table = Table(title="Applied", title_justify="left")
    table.add_column("concern", style="bold")
    for status in statuses:
        table.add_column(status, justify="right", style=_STYLES[status])
    for name, group in result.document()["concerns"].items():
        counted = [sum(1 for a in group["actions"] if a["outcome"] == status) for status in statuses]
        table.add_row(name, *(str(n) if n else "·" for n in counted))
    console.print(table)


# -- the progress display --------------------------------------------------------------------
class Display:
    """The one progress bar of a run (stderr, gone when it ends): accounts entered, then the
    (account, region) pairs planned, or the actions applied. Workers call it from their threads."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("starting", total=None)
        self._lock = threading.Lock()

    def phase(self, description: str, total: int | None) -> None:
        with self._lock:
            self._progress.reset(self._task, total=total, description=description)

    def step(self, *_: object) -> None:
        self._progress.advance(self._task)

    def grow(self, plan: Plan) -> None:
        """Each concern's plan adds its actions to the bar's total (plans arrive from several threads)."""
        with self._lock:
            total = self._progress.tasks[self._task].total or 0
            self._progress.update(self._task, total=total + len(plan.actions), description=f"applying {plan.concern}")

    def advance(self, action: Action) -> None:
        self._progress.update(self._task, advance=1, description=f"{action.kind} {action.resource}")


@contextlib.contextmanager
def display() -> Iterator[Display]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    errors = _console(stderr=True)
    # Only on a terminal: piped or captured stderr stays what the command says, nothing else.
    with Progress(*columns, console=errors, transient=True, disable=not errors.is_terminal) as progress:
        yield Display(progress)


def _enter(args: argparse.Namespace, base: Mapping[str, str], mode: str, shown: Display) -> Fleet:
    return resolve_fleet(
        args, base, mode, on_account=shown.step, on_accounts=lambda n: shown.phase(f"assuming {args.role_name}", n)
    )


def _units(group: Fleet) -> int:
    return sum(len(target.settings) for target in group.targets)


# -- commands ---------------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    from peerkeeper import fleet_output  # noqa: PLC0415

    with display() as shown:
        group = _enter(args, base, DRY_RUN, shown)
        shown.phase("planning", _units(group))
        results = run_many(group.targets, "plan", parallel=args.parallel, on_unit=shown.step)
    if group.many:
        doc = fleet_output.document("plan", DRY_RUN, group, results)
        if args.json:
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            console = _console()
            fleet_output.render_actions(console, doc, "Plan", _STYLES)
            fleet_output.render_findings(console, doc)
            fleet_output.render_accounts(console, doc, "Accounts")
            fleet_output.render_summary(console, doc)
        return fleet_output.plan_exit_code(doc)
    doc = results[0].document()
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    else:
        console = _console()
        render_actions(console, doc, f"Plan for account {doc['account']}")
        render_findings(console, doc)
        render_summary(console, doc)
    if doc["errors"]:
        return EXIT_ERROR
    return EXIT_DRIFT if doc["counts"]["actions"] else EXIT_OK


def cmd_apply(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    console = _console()
    with display() as shown:
        group = _enter(args, base, ENFORCE, shown)
        shown.phase("observing", 0)
        results = run_many(group.targets, "apply", on_action=shown.advance, on_plan=shown.grow, parallel=args.parallel)
        shown.phase("checking", _units(group))
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
    from peerkeeper import fleet_output  # noqa: PLC0415

    doc = fleet_output.document("apply", ENFORCE, group, results)
    after_doc = fleet_output.document("plan", DRY_RUN, group, after)
    fleet_output.render_actions(console, doc, "Applied", _STYLES)
    fleet_output.render_findings(console, after_doc)
    fleet_output.render_accounts(console, after_doc, "Accounts after apply")
    fleet_output.render_summary(console, doc)
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


def open_clients(args: argparse.Namespace, base: Mapping[str, str]) -> tuple[Clients, list[str], Settings]:
    """Clients, regions and settings from ``--region``, ``--profile``, ``--endpoint-url``: no AWS call."""
    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    regions = _regions(args, base, session)
    try:
        settings = Settings.from_env(effective_environ(base, args, regions[0], DRY_RUN))
    except SettingsError as error:
        raise _settings_error(error, args) from error
    for region in regions:
        _check_known_region(session, region, base, args.endpoint_url)
    clients = Clients(
        session, retry_mode=settings.retry_mode, max_attempts=settings.max_attempts, endpoint_url=args.endpoint_url
    )
    return clients, regions, settings


def cmd_why(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    """Exit 0 reachable, 2 not reachable; bad input is one line and exit 1. Reads only."""
    from peerkeeper.reach import command, render  # noqa: PLC0415  (only this command needs them)

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
        render.render(_console(), answer)
    return EXIT_OK if answer.reachable else EXIT_NOT_REACHABLE


def cmd_graph(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    from peerkeeper import graph  # noqa: PLC0415  (not needed on the Lambda path)

    fmt = graph.format_for(args.format, args.output)
    with display() as shown:  # one account, or every account of --account / --org, like plan
        group = _enter(args, base, DRY_RUN, shown)
        shown.phase("observing", _units(group))
        results = run_many(group.targets, "graph", parallel=args.parallel, on_unit=shown.step)
    observed = [item for r in results for item in graph.observed(r.account_id, r.reports, r.inventories)]
    errors = [f"{r.account_id}: {error}" if group.many else error for r in results for error in r.errors]
    errors += [f"{item.account_id}: {item.reason}" for item in group.unreachable]
    text = graph.render(graph.picture(observed, detail=args.detail == "tables", errors=errors), fmt)
    for error in errors:
        sys.stderr.write(f"peerkeeper: warning: {error}\n")
    if args.output:
        try:
            graph.write_atomically(Path(args.output), text)
        except OSError as error:
            raise UsageError(f"cannot write {args.output}: {error.strerror or error}") from error
        sys.stderr.write(f"peerkeeper: wrote the {fmt} picture to {args.output}\n")
    else:
        sys.stdout.write(text)
    return EXIT_ERROR if group.unreachable else EXIT_OK


def cmd_demo(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    from peerkeeper.demo import main as demo_main  # noqa: PLC0415  (needs moto and PyYAML: a development tool)

    return demo_main()


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=stderr, highlight=False)


# -- parsing and errors -----------------------------------------------------------------------
def _common_options(parser: argparse.ArgumentParser) -> None:
    aws = parser.add_argument_group("AWS")
    aws.add_argument("--region", action="append", metavar="REGION", help="region to reconcile (repeatable)")
    aws.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    aws.add_argument("--endpoint-url", help="endpoint for every service, e.g. an emulator (or AWS_ENDPOINT_URL)")
    policy = parser.add_argument_group("policy (override the environment variable of the same meaning)")
    policy.add_argument("--allowed-accounts", metavar="IDS", help="ALLOWED_PEER_ACCOUNTS (default: this account)")
    policy.add_argument("--allowed-vpcs", metavar="IDS", help="ALLOWED_PEER_VPCS")
    policy.add_argument(
        "--reject-unlisted", action=argparse.BooleanOptionalAction, default=None, help="REJECT_UNLISTED"
    )
    policy.add_argument(
        "--allowed-cidrs", metavar="CIDRS", help="ALLOWED_PEER_CIDRS (default: RFC 1918, 100.64/10, ::/0)"
    )
    policy.add_argument(
        "--route-over-aggregates", action=argparse.BooleanOptionalAction, default=None, help="ROUTE_OVER_AGGREGATES"
    )
    policy.add_argument("--dns-records", metavar="PAIRS", help="DNS_RECORDS, e.g. api.elb.lab.private=api-elb")
    policy.add_argument("--dns-ttl", metavar="SECONDS", help="DNS_TTL")
    policy.add_argument("--flow-log-group", metavar="NAME", help="FLOW_LOG_GROUP")
    policy.add_argument("--flow-log-role-arn", metavar="ARN", help="FLOW_LOG_ROLE_ARN")
    policy.add_argument("--flow-log-traffic-type", metavar="TYPE", help="FLOW_LOG_TRAFFIC_TYPE")


class _Parser(argparse.ArgumentParser):
    """Exit 2 means drift (``plan``) or not reachable (``why``): a usage mistake exits 1, like every error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def _fleet_options(parser: argparse.ArgumentParser) -> None:
    accounts = parser.add_argument_group(
        "accounts (each through arn:<partition>:iam::<ID>:role/<NAME>, accounts x regions in parallel)"
    )
    which = accounts.add_mutually_exclusive_group()
    which.add_argument("--account", action="append", metavar="ID", help="run in this account (repeatable)")
    which.add_argument("--org", action="store_true", help="run in every ACTIVE account of the organisation")
    accounts.add_argument("--role-name", metavar="NAME", help="the role to assume in each account")
    accounts.add_argument(
        "--exclude-account", action="append", metavar="ID", help="leave this account out (repeatable)"
    )
    accounts.add_argument(
        "--parallel",
        type=_positive,
        default=DEFAULT_PARALLEL,
        metavar="N",
        help=f"(account, region) pairs at once (default {DEFAULT_PARALLEL})",
    )


def version() -> str:
    """The installed distribution's version (pyproject.toml); a source tree never installed has none."""
    from importlib.metadata import PackageNotFoundError  # noqa: PLC0415  (only for --version)
    from importlib.metadata import version as distribution_version  # noqa: PLC0415

    try:
        return distribution_version("peerkeeper")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="peerkeeper", description="Reconcile VPC peering, routes, private DNS and flow logs.")
    parser.add_argument("--version", action="version", version=f"peerkeeper {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = commands.add_parser("plan", help="show every action the sweep would take (exit 0 in sync, 2 drift)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    _common_options(plan)
    _fleet_options(plan)
    plan.set_defaults(handler=cmd_plan)
    apply = commands.add_parser("apply", help="reconcile now (exit 0 converged, 1 error)")
    _common_options(apply)
    _fleet_options(apply)
    apply.set_defaults(handler=cmd_apply)
    graph = commands.add_parser("graph", help="draw the VPCs, peering connections and drift that plan sees")
    graph.add_argument(
        "--format", choices=("mermaid", "dot", "html"), help="default: from --output's suffix, else mermaid"
    )
    graph.add_argument("--output", metavar="FILE", help="write to FILE (atomically) instead of standard output")
    graph.add_argument("--detail", choices=("tables",), help="tables: each VPC's route tables, missing routes in red")
    _common_options(graph)
    _fleet_options(graph)
    graph.set_defaults(handler=cmd_graph)
    demo = commands.add_parser("demo", help="the seed lab on an embedded AWS emulator, driven by events")
    demo.set_defaults(handler=cmd_demo)
    _why_parser(commands)
    return parser


def _why_parser(commands: Any) -> None:
    why = commands.add_parser(
        "why", help="explain whether SOURCE reaches DESTINATION and what blocks it (exit 0 reachable, 2 not)"
    )
    why.add_argument("source", metavar="SOURCE", help="instance ID, network interface ID or private IP address")
    why.add_argument("destination", metavar="DESTINATION", help="the same, or a DNS name of a private hosted zone")
    why.add_argument("--protocol", default="tcp", help="tcp (default), udp, icmp (echo, ping) or all")
    why.add_argument("--port", help="destination port, tcp and udp only (default: any port)")
    why.add_argument("--json", action="store_true", help="print the answer as JSON")
    aws = why.add_argument_group("AWS")
    aws.add_argument("--region", action="append", metavar="REGION", help="region to look in (repeatable)")
    aws.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    aws.add_argument("--endpoint-url", help="endpoint for every service, e.g. an emulator (or AWS_ENDPOINT_URL)")
    why.set_defaults(handler=cmd_why)


def explain(error: Exception) -> str | None:
    """One line for an error a person can cause; ``None`` for a bug (which keeps its traceback)."""
    if isinstance(error, UsageError):
        return str(error)
    if isinstance(error, SettingsError):
        return str(error)
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found: use --profile, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(error, ProfileNotFound):
        return f"AWS profile {error.kwargs.get('profile', '')!r} not found"
    if isinstance(error, NoRegionError):
        return "no region: pass --region or set AWS_REGION"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        endpoint = error.kwargs.get("endpoint_url", "the endpoint")
        return f"cannot reach {endpoint}: check --endpoint-url, the region and the network"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", ""), details.get("Message", "")
        if code in _CREDENTIAL_CODES:
            return f"AWS refused the credentials ({code}): {message}"
        return f"{error.operation_name} failed ({code}): {message}"
    if isinstance(error, BotoCoreError):
        return str(error)
    return None


@contextlib.contextmanager
def terminal_logging(level: str) -> Iterator[None]:
    """The functions' JSON logs are for CloudWatch: on a terminal, only warnings and up, on stderr."""
    from peerkeeper.observability import logger  # noqa: PLC0415

    handler = logger.registered_handler
    stream = handler.setStream(sys.stderr) if isinstance(handler, logging.StreamHandler) else None
    previous = logger.log_level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
        if stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Parse, run, and turn a person's mistakes into one line on stderr.

    The reconcile modules are imported here, inside the ``try``, so that whatever they set up at
    import and whatever reads the AWS config (a missing ``AWS_PROFILE`` fails at the first botocore
    session) ends as one line, not a traceback.
    """
    args = build_parser().parse_args(argv)
    base = dict(os.environ if environ is None else environ)
    try:
        with terminal_logging(base.get("POWERTOOLS_LOG_LEVEL") or "WARNING"):
            code: int = args.handler(args, base)
    except KeyboardInterrupt:
        sys.stderr.write("peerkeeper: interrupted\n")
        return 130
    except Exception as error:
        line = explain(error)
        if line is None:
            raise
        sys.stderr.write(f"peerkeeper: error: {line}\n")
        return EXIT_ERROR
    return code
