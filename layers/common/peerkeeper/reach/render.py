"""The answer on a terminal: each path as the hops a packet meets, the blocking ones marked.

rich is imported inside the function that draws: nothing else needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peerkeeper.reach.analysis import FORWARD, RETURN, Hop, Path

if TYPE_CHECKING:
    from rich.console import Console

    from peerkeeper.reach.command import Answer


def _where(node: dict[str, object]) -> str:
    return f"{node.get('subnet')}, {node.get('vpc')}, {node.get('region')}"


def _hop_row(hop: Hop) -> tuple[str, str, str, str]:
    if hop.ok:
        return "[green]✔[/green]", hop.step, hop.component, f"[dim]{hop.detail}[/dim]"
    code = f"[bold red]{hop.explanation.code}[/bold red] " if hop.explanation else ""
    return "[bold red]✘[/bold red]", f"[bold]{hop.step}[/bold]", f"[bold]{hop.component}[/bold]", f"{code}{hop.detail}"


def _hops_table(hops: list[Hop]) -> object:
    from rich.table import Table  # noqa: PLC0415  (drawing only)

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(width=1, no_wrap=True)
    table.add_column(no_wrap=True, min_width=11)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1, overflow="fold")
    for hop in hops:
        table.add_row(*_hop_row(hop))
    return table


def _render_path(console: Console, path: Path, answer: Answer) -> None:
    version = path.destination.address.version
    source, destination = path.source.text(), path.destination.text()
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
            console.print(f"  [dim]↳ {step}[/dim]")
        lb = destination.get("load_balancer")
        if isinstance(lb, dict):
            console.print(
                f"  [dim]↳ load balancer {lb['name']} ({lb['type']}, {lb['scheme']}): {destination['note']}[/dim]"
            )
    else:
        console.print(f"  [dim]({_where(destination)})[/dim]")
    for path in answer.paths:
        console.print()
        _render_path(console, path, answer)
    console.print()
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
                console.print(f"  $ {fix}" if fix.startswith("aws ") else f"  • {fix}", soft_wrap=True)
    reads = sum(answer.reads.values())
    console.print(f"[dim]{reads} read(s), no change made[/dim]")
