"""The picture as Graphviz DOT: ``peerkeeper graph --format dot | dot -Tsvg > network.svg``.

Accounts and regions are nested clusters, a VPC a node with an HTML-like label (its route tables
and, in red, their missing routes with ``--detail tables``), a peering connection an edge from
requester to accepter, dashed and coloured when the plan finds drift on it.
"""

from __future__ import annotations

from peerkeeper.graph.model import FLOW_MISSING, FLOW_ON, Edge, Group, Picture, VpcNode
from peerkeeper.model import printable

FONT = "Helvetica,Arial,sans-serif"
EDGE_STYLES = {
    "ok": 'color="#16a34a", penwidth=1.5',
    "missing": 'color="#ea580c", fontcolor="#9a3412", style=dashed, penwidth=2.5',
    "refused": 'color="#dc2626", fontcolor="#991b1b", style=dashed, penwidth=2.5',
    "conflict": 'color="#c026d3", fontcolor="#86198f", style=dashed, penwidth=2.5',
    "planned": 'color="#2563eb", fontcolor="#1e40af", style=dashed, penwidth=2',
    "other": 'color="#64748b", style=dotted, penwidth=1.5',
    "declared": 'color="#0891b2", fontcolor="#155e75", style=dotted, penwidth=2, arrowhead=none',
}
FLOW_COLOURS = {FLOW_ON: "#16a34a", FLOW_MISSING: "#dc2626"}


def quoted(value: str) -> str:
    """A DOT double-quoted string (IDs, plain labels, tooltips)."""
    return '"' + printable(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def html(value: str) -> str:
    """Text inside an HTML-like label."""
    return printable(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _row(content: str, colour: str = "", size: int = 0, bold: bool = False) -> str:
    body = f"<B>{content}</B>" if bold else content
    attributes = (f' COLOR="{colour}"' if colour else "") + (f' POINT-SIZE="{size}"' if size else "")
    if attributes:
        body = f"<FONT{attributes}>{body}</FONT>"
    return f'<TR><TD ALIGN="LEFT">{body}</TD></TR>'


def _vpc_label(vpc: VpcNode, detail: bool) -> str:
    rows = [
        _row(html(vpc.name or "(no Name tag)"), bold=bool(vpc.name)),
        _row(html(vpc.id)),
        *(_row(html(cidr), size=9) for cidr in vpc.cidrs or ("CIDRs unknown",)),
    ]
    if not vpc.observed:
        rows.append(_row(html(f"account {vpc.account}, not looked at"), "#64748b", 9))
    elif vpc.ignored:
        rows.append(_row("peerkeeper:ignore", "#64748b", 9))
    else:
        rows.append(_row(f"flow logs: {html(vpc.flow_logs)}", FLOW_COLOURS.get(vpc.flow_logs, "#64748b"), 9))
    for table in vpc.tables if detail else ():
        rows.append(_row(html(f"{table.id}: {len(table.routes)} routes"), "#334155", 9))
        rows += [_row(html(f"  prefix list {route}"), "#334155", 9) for route in table.prefix_list_routes]
        rows += [_row(html(f"  + {m.destination} via {m.peering}"), "#dc2626", 9) for m in table.missing]
        rows += [_row(html(f"  ! {c}"), "#c026d3", 9) for c in table.conflicts]
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _vpc(vpc: VpcNode, detail: bool) -> str:
    style = 'style="rounded,filled", fillcolor="#ffffff", color="#334155"'
    if not vpc.observed:
        style = 'style="rounded,filled,dashed", fillcolor="#f1f5f9", color="#94a3b8"'
    elif vpc.ignored:
        style = 'style="rounded,filled,dotted", fillcolor="#f8fafc", color="#94a3b8"'
    elif vpc.flow_logs == FLOW_MISSING:
        style = 'style="rounded,filled", fillcolor="#fff7ed", color="#ea580c"'
    tooltip = quoted(" ".join((vpc.id, vpc.name, *vpc.cidrs)).strip())
    return f"{quoted(vpc.id)} [id={quoted(vpc.id)}, label={_vpc_label(vpc, detail)}, tooltip={tooltip}, {style}];"


def _group(group: Group, detail: bool) -> list[str]:
    lines = [
        f"    subgraph {quoted('cluster_' + group.key)} {{",
        f'      label={quoted(group.region)}; style=rounded; color="#94a3b8"; bgcolor="#f8fafc";',
    ]
    lines += [f"      {_vpc(vpc, detail)}" for vpc in group.vpcs]
    lines.append("    }")
    return lines


def _edge(edge: Edge) -> str:
    label = "\n".join((*edge.heading, *edge.explained_marks))
    attributes = [
        f"id={quoted(edge.id)}",
        f"label={quoted(label)}",
        f"tooltip={quoted(chr(10).join(edge.details()))}",
        EDGE_STYLES[edge.kind],
    ]
    return f"  {quoted(edge.requester)} -> {quoted(edge.accepter)} [{', '.join(attributes)}];"


def render(picture: Picture) -> str:
    lines = [
        "digraph peerkeeper {",
        f'  graph [rankdir=LR, newrank=true, nodesep=0.35, ranksep=1.1, fontname="{FONT}", fontsize=12];',
        f'  node [shape=box, fontname="{FONT}", fontsize=10, margin="0.12,0.06"];',
        f'  edge [fontname="{FONT}", fontsize=9, arrowsize=0.7];',
    ]
    accounts: dict[str, list[Group]] = {}
    for group in picture.groups:
        accounts.setdefault(group.account, []).append(group)
    for account, groups in accounts.items():
        title = f"account {account}" + ("" if account in picture.accounts else " (not looked at)")
        lines.append(f"  subgraph {quoted('cluster_' + account)} {{")
        lines.append(f'    label={quoted(title)}; style="rounded,bold"; color="#475569";')
        for group in groups:
            lines += _group(group, picture.detail)
        lines.append("  }")
    lines += [_edge(edge) for edge in picture.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"
