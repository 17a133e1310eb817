"""The picture as one self-contained HTML page: inline SVG, inline CSS and script, no network fetch.

Layout (our own, no engine): each region of an account is a panel holding its VPCs as cards in a
grid, ordered so that peered VPCs sit side by side; panels flow left to right inside their
account's frame, and frames flow down the page. Peering connections are curves between card
centres, drawn under the cards; drift (missing routes, refusals, conflicts, planned accepts) is
dashed, coloured and labelled above them. Hovering a card lights up its connections; every card
and curve has a ``<title>`` with the full details. Clicking a panel's header collapses it to one
line (its connections then end at the header), and the toolbar collapses every panel without
drift at once, which is what keeps a few hundred VPCs readable. Beside the picture: a legend, the
plan's actions by concern, and what peerkeeper will not change (refusals, conflicts, problems).

The page is static SVG first: it shows the whole picture with scripting off. The script only
re-runs the same flow layout (:func:`flow`, mirrored in ``_SCRIPT``) when a panel is collapsed.
Labels are placed (:func:`place_label`) clear of the cards, the account and region headers and each
other, and never across a frame's edge; with a panel collapsed the script puts them back at their
curve's middle, and expanding every panel restores the placed ones.
Coordinates are rounded and everything is sorted, so the same world gives the same bytes.
"""

from __future__ import annotations

import html as _html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from peerkeeper.graph.model import FLOW_IGNORED, FLOW_MISSING, FLOW_ON, Edge, Group, Picture, VpcNode

MAX_WIDTH = 1480  # frames and panels wrap at this width
GAP = 18
FRAME_PAD, FRAME_HEAD = 14, 30
PANEL_PAD, PANEL_HEAD = 12, 26
COLLAPSED_BODY = 0  # a collapsed panel is its header
LABEL_ALL_EDGES = 60  # above this many connections, only drifted ones carry a label on the picture
EDGE_COLOURS = {
    "ok": "#16a34a",
    "missing": "#ea580c",
    "refused": "#dc2626",
    "conflict": "#c026d3",
    "planned": "#2563eb",
    "other": "#64748b",
    "declared": "#0891b2",
}
LEGEND = (
    ("ok", "active, every route in place"),
    ("missing", "routes missing: N missing"),
    ("refused", "request refused by the policy"),
    ("conflict", "a route points elsewhere: conflict"),
    ("planned", "request peerkeeper will accept"),
    ("other", "pending elsewhere, failed, provisioning"),
    ("declared", "declared by a network file (graph --intent), no connection yet"),
)


@dataclass(frozen=True)
class Density:
    card_w: int
    card_h: int
    gap_x: int  # between cards: room for the curves and their labels
    gap_y: int
    max_cols: int
    chars: int  # characters that fit on a card's line


COMFORTABLE = Density(236, 76, 120, 76, 4, 34)
COMPACT = Density(184, 62, 48, 40, 6, 26)
DETAIL_LINE = 13


def flow(
    sizes: Sequence[tuple[float, float]], max_width: float, gap: float
) -> tuple[list[tuple[float, float]], float, float]:
    """Place boxes left to right, wrapping at ``max_width``: positions, total width, total height."""
    x = y = row = width = 0.0
    positions: list[tuple[float, float]] = []
    for w, h in sizes:
        if x > 0 and x + w > max_width:
            x, y, row = 0.0, y + row + gap, 0.0
        positions.append((x, y))
        x += w + gap
        row = max(row, h)
        width = max(width, x - gap)
    return positions, width, y + row


def esc(value: str) -> str:
    return _html.escape(value, quote=True)


def clip(value: str, chars: int) -> str:
    return value if len(value) <= chars else value[: max(chars - 1, 1)] + "…"


def num(value: float) -> str:
    """Coordinates with one decimal at most: stable text, small files."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


# -- layout -----------------------------------------------------------------------------------
@dataclass
class Panel:
    id: str
    group: Group
    cols: int
    card_h: float
    width: float
    height: float
    collapsed_height: float
    x: float = 0.0  # inside its frame's content box
    y: float = 0.0


@dataclass
class Frame:
    id: str
    account: str
    panels: list[Panel]
    width: float = 0.0
    height: float = 0.0
    x: float = 0.0
    y: float = 0.0


def _detail_lines(vpc: VpcNode) -> int:
    return sum(1 + len(table.missing) + len(table.conflicts) for table in vpc.tables)


def _panel(index: int, group: Group, density: Density, detail: bool) -> Panel:
    count = max(len(group.vpcs), 1)
    fits = int((MAX_WIDTH - 2 * FRAME_PAD - 2 * PANEL_PAD + density.gap_x) // (density.card_w + density.gap_x))
    cols = max(1, min(math.ceil(math.sqrt(count)), density.max_cols, fits))
    rows = math.ceil(count / cols)
    extra = max((_detail_lines(vpc) for vpc in group.vpcs), default=0) * DETAIL_LINE if detail else 0
    card_h = density.card_h + extra + (6 if extra else 0)
    width = 2 * PANEL_PAD + cols * density.card_w + (cols - 1) * density.gap_x
    height = PANEL_HEAD + PANEL_PAD + rows * card_h + (rows - 1) * density.gap_y + PANEL_PAD
    return Panel(f"p{index}", group, cols, card_h, width, height, PANEL_HEAD + COLLAPSED_BODY)


def layout(picture: Picture, density: Density) -> tuple[list[Frame], float, float]:
    frames: list[Frame] = []
    for group_index, group in enumerate(picture.groups):
        if not frames or frames[-1].account != group.account:
            frames.append(Frame(f"f{len(frames)}", group.account, []))
        frames[-1].panels.append(_panel(group_index, group, density, picture.detail))
    inner = MAX_WIDTH - 2 * FRAME_PAD
    for frame in frames:
        positions, width, height = flow([(p.width, p.height) for p in frame.panels], inner, GAP)
        for panel, (x, y) in zip(frame.panels, positions, strict=True):
            panel.x, panel.y = x, y
        frame.width, frame.height = width + 2 * FRAME_PAD, FRAME_HEAD + height + FRAME_PAD
    positions, width, height = flow([(f.width, f.height) for f in frames], MAX_WIDTH, GAP)
    for frame, (x, y) in zip(frames, positions, strict=True):
        frame.x, frame.y = x, y
    return frames, width, height


def card_origin(frame: Frame, panel: Panel, index: int, density: Density) -> tuple[float, float]:
    col, row = index % panel.cols, index // panel.cols
    x = frame.x + FRAME_PAD + panel.x + PANEL_PAD + col * (density.card_w + density.gap_x)
    y = frame.y + FRAME_HEAD + panel.y + PANEL_HEAD + PANEL_PAD + row * (panel.card_h + density.gap_y)
    return x, y


Box = tuple[float, float, float, float]  # centre x, centre y, half width, half height


def border(box: Box, towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box's centre towards a point leaves the box (plus 3px for the arrow)."""
    x, y, hw, hh = box
    dx, dy = towards[0] - x, towards[1] - y
    scale = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    if scale >= 1 or scale == math.inf:
        return x, y
    length = math.hypot(dx, dy)
    scale += 3 / length
    return x + dx * scale, y + dy * scale


def _bezier(a: Box, b: Box, index: int) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Start, control point and end of the curve between two boxes (see :func:`curve`)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy) or 1.0
    bow = (1 if index % 2 else -1) * min(60.0, 0.15 * length)
    cx, cy = (a[0] + b[0]) / 2 - dy / length * bow, (a[1] + b[1]) / 2 + dx / length * bow
    return border(a, (cx, cy)), (cx, cy), border(b, (cx, cy))


def curve(a: Box, b: Box, index: int) -> tuple[str, float, float]:
    """A quadratic curve between two boxes' borders, bowed (alternately) so parallel ones part.

    Returns the path and the point halfway along it (where the label goes when nothing is in the way).
    """
    start, (cx, cy), end = _bezier(a, b, index)
    path = f"M{num(start[0])} {num(start[1])} Q{num(cx)} {num(cy)} {num(end[0])} {num(end[1])}"
    return path, (start[0] + 2 * cx + end[0]) / 4, (start[1] + 2 * cy + end[1]) / 4


def curve_point(a: Box, b: Box, index: int, t: float) -> tuple[float, float]:
    """The point at ``t`` (0 at ``a``, 1 at ``b``) along the curve :func:`curve` draws."""
    start, control, end = _bezier(a, b, index)
    u = 1 - t
    return (
        u * u * start[0] + 2 * u * t * control[0] + t * t * end[0],
        u * u * start[1] + 2 * u * t * control[1] + t * t * end[1],
    )


# -- drawing ----------------------------------------------------------------------------------
def _vpc_title(vpc: VpcNode, edges: Sequence[Edge]) -> str:
    lines = [
        f"{vpc.name or '(no Name tag)'} {vpc.id}",
        f"account {vpc.account}, {vpc.region}" + ("" if vpc.observed else " (known through a peering connection)"),
        "CIDRs: " + (", ".join(vpc.cidrs) or "unknown"),
    ]
    if vpc.observed:
        lines.append(f"flow logs: {vpc.flow_logs}" + (" (peerkeeper:ignore)" if vpc.ignored else ""))
    for table in vpc.tables:
        lines.append(f"{table.id}: {len(table.routes)} routes" + (" (ignored)" if table.ignored else ""))
        lines += [f"  prefix list {route}" for route in table.prefix_list_routes]
        lines += [f"  missing {m.destination} via {m.peering}" for m in table.missing]
        lines += [f"  conflict: {c}" for c in table.conflicts]
    lines += [f"{edge.label}" for edge in edges]
    return "\n".join(lines)


def _card(
    vpc: VpcNode, origin: tuple[float, float], size: tuple[float, float], density: Density, edges: Sequence[Edge]
) -> str:
    x, y = origin
    w, h = size
    drift = any(edge.drift for edge in edges)
    classes = ["card"] + (["stub"] if not vpc.observed else []) + (["ignored"] if vpc.ignored else [])
    classes += ["drift"] if drift else []
    name = vpc.name or ("(no Name tag)" if vpc.observed else f"account {vpc.account}")
    cidrs = ", ".join(vpc.cidrs) or "CIDRs unknown"
    parts = [
        f'<g class="{" ".join(classes)}" id="c-{esc(vpc.id)}" data-vpc="{esc(vpc.id)}" '
        f'transform="translate({num(x)},{num(y)})">',
        f"<title>{esc(_vpc_title(vpc, edges))}</title>",
        f'<rect width="{num(w)}" height="{num(h)}" rx="7"/>',
        f'<text class="n{"" if vpc.name else " dim"}" x="10" y="18">{esc(clip(name, density.chars - 4))}</text>',
        f'<text class="i" x="10" y="34">{esc(vpc.id)}</text>',
        f'<text class="i" x="10" y="49">{esc(clip(cidrs, density.chars))}</text>',
    ]
    badge = {FLOW_ON: ("fl-on", "FL"), FLOW_MISSING: ("fl-missing", "FL ✗"), FLOW_IGNORED: ("fl-off", "ign")}
    if vpc.observed:
        css, label = badge.get(vpc.flow_logs, ("fl-off", "FL ?"))
        parts.append(f'<g class="{css}" transform="translate({num(w - 38)},6)"><rect width="32" height="15" rx="7"/>')
        parts.append(f'<text x="16" y="11">{label}</text></g>')
    line_y = density.card_h + 4
    for table in vpc.tables:
        text = clip(f"{table.id} · {len(table.routes)} routes", density.chars)
        parts.append(f'<text class="t" x="10" y="{line_y}">{esc(text)}</text>')
        line_y += DETAIL_LINE
        for missing in table.missing:
            text = f"+ {missing.destination} → {missing.peering}"
            parts.append(f'<text class="t miss" x="16" y="{line_y}">{esc(clip(text, density.chars))}</text>')
            line_y += DETAIL_LINE
        for conflict in table.conflicts:
            parts.append(f'<text class="t conf" x="16" y="{line_y}">{esc(clip("! " + conflict, density.chars))}</text>')
            line_y += DETAIL_LINE
    parts.append("</g>")
    return "".join(parts)


def _frame(frame: Frame, drifted: set[str]) -> str:
    parts = [
        f'<g class="frame" id="{frame.id}" transform="translate({num(frame.x)},{num(frame.y)})">',
        f'<rect class="frame-bg" width="{num(frame.width)}" height="{num(frame.height)}" rx="10"/>',
        f'<text class="frame-title" x="{FRAME_PAD}" y="20">account {esc(frame.account)}</text>',
    ]
    for panel in frame.panels:
        group = panel.group
        count = len(group.vpcs)
        summary = f"{group.region} · {count} VPC{'s' if count != 1 else ''}"
        parts += [
            f'<g class="panel{" drift" if panel.id in drifted else ""}" id="{panel.id}" '
            f'transform="translate({num(FRAME_PAD + panel.x)},{num(FRAME_HEAD + panel.y)})">',
            f'<rect class="panel-bg" width="{num(panel.width)}" height="{num(panel.height)}" rx="8"/>',
            f'<g class="panel-head" data-panel="{panel.id}">',
            f"<title>click to collapse or expand {esc(group.key)}</title>",
            f'<rect width="{num(panel.width)}" height="{PANEL_HEAD}" rx="8"/>',
            f'<text x="{PANEL_PAD}" y="17"><tspan class="tw">▾</tspan> {esc(summary)}</text></g>',
            "</g>",
        ]
    parts.append("</g>")
    return "".join(parts)


Rect = tuple[float, float, float, float]  # left, top, right, bottom


@dataclass(frozen=True)
class Room:
    """Where labels may go: clear of ``obstacles``, and never across a ``container``'s edge.

    Obstacles are the cards, the account and region headers, and the labels already placed;
    containers are the account frames and region panels, so that a label sits wholly inside the
    frame (and panel) where its point on the curve is, or wholly outside every frame: never across
    another account's frame or header.
    """

    obstacles: list[Rect]
    containers: tuple[Rect, ...]
    canvas: Rect  # the picture: a label outside it would be cut off


# Where along a curve a label may sit, best first: its middle, then towards either end.
LABEL_SPOTS = (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8)
LABEL_STEPS = (0, *(sign * n for n in range(1, 9) for sign in (1, -1)))  # vertical nudges of 13px, up to 104px
LABEL_MARGIN = 4  # between a label and the edge of its frame or panel
LABEL_CLEARANCE = 4  # around a label's estimated box: a browser's font may draw a little larger


def room(frames: Sequence[Frame], centres: dict[str, Box], width: float, height: float) -> Room:
    obstacles = [(x - hw, y - hh, x + hw, y + hh) for x, y, hw, hh in centres.values()]
    containers: list[Rect] = []
    for frame in frames:
        containers.append((frame.x, frame.y, frame.x + frame.width, frame.y + frame.height))
        obstacles.append((frame.x, frame.y, frame.x + frame.width, frame.y + FRAME_HEAD))
        for panel in frame.panels:
            left, top = frame.x + FRAME_PAD + panel.x, frame.y + FRAME_HEAD + panel.y
            containers.append((left, top, left + panel.width, top + panel.height))
            obstacles.append((left, top, left + panel.width, top + PANEL_HEAD))
    return Room(obstacles, tuple(containers), (0.0, 0.0, width, height))


def _inside(rect: Rect, outer: Rect) -> bool:
    return outer[0] <= rect[0] and rect[2] <= outer[2] and outer[1] <= rect[1] and rect[3] <= outer[3]


def _apart(rect: Rect, other: Rect) -> bool:
    return rect[2] <= other[0] or other[2] <= rect[0] or rect[3] <= other[1] or other[3] <= rect[1]


def _fits(rect: Rect, space: Room) -> bool:
    return (
        _inside(rect, space.canvas)
        and all(_inside(rect, c) or _apart(rect, c) for c in space.containers)
        and all(_apart(rect, o) for o in space.obstacles)
    )


def _slides(x: float, y: float, size: tuple[float, float], containers: Sequence[Rect]) -> list[float]:
    """``x``, then ``x`` moved (the least) into each frame or panel tall enough to hold the label at ``y``."""
    hw, hh = size[0] / 2, size[1] / 2
    moved = {x}
    for left, top, right, bottom in containers:
        low, high = left + LABEL_MARGIN + hw, right - LABEL_MARGIN - hw
        if low <= high and top <= y - hh and y + hh <= bottom:
            moved.add(min(max(x, low), high))
    return sorted(moved, key=lambda candidate: (abs(candidate - x), candidate))


def place_label(a: Box, b: Box, index: int, size: tuple[float, float], space: Room) -> tuple[float, float]:
    """The first spot along the curve (nudged up or down, then sideways into a frame) where the label fits.

    Falls back to the curve's middle when nothing fits (a crowded picture): the label is still drawn.
    """
    hw, hh = size[0] / 2 + LABEL_CLEARANCE, size[1] / 2 + LABEL_CLEARANCE
    for t in LABEL_SPOTS:
        px, py = curve_point(a, b, index, t)
        for step in LABEL_STEPS:
            y = py + step * 13
            for x in _slides(px, y, (2 * hw, 2 * hh), space.containers):
                if _fits((x - hw, y - hh, x + hw, y + hh), space):
                    return x, y
    return curve_point(a, b, index, 0.5)


def _edges(picture: Picture, centres: dict[str, Box], space: Room) -> tuple[list[str], list[str]]:
    """The curves, and their labels placed (greedily, in order) clear of the cards, the headers and each other."""
    paths: list[str] = []
    labels: list[str] = []
    label_all = len(picture.edges) <= LABEL_ALL_EDGES
    for index, edge in enumerate(picture.edges):
        a, b = centres.get(edge.requester), centres.get(edge.accepter)
        if a is None or b is None:
            continue
        path, _, _ = curve(a, b, index)
        data = f'data-a="{esc(edge.requester)}" data-b="{esc(edge.accepter)}" data-i="{index}"'
        paths.append(
            f'<path class="edge k-{edge.kind}" id="e-{esc(edge.id)}" {data} d="{path}">'
            f"<title>{esc(chr(10).join(edge.details()))}</title></path>"
        )
        # A declared pair has no connection ID yet: its label is the status and marks (the hover names the VPCs).
        lines = [*edge.heading[:-1], " · ".join((edge.status, *edge.marks))] if label_all else [" · ".join(edge.marks)]
        if any(lines):
            size = (max(len(line) for line in lines) * 6.3 + 6, len(lines) * 12.5 + 2)
            lx, ly = place_label(a, b, index, size, space)
            space.obstacles.append((lx - size[0] / 2, ly - size[1] / 2, lx + size[0] / 2, ly + size[1] / 2))
            spans = "".join(
                f'<tspan x="0" dy="{num(1.15 if n else 0.55 - 0.6 * len(lines))}em">{esc(line)}</tspan>'
                for n, line in enumerate(lines)
            )
            labels.append(
                f'<text class="elabel k-{edge.kind}" id="l-{esc(edge.id)}" {data} '
                f'transform="translate({num(lx)},{num(ly)})">'
                f"<title>{esc(chr(10).join(edge.details()))}</title>{spans}</text>"
            )
    return paths, labels


def svg(picture: Picture) -> tuple[str, dict[str, object]]:
    """The picture as inline SVG, and the layout data the script needs to collapse panels."""
    density = COMPACT if len(picture.vpcs) > 24 else COMFORTABLE
    if picture.detail:  # room for "+ 2600:1f18:abcd:ef00::/56 → pcx-0123456789abcdef0"
        density = replace(density, card_w=density.card_w + 90, chars=density.chars + 14)
    frames, width, height = layout(picture, density)
    centres: dict[str, Box] = {}
    cards: list[str] = []
    card_data: dict[str, list[object]] = {}
    for frame in frames:
        for panel in frame.panels:
            for index, vpc in enumerate(panel.group.vpcs):
                origin = card_origin(frame, panel, index, density)
                size = (density.card_w, panel.card_h)
                centres[vpc.id] = (origin[0] + size[0] / 2, origin[1] + size[1] / 2, size[0] / 2, size[1] / 2)
                cards.append(_card(vpc, origin, size, density, picture.edges_of(vpc.id)))
                card_data[vpc.id] = [panel.id, index % panel.cols, index // panel.cols]
    paths, labels = _edges(picture, centres, room(frames, centres, width, height))
    drifted = {panel.id for frame in frames for panel in frame.panels if _drift(picture, panel)}
    body = [
        f'<svg id="map" class="{"many" if len(picture.edges) > LABEL_ALL_EDGES else "few"}" '
        f'width="{num(width)}" height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}" '
        'role="img" aria-label="VPCs and peering connections">',
        f"<defs>{_markers()}</defs>",
        '<g id="frames">',
        *(_frame(frame, drifted) for frame in frames),
        '</g><g id="edges">',
        *paths,
        '</g><g id="cards">',
        *cards,
        '</g><g id="labels">',
        *labels,
        "</g></svg>",
    ]
    data: dict[str, object] = {
        "maxWidth": MAX_WIDTH,
        "gap": GAP,
        "gapX": density.gap_x,
        "gapY": density.gap_y,
        "framePad": FRAME_PAD,
        "frameHead": FRAME_HEAD,
        "panelPad": PANEL_PAD,
        "panelHead": PANEL_HEAD,
        "cardW": density.card_w,
        "labelAll": len(picture.edges) <= LABEL_ALL_EDGES,
        "frames": [{"id": f.id, "panels": [p.id for p in f.panels]} for f in frames],
        "panels": {
            p.id: {"w": p.width, "h": p.height, "hc": p.collapsed_height, "cardH": p.card_h, "drift": p.id in drifted}
            for f in frames
            for p in f.panels
        },
        "cards": card_data,
    }
    return "\n".join(body), data


def _markers() -> str:
    """One arrowhead per line style: requester -> accepter."""
    return "".join(
        f'<marker id="m-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="11" markerHeight="11" '
        f'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="{colour}"/></marker>'
        for kind, colour in EDGE_COLOURS.items()
    )


def _drift(picture: Picture, panel: Panel) -> bool:
    ids = {vpc.id for vpc in panel.group.vpcs}
    return any(edge.drift and {edge.requester, edge.accepter} & ids for edge in picture.edges) or any(
        vpc.flow_logs == FLOW_MISSING for vpc in panel.group.vpcs
    )


# -- the page ---------------------------------------------------------------------------------
def _legend() -> str:
    rows = []
    for kind, text in LEGEND:
        colour = EDGE_COLOURS[kind]
        dash = "" if kind == "ok" else ' stroke-dasharray="6 4"'
        rows.append(
            f'<li><svg width="36" height="10"><line x1="0" y1="5" x2="36" y2="5" stroke="{colour}" '
            f'stroke-width="2.5"{dash}/></svg>{esc(text)}</li>'
        )
    rows += [
        '<li><span class="sw card-sw"></span>VPC (Name tag, ID, CIDRs)</li>',
        '<li><span class="sw stub-sw"></span>VPC known only through a connection</li>',
        '<li><span class="pill fl-on">FL</span> flow log on <span class="pill fl-missing">FL ✗</span> missing</li>',
    ]
    return '<ul class="legend">' + "".join(rows) + "</ul>"


def _actions(picture: Picture) -> str:
    if not picture.actions:
        return '<p class="ok">No action: every concern is in sync.</p>'
    by_concern: dict[str, list[str]] = {}
    for action in picture.actions:
        by_concern.setdefault(action.concern, []).append(
            f"<li><b>{esc(action.kind)}</b> <code>{esc(action.resource)}</code> "
            f'<span class="dim">{esc(action.region)}</span><br>{esc(action.reason)}</li>'
        )
    parts = []
    for concern, items in by_concern.items():
        opened = " open" if len(items) <= 40 else ""
        parts.append(
            f"<details{opened}><summary>{esc(concern)} · {len(items)}</summary><ul>{''.join(items)}</ul></details>"
        )
    return "".join(parts)


def _findings(picture: Picture) -> str:
    if not picture.findings:
        return '<p class="dim">Nothing refused, no conflict, no problem.</p>'
    items = [
        f'<li><span class="tag t-{esc(f.kind)}">{esc(f.kind)}</span> <code>{esc(f.resource)}</code> '
        f'<span class="dim">{esc(f.concern)}, {esc(f.region)}</span><br>{esc(f.reason)}</li>'
        for f in picture.findings
    ]
    return f"<ul>{''.join(items)}</ul>"


def _summary(picture: Picture) -> str:
    missing = sum(len(edge.missing) for edge in picture.edges)
    refused = sum(1 for edge in picture.edges if edge.refused)
    conflicts = sum(len(edge.conflicts) for edge in picture.edges)
    parts = [_count(len(picture.vpcs), "VPC"), _count(len(picture.edges), "peering connection")]
    parts += [f"{_count(missing, 'route')} missing"] if missing else []
    parts += [f"{refused} refused"] if refused else []
    parts += [_count(conflicts, "route conflict")] if conflicts else []
    parts.append(_count(len(picture.actions), "planned action"))
    return " · ".join(parts)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def render(picture: Picture) -> str:
    drawing, data = svg(picture)
    accounts = ", ".join(picture.accounts) or "?"
    regions = ", ".join(picture.regions) or "?"
    errors = "".join(f'<p class="error">error: {esc(error)}</p>' for error in picture.errors)
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>peerkeeper graph · {esc(accounts)} · {esc(regions)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        '<main id="picture">',
        '<div class="bar"><b>peerkeeper graph</b>',
        f'<span class="dim">account {esc(accounts)} · {esc(regions)}</span>',
        '<button id="collapse">collapse groups without drift</button><button id="expand">expand all</button>',
        '<button id="zoom-out">&minus;</button><button id="zoom-fit">fit</button><button id="zoom-in">+</button></div>',
        f'<div id="canvas">{drawing}</div></main>',
        "<aside><h1>Network and drift</h1>",
        f'<p class="summary">{esc(_summary(picture))}</p>{errors}',
        f"<h2>Legend</h2>{_legend()}",
        f"<h2>Plan ({_count(len(picture.actions), 'action')})</h2>{_actions(picture)}",
        f"<h2>Not changed by peerkeeper</h2>{_findings(picture)}",
        "</aside>",
        f'<script type="application/json" id="layout">{_json(data)}</script>',
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(page) + "\n"


def _json(data: dict[str, object]) -> str:
    # "</" cannot end the script element early once escaped.
    return json.dumps(data, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")


_STYLE = """
*{box-sizing:border-box}
body{margin:0;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#0f172a;
background:#f1f5f9;display:grid;grid-template-columns:minmax(0,1fr) 380px;height:100vh;overflow:hidden}
main{display:flex;flex-direction:column;min-width:0}
.bar{display:flex;gap:8px;align-items:center;padding:8px 12px;background:#0f172a;color:#e2e8f0}
.bar .dim{color:#94a3b8;margin-right:auto}
button{font:inherit;font-size:12px;border:1px solid #475569;background:#1e293b;color:#e2e8f0;border-radius:5px;
padding:2px 8px;cursor:pointer}
#canvas{overflow:auto;flex:1;padding:14px}
aside{overflow:auto;background:#fff;border-left:1px solid #cbd5e1;padding:12px 16px}
h1{font-size:17px;margin:4px 0}h2{font-size:14px;margin:16px 0 6px;border-bottom:1px solid #e2e8f0}
aside ul{list-style:none;padding:0;margin:0}aside li{margin:0 0 7px}
code{font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f5f9;padding:0 3px;border-radius:3px}
.summary{color:#334155}.dim{color:#64748b}.ok{color:#15803d}.error{color:#b91c1c;font-weight:600}
details summary{cursor:pointer;font-weight:600;margin:4px 0}
.legend li{display:flex;align-items:center;gap:8px}
.sw{display:inline-block;width:30px;height:14px;border-radius:4px}
.card-sw{background:#fff;border:1.5px solid #334155}.stub-sw{background:#f1f5f9;border:1.5px dashed #94a3b8}
.pill{font-size:10px;font-weight:700;border-radius:7px;padding:0 5px;color:#fff}
.pill.fl-on{background:#16a34a}.pill.fl-missing{background:#dc2626}
.tag{font-size:10px;font-weight:700;border-radius:3px;padding:0 4px;color:#fff;background:#64748b}
.t-refused{background:#dc2626}.t-conflict{background:#c026d3}.t-problem{background:#b45309}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.frame-bg{fill:#e2e8f0;stroke:#94a3b8}.frame-title{font-weight:700;font-size:13px;fill:#1e293b}
.panel-bg{fill:#f8fafc;stroke:#cbd5e1}.panel-head{cursor:pointer}.panel-head rect{fill:#cbd5e1}
.panel-head text{font-size:12px;font-weight:600;fill:#0f172a}
.panel.drift .panel-head rect{fill:#fed7aa}
.card rect{fill:#fff;stroke:#334155;stroke-width:1.2}.card.drift>rect{stroke:#ea580c;stroke-width:2}
.card.stub>rect{fill:#f1f5f9;stroke:#94a3b8;stroke-dasharray:5 3}.card.ignored>rect{stroke-dasharray:2 2;fill:#f8fafc}
.card .n{font-size:12px;font-weight:700;fill:#0f172a}.card .n.dim{font-weight:400;font-style:italic;fill:#64748b}
.card .i{font:10.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#334155}
.card .t{font:10px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#475569}
.card .t.miss{fill:#dc2626;font-weight:700}.card .t.conf{fill:#c026d3}
.card g rect{stroke:none}.fl-on rect{fill:#16a34a}.fl-missing rect{fill:#dc2626}.fl-off rect{fill:#94a3b8}
.card g text{font-size:9.5px;font-weight:700;fill:#fff;text-anchor:middle}
.edge{fill:none;stroke-width:1.6;opacity:.8}
.k-ok.edge{marker-end:url(#m-ok)}.k-missing.edge{marker-end:url(#m-missing)}.k-refused.edge{marker-end:url(#m-refused)}
.k-conflict.edge{marker-end:url(#m-conflict)}.k-planned.edge{marker-end:url(#m-planned)}
.k-other.edge{marker-end:url(#m-other)}.k-declared.edge{stroke:#0891b2;stroke-width:2.2;stroke-dasharray:1 5}
.k-ok.edge{stroke:#16a34a}.k-missing.edge{stroke:#ea580c;stroke-width:2.6;stroke-dasharray:7 4;opacity:.95}
.k-refused.edge{stroke:#dc2626;stroke-width:2.6;stroke-dasharray:4 3;opacity:.95}
.k-conflict.edge{stroke:#c026d3;stroke-width:2.6;stroke-dasharray:7 4;opacity:.95}
.k-planned.edge{stroke:#2563eb;stroke-width:2.2;stroke-dasharray:7 4}.k-other.edge{stroke:#64748b;stroke-dasharray:2 4}
.elabel{font-size:10.5px;font-weight:700;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:3.5px;
stroke-linejoin:round}
.elabel.k-ok{fill:#166534;font-weight:500}.elabel.k-missing{fill:#9a3412}.elabel.k-refused{fill:#991b1b}
.elabel.k-conflict{fill:#86198f}.elabel.k-planned{fill:#1e40af}.elabel.k-other{fill:#475569;font-weight:500}
.many .k-ok.edge{opacity:.4;stroke-width:1.2}
#map.focus .edge,#map.focus .elabel{opacity:.12}#map.focus .edge.hl{opacity:1;stroke-width:3.5}
#map.focus .elabel.hl{opacity:1}
.hidden{display:none}
"""

_SCRIPT = """
(function(){
"use strict";
var D=JSON.parse(document.getElementById("layout").textContent);
var svg=document.getElementById("map"),collapsed={},zoom=1,autoFit=false,placed={};
svg.querySelectorAll(".elabel").forEach(function(l){placed[l.id]=l.getAttribute("transform");});
function flow(sizes,maxw,gap){var x=0,y=0,row=0,w=0,pos=[];
 sizes.forEach(function(s){if(x>0&&x+s[0]>maxw){x=0;y+=row+gap;row=0;}pos.push([x,y]);x+=s[0]+gap;
 row=Math.max(row,s[1]);w=Math.max(w,x-gap);});return {pos:pos,w:w,h:y+row};}
function border(box,t){var dx=t[0]-box[0],dy=t[1]-box[1],
 s=Math.min(dx?box[2]/Math.abs(dx):Infinity,dy?box[3]/Math.abs(dy):Infinity);
 if(s>=1)return [box[0],box[1]];s+=3/Math.hypot(dx,dy);return [box[0]+dx*s,box[1]+dy*s];}
function curve(a,b,i){var dx=b[0]-a[0],dy=b[1]-a[1],len=Math.hypot(dx,dy)||1,
 bow=(i%2?1:-1)*Math.min(60,0.15*len),cx=(a[0]+b[0])/2-dy/len*bow,cy=(a[1]+b[1])/2+dx/len*bow,
 s=border(a,[cx,cy]),e=border(b,[cx,cy]);
 return {d:"M"+s[0]+" "+s[1]+" Q"+cx+" "+cy+" "+e[0]+" "+e[1],x:(s[0]+2*cx+e[0])/4,y:(s[1]+2*cy+e[1])/4};}
function relayout(){
 var frames=D.frames.map(function(f){
  var r=flow(f.panels.map(function(id){var p=D.panels[id];return [p.w,collapsed[id]?p.hc:p.h];}),
   D.maxWidth-2*D.framePad,D.gap);
  return {f:f,r:r,w:r.w+2*D.framePad,h:D.frameHead+r.h+D.framePad};});
 var top=flow(frames.map(function(x){return [x.w,x.h];}),D.maxWidth,D.gap),panelAt={};
 frames.forEach(function(x,i){var fx=top.pos[i][0],fy=top.pos[i][1],g=document.getElementById(x.f.id);
  g.setAttribute("transform","translate("+fx+","+fy+")");
  g.querySelector(".frame-bg").setAttribute("height",x.h);
  x.f.panels.forEach(function(id,j){var px=fx+D.framePad+x.r.pos[j][0],py=fy+D.frameHead+x.r.pos[j][1],
   p=D.panels[id],pg=document.getElementById(id);panelAt[id]=[px,py];
   pg.setAttribute("transform","translate("+(px-fx)+","+(py-fy)+")");
   pg.querySelector(".panel-bg").setAttribute("height",collapsed[id]?p.hc:p.h);
   pg.querySelector(".tw").textContent=collapsed[id]?"▸":"▾";});});
 var centre={},none=!Object.keys(collapsed).some(function(id){return collapsed[id];});
 Object.keys(D.cards).forEach(function(vpc){var c=D.cards[vpc],p=D.panels[c[0]],at=panelAt[c[0]],
  g=document.getElementById("c-"+vpc);
  if(collapsed[c[0]]){g.classList.add("hidden");
   centre[vpc]=[at[0]+p.w/2,at[1]+D.panelHead/2,p.w/2,D.panelHead/2];return;}
  g.classList.remove("hidden");
  var x=at[0]+D.panelPad+c[1]*(D.cardW+D.gapX),y=at[1]+D.panelHead+D.panelPad+c[2]*(p.cardH+D.gapY);
  g.setAttribute("transform","translate("+x+","+y+")");centre[vpc]=[x+D.cardW/2,y+p.cardH/2,D.cardW/2,p.cardH/2];});
 svg.querySelectorAll(".edge").forEach(function(e){
  var a=centre[e.dataset.a],b=centre[e.dataset.b],l=document.getElementById("l-"+e.id.slice(2));
  var same=D.cards[e.dataset.a]&&D.cards[e.dataset.b]&&D.cards[e.dataset.a][0]===D.cards[e.dataset.b][0]&&
   collapsed[D.cards[e.dataset.a][0]];
  e.classList.toggle("hidden",!!same);if(l)l.classList.toggle("hidden",!!same);
  if(!a||!b||same)return;var c=curve(a,b,+e.dataset.i);e.setAttribute("d",c.d);
  if(l)l.setAttribute("transform",none?placed[l.id]:"translate("+c.x+","+c.y+")");});
 svg.setAttribute("width",top.w);svg.setAttribute("height",top.h);
 svg.setAttribute("viewBox","0 0 "+top.w+" "+top.h);if(autoFit)fit();else applyZoom();}
function applyZoom(){var w=+svg.getAttribute("width"),h=+svg.getAttribute("height");
 svg.style.width=(w*zoom)+"px";svg.style.height=(h*zoom)+"px";}
svg.querySelectorAll(".panel-head").forEach(function(h){h.addEventListener("click",function(){
 var id=h.dataset.panel;collapsed[id]=!collapsed[id];relayout();});});
document.getElementById("collapse").onclick=function(){Object.keys(D.panels).forEach(function(id){
 collapsed[id]=!D.panels[id].drift;});relayout();};
document.getElementById("expand").onclick=function(){collapsed={};relayout();};
function fit(){var box=document.getElementById("canvas");
 zoom=Math.max(0.6,Math.min(1,(box.clientWidth-28)/(+svg.getAttribute("width"))));applyZoom();}
document.getElementById("zoom-in").onclick=function(){autoFit=false;zoom=Math.min(zoom*1.25,4);applyZoom();};
document.getElementById("zoom-out").onclick=function(){autoFit=false;zoom=Math.max(zoom/1.25,0.1);applyZoom();};
document.getElementById("zoom-fit").onclick=function(){autoFit=true;fit();};
if(+svg.getAttribute("width")>document.getElementById("canvas").clientWidth-28){autoFit=true;fit();}
svg.querySelectorAll(".card").forEach(function(c){var id=c.dataset.vpc;
 c.addEventListener("mouseenter",function(){svg.classList.add("focus");
  svg.querySelectorAll("[data-a='"+id+"'],[data-b='"+id+"']").forEach(function(e){e.classList.add("hl");});});
 c.addEventListener("mouseleave",function(){svg.classList.remove("focus");
  svg.querySelectorAll(".hl").forEach(function(e){e.classList.remove("hl");});});});
if(location.hash==="#collapse")document.getElementById("collapse").onclick();
document.body.setAttribute("data-ready","yes");
})();
"""
