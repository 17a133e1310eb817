"""What commands print: action and finding tables, a fleet's entries, the progress display."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from peerkeeper.cli.common import (
    CONVERGED,
    DONE,
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_OK,
    FAILED,
    FINDING_KINDS,
    PLANNED,
    SKIPPED,
    TERMINAL,
    counted,
    make_console,
)
from peerkeeper.cli.run import Fleet, Result, resolve_fleet
from peerkeeper.fleet import worst
from peerkeeper.model import Action, Plan, printable
from peerkeeper.reach.analysis import FORWARD, RETURN, Hop, Path
from peerkeeper.reach.model import shown

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from peerkeeper.reach.command import Answer
    from peerkeeper.reach.model import Traffic


STYLES = {PLANNED: "cyan", DONE: "green", CONVERGED: "green", TERMINAL: "yellow", FAILED: "bold red", SKIPPED: "dim"}


def _where(item: Mapping[str, Any]) -> str:
    return f"{escape(item.get('resource', ''))}\n[dim]{escape(item.get('region', ''))}[/dim]"


def _why(item: Mapping[str, Any]) -> str:
    """A reason (and an action's error) as text, never as markup: both can hold AWS's words."""
    error = f"\n[red]{escape(item['error'])}[/red]" if item.get("error") else ""
    return escape(item.get("reason", "")) + error


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
            row = [name if index == 0 else "", escape(action["kind"]), _where(action), _why(action)]
            if show_outcome:
                row.append(f"[{STYLES.get(outcome, '')}]{outcome}[/]")
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
                table.add_row(f"[{style}]{label}[/]", name, _where(finding), _why(finding))
                rows += 1
    if rows:
        console.print(table)


def render_summary(console: Console, doc: Mapping[str, Any]) -> None:
    counts = doc["counts"]
    parts = [counted(counts["actions"], "actions")]
    parts += [counted(counts[kind], kind) for kind in FINDING_KINDS if counts[kind]]
    console.print(
        f"[bold]{doc['command']}[/bold] · account {escape(doc['account'])} · "
        f"{escape(', '.join(doc['regions']))}: {', '.join(parts)}"
    )
    for error in doc["errors"]:
        console.print(f"[bold red]error:[/bold red] {escape(error)}", highlight=False)


def render_outcomes(console: Console, result: Result) -> None:
    from rich.table import Table  # noqa: PLC0415

    statuses = (DONE, CONVERGED, TERMINAL, FAILED, SKIPPED)
    table = Table(title="Applied", title_justify="left")
    table.add_column("concern", style="bold")
    for status in statuses:
        table.add_column(status, justify="right", style=STYLES[status])
    for name, group in result.document()["concerns"].items():
        counted = [sum(1 for a in group["actions"] if a["outcome"] == status) for status in statuses]
        table.add_row(name, *(str(n) if n else "·" for n in counted))
    console.print(table)


# -- whole lines (standard output not a terminal: a pipe, a file, a CI log) -----------------------
_LINE_LABELS = {"refused": "refused", "conflicts": "conflict", "problems": "problem"}


def one_line(text: str) -> str:
    """``text`` on one line whatever AWS or a tag put in it: control characters written as ``\\xNN``."""
    return printable(text, one_line=True)


def _route(destination: object, target: object) -> str:
    return f" {destination} -> {target}" if destination and target else ""


def action_line(account_id: str, concern: str, action: Mapping[str, Any]) -> str:
    """One action, whole: outcome, concern, kind, resource, (a route's CIDR -> target), region, account, why."""
    params = action.get("params") or {}
    route = _route(
        params.get("DestinationCidrBlock") or params.get("DestinationIpv6CidrBlock"),
        params.get("VpcPeeringConnectionId"),
    )
    line = (
        f"{action.get('outcome', PLANNED)} {concern} {action['kind']} {action['resource']}{route}"
        f" in {action['region']} (account {account_id}): {action['reason']}"
    )
    if action.get("note"):
        line += f" [{action['note']}]"
    if action.get("error"):
        line += f" [error: {action['error']}]"
    return one_line(line)


def finding_line(account_id: str, concern: str, kind: str, finding: Mapping[str, Any]) -> str:
    """One finding, whole: refused/conflict/problem, concern, resource, (a route's CIDR -> target), region, why."""
    route = _route(finding.get("destination"), finding.get("wanted")) if concern == "routes" else ""
    return one_line(
        f"{_LINE_LABELS[kind]} {concern} {finding.get('resource', '')}{route}"
        f" in {finding.get('region', '')} (account {account_id}): {finding.get('reason', '')}"
    )


def _entries(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A fleet's entries, or a single account's document as its one entry."""
    return list(doc["entries"]) if "entries" in doc else [doc]


def _counts(counts: Mapping[str, int], kinds: Sequence[str] = ("actions", *FINDING_KINDS)) -> str:
    parts = [counted(counts[kind], kind) for kind in kinds if counts[kind] or kind == "actions"]
    return ", ".join(parts)


def print_lines(doc: Mapping[str, Any], findings: Mapping[str, Any] | None = None) -> None:
    """Every action of ``doc`` and every finding of ``findings`` (default ``doc``), one line each, then totals."""
    out = sys.stdout
    for entry in _entries(doc):
        for concern, group in entry["concerns"].items():
            out.writelines(action_line(entry["account"], concern, action) + "\n" for action in group["actions"])
    for entry in _entries(findings or doc):
        for kind in FINDING_KINDS:
            for concern, group in entry["concerns"].items():
                out.writelines(finding_line(entry["account"], concern, kind, f) + "\n" for f in group[kind])
    if "entries" in doc:
        _print_entries(findings or doc)
    print_summary_line(doc)


def _print_entries(doc: Mapping[str, Any]) -> None:
    """A fleet's (account, region) pairs: their state and counts; the accounts it could not enter."""
    for entry in doc["entries"]:
        state = "error" if entry["errors"] else "drift" if entry["counts"]["actions"] else "in sync"
        state = "skipped" if entry.get("skipped") and not entry["errors"] else state
        line = f"{state}: account {entry['account']} in {entry['region']}: {_counts(entry['counts'])}"
        sys.stdout.write(one_line(line) + "\n")
        sys.stdout.writelines(one_line(f"error: {error}") + "\n" for error in entry["errors"])
        note = _policy_note(entry)
        if note:
            sys.stdout.write(one_line(f"policy: account {entry['account']} in {entry['region']}: {note}") + "\n")
    for item in doc["unreachable"]:
        sys.stdout.write(one_line(f"unreachable: account {item['account']}: {item['reason']}") + "\n")


def print_summary_line(doc: Mapping[str, Any]) -> None:
    where = ", ".join(doc["regions"])
    who = counted(len(doc["accounts"]), "accounts") if "entries" in doc else f"account {doc['account']}"
    counts = doc["counts"]
    in_sync = doc["command"] == "plan" and not counts["actions"] and not counts["errors"]
    said = "no action: every concern is in sync" if in_sync else _counts(counts)
    line = f"{doc['command']}: {who} in {where}: {said}"
    if in_sync and any(counts[kind] for kind in FINDING_KINDS):
        line += f" ({_counts(counts, FINDING_KINDS)})"
    if doc["command"] != "plan":
        outcomes = Counter(
            action["outcome"] for entry in _entries(doc) for g in entry["concerns"].values() for action in g["actions"]
        )
        if outcomes:
            line += f" ({', '.join(f'{n} {outcome}' for outcome, n in sorted(outcomes.items()))})"
    if doc.get("unreachable"):
        line += f"; {counted(len(doc['unreachable']), 'accounts')} unreachable"
    sys.stdout.write(one_line(line) + "\n")
    for error in doc.get("errors", []) if "entries" not in doc else []:
        sys.stdout.write(one_line(f"error: {error}") + "\n")


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
        self._progress.update(self._task, advance=1, description=escape(f"{action.kind} {action.resource}"))


@contextlib.contextmanager
def display() -> Iterator[Display]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    errors = make_console(stderr=True)
    # Only on a terminal: piped or captured stderr stays what the command says, nothing else.
    with Progress(*columns, console=errors, transient=True, disable=not errors.is_terminal) as progress:
        yield Display(progress)


def enter_fleet(args: argparse.Namespace, base: Mapping[str, str], mode: str, shown: Display) -> Fleet:
    return resolve_fleet(
        args, base, mode, on_account=shown.step, on_accounts=lambda n: shown.phase(f"assuming {args.role_name}", n)
    )


def escape(text: object) -> str:
    """Text from AWS or tags (names, reasons, errors, commands with ``[...]``) shown as it is: never read
    as markup, control characters (ANSI escapes) written out. Every renderer of this module uses it."""
    from rich.markup import escape as rich_escape  # noqa: PLC0415  (drawing only)

    return rich_escape(printable(text))


def _hop_where(node: dict[str, object]) -> str:
    return f"{node.get('subnet')}, {node.get('vpc')}, {node.get('region')}"


def _hop_row(hop: Hop) -> tuple[str, str, str, str]:
    if hop.ok:
        return "[green]✔[/green]", hop.step, hop.component, f"[dim]{escape(hop.detail)}[/dim]"
    code = f"[bold red]{hop.explanation.code}[/bold red] " if hop.explanation else ""
    detail = f"{code}{escape(hop.detail)}"
    return "[bold red]✘[/bold red]", f"[bold]{hop.step}[/bold]", f"[bold]{hop.component}[/bold]", detail


def _hops_table(hops: list[Hop]) -> object:
    from rich.table import Table  # noqa: PLC0415  (drawing only)

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(width=1, no_wrap=True)
    table.add_column(no_wrap=True, min_width=11)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for hop in hops:
        table.add_row(*_hop_row(hop))
    return table


def _signature(path: Path) -> tuple[tuple[str, str, str, bool, str], ...]:
    return tuple((hop.direction, hop.step, hop.component, hop.ok, hop.detail) for hop in path.hops)


def _render_paths(console: Console, paths: list[Path], answer: Answer, traffic: Traffic | None = None) -> None:
    """Paths that meet the same hops alike (a load balancer's nodes, usually) are drawn once."""
    path = paths[0]
    version = path.destination.address.version
    source = path.source.text()
    destination = path.destination.text()
    if len(paths) > 1:
        destination += "".join(f", {shown(p.destination.address)}" for p in paths[1:])
    console.print(f"[bold cyan]{FORWARD}[/bold cyan] · {(traffic or answer.traffic).text(version)}")
    console.print(f"● [bold]{source}[/bold]")
    console.print(_hops_table(path.direction(FORWARD)))
    console.print(f"● [bold]{destination}[/bold]")
    back = path.direction(RETURN)
    if back:
        console.print(f"[bold cyan]{RETURN}[/bold cyan] · replies: security groups are stateful, network ACLs are not")
        console.print(f"● [bold]{destination}[/bold]")
        console.print(_hops_table(back))
        console.print(f"● [bold]{source}[/bold]")
    elif path.destination.load_balancer is not None and path.destination.load_balancer.internet_facing:
        console.print(f"[bold cyan]{RETURN}[/bold cyan] · not judged: the request finds no way to the internet")
    else:
        console.print(f"[bold cyan]{RETURN}[/bold cyan] · same subnet: no network ACL or route table on the way")


def render_answer(console: Console, answer: Answer) -> None:
    source, destination = answer.source, answer.destination
    console.print(f"[bold]source[/bold]       {source['input']}  [dim]({_hop_where(source)})[/dim]")
    console.print(f"[bold]destination[/bold]  {destination['input']}", end="")
    if destination.get("kind") == "dns-name":
        console.print()
        for step in destination.get("resolution", []):
            console.print(f"  [dim]↳ {escape(step)}[/dim]")
        lb = destination.get("load_balancer")
        if isinstance(lb, dict):
            listeners = ", ".join(f"{item['protocol']} {item['port']}" for item in lb.get("listeners") or ()) or "none"
            console.print(
                f"  [dim]↳ load balancer {escape(lb['name'])} ({lb['type']}, {lb['scheme']}; listeners: "
                f"{escape(listeners)}): {destination['note']}[/dim]"
            )
    else:
        console.print(f"  [dim]({_hop_where(destination)})[/dim]")
    alike: dict[tuple[tuple[str, str, str, bool, str], ...], list[Path]] = {}
    for path in answer.paths:
        alike.setdefault(_signature(path), []).append(path)
    for paths in alike.values():
        console.print()
        _render_paths(console, paths, answer)
    if answer.targets_asked:
        _render_targets(console, answer)
    console.print()
    verdict(console, answer)


def _render_targets(console: Console, answer: Answer) -> None:
    """``--to-targets``: the load balancer on to each registered target (one drawing per target)."""
    from peerkeeper.reach.command import TARGET_HEALTH_NOTE  # noqa: PLC0415  (why's rendering only)

    console.print()
    console.print(f"[bold]on to the registered targets[/bold] [dim]({TARGET_HEALTH_NOTE})[/dim]")
    for note in answer.target_notes:
        console.print(f"  [dim]↳ {escape(note)}[/dim]")
    if not answer.targets:
        console.print("  [bold red]✘[/bold red] no instance or IP target is registered behind those listeners")
    by_target: dict[str, list[Any]] = {}
    for target in answer.targets:
        by_target.setdefault(target.path.destination.name, []).append(target)
    for targets in by_target.values():
        console.print()
        paths = [t.path for t in targets]
        alike: dict[tuple[tuple[str, str, str, bool, str], ...], list[Path]] = {}
        for path in paths:
            alike.setdefault(_signature(path), []).append(path)
        for group in alike.values():
            _render_paths(console, group, answer, targets[0].traffic)


def verdict(console: Console, answer: Answer) -> None:
    """The last lines: reachable or not, what blocks, the fixes, the reads."""
    if answer.reachable:
        console.print(f"[bold green]✔ reachable[/bold green]: {answer.traffic.text()} gets there and back")
    else:
        blocking = answer.explanations
        console.print(f"[bold red]✘ not reachable[/bold red]: {len(blocking)} blocking component(s)")
        for explanation in blocking:
            leg = ", load balancer to target" if explanation.detail.get("leg") == "to-targets" else ""
            console.print(f"  [red]{explanation.code}[/red] ({explanation.direction}{leg}) {explanation.component}")
        if answer.fixes:
            console.print("[bold]fixes[/bold]")
            for fix in answer.fixes:
                console.print(f"  $ {escape(fix)}" if fix.startswith("aws ") else f"  • {escape(fix)}", soft_wrap=True)
    reads = sum(answer.reads.values())
    console.print(f"[dim]{reads} read(s), no change made[/dim]")


COUNTED = ("actions", *FINDING_KINDS, "errors")

_FINDING_LABELS = {
    "refused": ("refused", "yellow"),
    "conflicts": ("conflict", "magenta"),
    "problems": ("problem", "red"),
}


def fleet_entry(result: Result, region: str) -> dict[str, Any]:
    doc = result.only(region).document()
    return {
        "account": result.account_id,
        "region": region,
        "in_sync": doc["in_sync"],
        "counts": doc["counts"],
        "concerns": doc["concerns"],
        "errors": doc["errors"],
        # whose policy judged it: the account's stack, or your settings (and why); a skipped region
        **{key: doc[key][region] for key in ("policy", "skipped") if region in doc.get(key, {})},
    }


def unreachable_entry(account_id: str, region: str, reason: str) -> dict[str, Any]:
    counts = {kind: 0 for kind in COUNTED} | {"errors": 1}
    return {
        "account": account_id,
        "region": region,
        "in_sync": False,
        "counts": counts,
        "concerns": {},
        "errors": [reason],
    }


def fleet_document(command: str, mode: str, group: Fleet, results: Iterable[Result]) -> dict[str, Any]:
    """The ``--json`` document of a run over several accounts: entries in the order asked."""
    by_account = {result.account_id: result for result in results}
    refused = {item.account_id: item.reason for item in group.unreachable}
    entries = []
    for account_id in group.account_ids:
        for region in group.regions:
            if account_id in by_account:
                entries.append(fleet_entry(by_account[account_id], region))
            elif account_id in refused:
                entries.append(unreachable_entry(account_id, region, refused[account_id]))
    return {
        "command": command,
        "mode": mode,
        "accounts": list(group.account_ids),
        "regions": list(group.regions),
        "in_sync": all(item["in_sync"] for item in entries),
        "counts": {kind: sum(item["counts"][kind] for item in entries) for kind in COUNTED},
        "entries": entries,
        "unreachable": [{"account": item.account_id, "reason": item.reason} for item in group.unreachable],
    }


def fleet_plan_exit_code(doc: Mapping[str, Any]) -> int:
    """The worst entry: an error (1) over drift (2) over in sync (0)."""
    codes = [
        EXIT_ERROR if item["errors"] else EXIT_DRIFT if item["counts"]["actions"] else EXIT_OK
        for item in doc["entries"]
    ]
    return worst(codes, (EXIT_OK, EXIT_DRIFT, EXIT_ERROR))


def _by_account(entries: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for item in entries:
        grouped.setdefault(item["account"], []).append(item)
    return grouped


def render_fleet_actions(console: Console, doc: Mapping[str, Any], title: str, styles: Mapping[str, str]) -> None:
    """Every action, grouped by account (one section each), with its outcome after ``apply``."""
    from rich.table import Table  # noqa: PLC0415

    show_outcome = doc["command"] != "plan"
    table = Table(title=title, title_justify="left", expand=True)
    for column in ("account", "region", "concern", "what"):
        table.add_column(column, no_wrap=True, style="bold" if column == "account" else "")
    table.add_column("where", max_width=30, overflow="fold")
    table.add_column("why", ratio=1)
    if show_outcome:
        table.add_column("outcome", no_wrap=True)
    for account_id, items in _by_account(doc["entries"]).items():
        rows = [
            (item["region"], concern, action)
            for item in items
            for concern, group in item["concerns"].items()
            for action in group["actions"]
        ]
        for index, (region, concern, action) in enumerate(rows):
            row = [escape(account_id) if index == 0 else "", escape(region), concern, escape(action["kind"])]
            row += [escape(action["resource"]), _why(action)]
            if show_outcome:
                outcome = action.get("outcome", "planned")
                row.append(f"[{styles.get(outcome, '')}]{outcome}[/]")
            table.add_row(*row)
        if rows:
            table.add_section()
    if doc["counts"]["actions"]:
        console.print(table)


def render_fleet_findings(console: Console, doc: Mapping[str, Any]) -> None:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Not changed by peerkeeper", title_justify="left", expand=True)
    for column in ("account", "region", "", "concern"):
        table.add_column(column, no_wrap=True, style="bold" if column == "account" else "")
    table.add_column("where", max_width=30, overflow="fold")
    table.add_column("why", ratio=1)
    shown = 0
    for account_id, items in _by_account(doc["entries"]).items():
        first = True
        for item in items:
            for kind in FINDING_KINDS:
                label, style = _FINDING_LABELS[kind]
                for concern, group in item["concerns"].items():
                    for finding in group[kind]:
                        where = escape(finding.get("resource", ""))
                        region = escape(item["region"])
                        table.add_row(
                            escape(account_id) if first else "",
                            region,
                            f"[{style}]{label}[/]",
                            concern,
                            where,
                            _why(finding),
                        )
                        first, shown = False, shown + 1
        if not first:
            table.add_section()
    if shown:
        console.print(table)


def render_accounts(console: Console, doc: Mapping[str, Any], title: str) -> None:
    """One row per (account, region), grouped by account: counts and state."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title, title_justify="left", expand=True)
    table.add_column("account", no_wrap=True, style="bold")
    table.add_column("region", no_wrap=True)
    for kind in ("actions", *FINDING_KINDS):
        table.add_column(kind, justify="right")
    table.add_column("state", ratio=1)
    for account_id, items in _by_account(doc["entries"]).items():
        for index, item in enumerate(items):
            counts = item["counts"]
            if item["errors"]:
                state = "[bold red]error:[/bold red] " + escape("; ".join(item["errors"]))
            elif item.get("skipped"):
                state = "[yellow]skipped[/yellow]"
            elif counts["actions"]:
                state = "[cyan]drift[/cyan]"
            else:
                state = "[green]in sync[/green]"
            cells = [str(counts[kind]) if counts[kind] else "·" for kind in ("actions", *FINDING_KINDS)]
            table.add_row(escape(account_id) if index == 0 else "", escape(item["region"]), *cells, state)
        table.add_section()
    console.print(table)
    render_policy_notes(console, doc)


def _policy_note(entry: Mapping[str, Any]) -> str:
    """Why an (account, region) was left out, or judged with the caller's settings instead of its stack."""
    policy = str(entry.get("policy") or "")
    return str(entry.get("skipped") or (policy if policy.startswith("your") else ""))


def render_policy_notes(console: Console, doc: Mapping[str, Any]) -> None:
    """Each (account, region) left out, or judged with the caller's settings instead of its stack: one whole line."""
    for item in doc["entries"]:
        note = _policy_note(item)
        if note:
            console.print(f"{escape(item['account'])} {escape(item['region'])}: {escape(note)}", soft_wrap=True)


def render_fleet_summary(console: Console, doc: Mapping[str, Any]) -> None:
    counts = doc["counts"]
    parts = [counted(counts["actions"], "actions")]
    parts += [counted(counts[kind], kind) for kind in FINDING_KINDS if counts[kind]]
    accounts = counted(len(doc["accounts"]), "accounts")
    regions = escape(", ".join(doc["regions"]))
    line = f"[bold]{doc['command']}[/bold] · {accounts} · {regions}: {', '.join(parts)}"
    if doc["unreachable"]:
        line += f" · [bold red]{counted(len(doc['unreachable']), 'accounts')} unreachable[/bold red]"
    console.print(line)
