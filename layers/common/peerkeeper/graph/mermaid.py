"""The picture as a Mermaid flowchart: renders in GitHub READMEs, pull requests and wikis.

Accounts and regions are nested subgraphs, a VPC a node (a subgraph of its route tables with
``--detail tables``), a peering connection an arrow from requester to accepter. Drift is dotted
and coloured through ``linkStyle``. Labels are quoted and every character Mermaid could read as
syntax is written as an entity code (``#quot;``), so a Name tag cannot break the chart.
"""

from __future__ import annotations

import re

from peerkeeper.graph.model import FLOW_MISSING, Edge, Group, Picture, TableView, VpcNode
from peerkeeper.model import printable

EDGE_STYLES = {
    "ok": "stroke:#16a34a,stroke-width:1.5px",
    "missing": "stroke:#ea580c,stroke-width:2.5px,stroke-dasharray:6 4",
    "refused": "stroke:#dc2626,stroke-width:2.5px,stroke-dasharray:3 3",
    "conflict": "stroke:#c026d3,stroke-width:2.5px,stroke-dasharray:6 4",
    "planned": "stroke:#2563eb,stroke-width:2px,stroke-dasharray:6 4",
    "other": "stroke:#64748b,stroke-width:1.5px,stroke-dasharray:2 4",
    "declared": "stroke:#0891b2,stroke-width:2px,stroke-dasharray:1 4",
}
CLASSES = (
    "classDef vpc fill:#ffffff,stroke:#334155,color:#0f172a",
    "classDef nofl fill:#fff7ed,stroke:#ea580c,color:#0f172a",
    "classDef stub fill:#f1f5f9,stroke:#94a3b8,stroke-dasharray:4 3,color:#475569",
    "classDef ignored fill:#f8fafc,stroke:#94a3b8,stroke-dasharray:2 2,color:#64748b",
    "classDef table fill:#f8fafc,stroke:#cbd5e1,color:#334155",
    "classDef tablemissing fill:#fee2e2,stroke:#dc2626,color:#991b1b",
)
_UNSAFE = re.compile(r"[\"#<>|`&\\]")


def text(value: str) -> str:
    """A label's text with Mermaid's syntax characters as entity codes (``"`` -> ``#34;``)."""
    flat = " ".join(printable(value).split())
    return _UNSAFE.sub(lambda match: f"#{ord(match.group())};", flat)


def node_id(prefix: str, value: str) -> str:
    """A Mermaid identifier: letters, digits and underscores only, never a keyword such as ``end``."""
    return prefix + "_" + re.sub(r"[^A-Za-z0-9]", "_", value)


def _vpc_lines(vpc: VpcNode) -> list[str]:
    lines = [vpc.name or "(no Name tag)", vpc.id, ", ".join(vpc.cidrs) or "CIDRs unknown"]
    if not vpc.observed:
        lines.append(f"account {vpc.account}, not looked at")
    elif vpc.ignored:
        lines.append("peerkeeper:ignore")
    else:
        lines.append(f"flow logs: {vpc.flow_logs}")
    return lines


def _label(lines: list[str]) -> str:
    return '"' + "<br/>".join(text(line) for line in lines) + '"'


def _vpc_class(vpc: VpcNode) -> str:
    if not vpc.observed:
        return "stub"
    if vpc.ignored:
        return "ignored"
    return "nofl" if vpc.flow_logs == FLOW_MISSING else "vpc"


def _table(table: TableView) -> tuple[str, str]:
    lines = [table.id + (" (ignored)" if table.ignored else ""), f"{len(table.routes)} routes"]
    lines += [f"prefix list {route}" for route in table.prefix_list_routes]
    lines += [f"missing {m.destination} via {m.peering}" for m in table.missing]
    lines += [f"conflict: {c}" for c in table.conflicts]
    return _label(lines), "tablemissing" if table.missing or table.conflicts else "table"


def _vpc(vpc: VpcNode, indent: str, detail: bool) -> list[str]:
    name = node_id("n", vpc.id)
    if not (detail and vpc.tables):
        return [f"{indent}{name}[{_label(_vpc_lines(vpc))}]:::{_vpc_class(vpc)}"]
    lines = [f"{indent}subgraph {name}[{_label(_vpc_lines(vpc))}]"]
    for table in vpc.tables:
        label, css = _table(table)
        lines.append(f"{indent}  {node_id('rtb', table.id)}[{label}]:::{css}")
    lines.append(f"{indent}end")
    return lines


def _group(group: Group, detail: bool) -> list[str]:
    lines = [f"    subgraph {node_id('grp', group.key)}[{_label([group.region])}]"]
    for vpc in group.vpcs:
        lines += _vpc(vpc, "      ", detail)
    lines.append("    end")
    return lines


def _edge(edge: Edge) -> str:
    arrow = "-->" if edge.kind == "ok" else "-.->"
    label = " · ".join((*edge.heading, *edge.explained_marks))
    return f"  {node_id('n', edge.requester)} {arrow}|{_label([label])}| {node_id('n', edge.accepter)}"


def render(picture: Picture) -> str:
    lines = ["flowchart LR"]
    accounts: dict[str, list[Group]] = {}
    for group in picture.groups:
        accounts.setdefault(group.account, []).append(group)
    for account, groups in accounts.items():
        looked = account in picture.accounts
        title = f"account {account}" + ("" if looked else " (not looked at)")
        lines.append(f"  subgraph {node_id('acct', account)}[{_label([title])}]")
        for group in groups:
            lines += _group(group, picture.detail)
        lines.append("  end")
    for edge in picture.edges:
        lines.append(_edge(edge))
    for index, edge in enumerate(picture.edges):
        lines.append(f"  linkStyle {index} {EDGE_STYLES[edge.kind]}")
    lines += [f"  {line}" for line in CLASSES]
    return "\n".join(lines) + "\n"
