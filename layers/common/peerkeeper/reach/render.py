"""The answer on a terminal: each path as the hops a packet meets, the blocking ones marked.

rich is imported inside the function that draws: nothing else needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peerkeeper.reach.analysis import FORWARD, RETURN, Hop, Path
from peerkeeper.reach.model import shown

if TYPE_CHECKING:
    from rich.console import Console

    from peerkeeper.reach.command import Answer


def escape(text: str) -> str:
    """Text from AWS (names, rules, commands with ``[...]``) shown as it is, never read as markup."""
    from rich.markup import escape as rich_escape  # noqa: PLC0415  (drawing only)

    return rich_escape(text)


def _where(node: dict[str, object]) -> str:
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


def _render_paths(console: Console, paths: list[Path], answer: Answer) -> None:
    """Paths that meet the same hops alike (a load balancer's nodes, usually) are drawn once."""
    path = paths[0]
    version = path.destination.address.version
    source = path.source.text()
    destination = path.destination.text()
    if len(paths) > 1:
        destination += "".join(f", {shown(p.destination.address)}" for p in paths[1:])
    console.print(f"[bold cyan]{FORWARD}[/bold cyan] · {answer.traffic.text(version)}")
    console.print(f"● [bold]{source}[/bold]")
    console.print(_hops_table(path.direction(FORWARD)))
    console.print(f"● [bold]{destination}[/bold]")
    back = path.direction(RETURN)
    if back:
        console.print(f"[bold cyan]{RETURN}[/bold cyan] · replies: security groups are stateful, network ACLs are not")
        console.print(f"● [bold]{destination}[/bold]")
        console.print(_hops_table(back))
        console.print(f"● [bold]{source}[/bold]")
    else:
        console.print(f"[bold cyan]{RETURN}[/bold cyan] · same subnet: no network ACL or route table on the way")


def render(console: Console, answer: Answer) -> None:
    source, destination = answer.source, answer.destination
    console.print(f"[bold]source[/bold]       {source['input']}  [dim]({_where(source)})[/dim]")
    console.print(f"[bold]destination[/bold]  {destination['input']}", end="")
    if destination.get("kind") == "dns-name":
        console.print()
        for step in destination.get("resolution", []):
            console.print(f"  [dim]↳ {escape(step)}[/dim]")
        lb = destination.get("load_balancer")
        if isinstance(lb, dict):
            console.print(
                f"  [dim]↳ load balancer {lb['name']} ({lb['type']}, {lb['scheme']}): {destination['note']}[/dim]"
            )
    else:
        console.print(f"  [dim]({_where(destination)})[/dim]")
    alike: dict[tuple[tuple[str, str, str, bool, str], ...], list[Path]] = {}
    for path in answer.paths:
        alike.setdefault(_signature(path), []).append(path)
    for paths in alike.values():
        console.print()
        _render_paths(console, paths, answer)
    console.print()
    verdict(console, answer)


def verdict(console: Console, answer: Answer) -> None:
    """The last lines: reachable or not, what blocks, the fixes, the reads."""
    if answer.reachable:
        console.print(f"[bold green]✔ reachable[/bold green]: {answer.traffic.text()} gets there and back")
    else:
        blocking = answer.explanations
        console.print(f"[bold red]✘ not reachable[/bold red]: {len(blocking)} blocking component(s)")
        for explanation in blocking:
            console.print(f"  [red]{explanation.code}[/red] ({explanation.direction}) {explanation.component}")
        if answer.fixes:
            console.print("[bold]fixes[/bold]")
            for fix in answer.fixes:
                console.print(f"  $ {escape(fix)}" if fix.startswith("aws ") else f"  • {escape(fix)}", soft_wrap=True)
    reads = sum(answer.reads.values())
    console.print(f"[dim]{reads} read(s), no change made[/dim]")
