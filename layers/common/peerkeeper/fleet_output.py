"""What ``plan`` / ``apply --account … | --org`` print: one JSON entry per account and region, or tables.

The JSON document (``--json``) has ``entries``, one per (account, region) asked for, each shaped
like the single-account document (``account``, ``region``, ``in_sync``, ``counts``, ``concerns``,
``errors``); an account whose role could not be assumed has an entry per region with that error,
and is listed under ``unreachable``. The tables are grouped by account. rich is imported by the
functions that draw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from peerkeeper.fleet import worst

if TYPE_CHECKING:
    from rich.console import Console

    from peerkeeper.cli import Fleet, Result

FINDING_KINDS = ("refused", "conflicts", "problems")
COUNTED = ("actions", *FINDING_KINDS, "errors")
EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2
_FINDING_LABELS = {
    "refused": ("refused", "yellow"),
    "conflicts": ("conflict", "magenta"),
    "problems": ("problem", "red"),
}


def entry(result: Result, region: str) -> dict[str, Any]:
    doc = result.only(region).document()
    return {
        "account": result.account_id,
        "region": region,
        "in_sync": doc["in_sync"],
        "counts": doc["counts"],
        "concerns": doc["concerns"],
        "errors": doc["errors"],
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


def document(command: str, mode: str, group: Fleet, results: Iterable[Result]) -> dict[str, Any]:
    """The ``--json`` document of a run over several accounts: entries in the order asked."""
    by_account = {result.account_id: result for result in results}
    refused = {item.account_id: item.reason for item in group.unreachable}
    entries = []
    for account_id in group.account_ids:
        for region in group.regions:
            if account_id in by_account:
                entries.append(entry(by_account[account_id], region))
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


def plan_exit_code(doc: Mapping[str, Any]) -> int:
    """The worst entry: an error (1) over drift (2) over in sync (0)."""
    codes = [
        EXIT_ERROR if item["errors"] else EXIT_DRIFT if item["counts"]["actions"] else EXIT_OK
        for item in doc["entries"]
    ]
    return worst(codes, (EXIT_OK, EXIT_DRIFT, EXIT_ERROR))


# -- tables -----------------------------------------------------------------------------------
def _by_account(entries: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for item in entries:
        grouped.setdefault(item["account"], []).append(item)
    return grouped


def render_actions(console: Console, doc: Mapping[str, Any], title: str, styles: Mapping[str, str]) -> None:
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
            why = action["reason"] + (f"\n[red]{action['error']}[/red]" if action.get("error") else "")
            row = [account_id if index == 0 else "", region, concern, action["kind"], action["resource"], why]
            if show_outcome:
                outcome = action.get("outcome", "planned")
                row.append(f"[{styles.get(outcome, '')}]{outcome}[/]")
            table.add_row(*row)
        if rows:
            table.add_section()
    if doc["counts"]["actions"]:
        console.print(table)


def render_findings(console: Console, doc: Mapping[str, Any]) -> None:
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
                        where = str(finding.get("resource", ""))
                        why = str(finding.get("reason", ""))
                        table.add_row(
                            account_id if first else "", item["region"], f"[{style}]{label}[/]", concern, where, why
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
                state = "[bold red]error:[/bold red] " + "; ".join(item["errors"])
            elif counts["actions"]:
                state = "[cyan]drift[/cyan]"
            else:
                state = "[green]in sync[/green]"
            cells = [str(counts[kind]) if counts[kind] else "·" for kind in ("actions", *FINDING_KINDS)]
            table.add_row(account_id if index == 0 else "", item["region"], *cells, state)
        table.add_section()
    console.print(table)


def render_summary(console: Console, doc: Mapping[str, Any]) -> None:
    counts = doc["counts"]
    parts = [f"{counts['actions']} action(s)"] + [f"{counts[kind]} {kind}" for kind in FINDING_KINDS if counts[kind]]
    accounts = len(doc["accounts"])
    line = f"[bold]{doc['command']}[/bold] · {accounts} account(s) · {', '.join(doc['regions'])}: {', '.join(parts)}"
    if doc["unreachable"]:
        line += f" · [bold red]{len(doc['unreachable'])} account(s) unreachable[/bold red]"
    console.print(line)
