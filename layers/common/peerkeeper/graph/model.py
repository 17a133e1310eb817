"""The picture's model: VPCs, peering connections and their drift, from what ``plan`` saw and decided.

Pure: :func:`build` takes the plans of a dry run and the inventory they were made from (plain
values) and returns a :class:`Picture`; it makes no AWS call. The renderers draw a ``Picture``.

- A VPC is a node, grouped by account and region. A VPC that only a peering connection tells us
  about (another account's, or one in a region not looked at) is drawn too, marked ``observed=False``,
  with the CIDRs the connection reports.
- A peering connection is an edge, requester to accepter. Its drift is what the plan says about it:
  the routes ``repair_routes`` would create or replace (``N missing``), the refusal ``accept_peering``
  reported (``refused``), the route conflicts naming it, and the accept/reject it would do.
- A VPC's flow-log state comes from the ``flow_logs`` plan: ``missing`` when it would create one,
  ``on`` when that plan looked at the VPC and planned nothing, ``ignored``, or ``unknown``.

Everything is sorted, so the same world gives the same picture, byte for byte.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from peerkeeper.model import Action, Finding, Peering, PeeringSide, Plan, RouteTable, Vpc

ROUTE_ACTIONS = ("create-route", "replace-route")
# Gone for good: DescribeVpcPeeringConnections still lists them for a while, the picture does not.
GONE_STATUSES = frozenset({"deleted", "rejected", "expired"})
FLOW_ON, FLOW_MISSING, FLOW_IGNORED, FLOW_UNKNOWN = "on", "missing", "ignored", "unknown"
CONCERN_ORDER = ("peering", "routes", "dns", "flow_logs")
FINDING_KINDS = (("refused", "refused"), ("conflicts", "conflict"), ("problems", "problem"))


@dataclass(frozen=True)
class Observed:
    """What one dry-run plan of one account and region saw (its inventory) and decided (its plans)."""

    account_id: str
    region: str
    plans: tuple[Plan, ...]
    vpcs: tuple[Vpc, ...] = ()
    tables: tuple[RouteTable, ...] = ()
    peerings: tuple[Peering, ...] = ()


@dataclass(frozen=True)
class MissingRoute:
    table: str
    destination: str
    peering: str
    replace: bool = False  # a dead route to replace rather than no route at all

    def text(self) -> str:
        verb = "dead route to replace" if self.replace else "missing"
        return f"{self.table}: {self.destination} via {self.peering} ({verb})"


@dataclass(frozen=True)
class TableView:
    """One route table of a VPC, for ``--detail tables``."""

    id: str
    routes: tuple[str, ...]  # "destination → target"
    missing: tuple[MissingRoute, ...] = ()
    conflicts: tuple[str, ...] = ()
    ignored: bool = False

    @property
    def prefix_list_routes(self) -> tuple[str, ...]:
        """Routes to a managed prefix list ("pl-… → target"): aggregates that guard the table."""
        return tuple(route for route in self.routes if route.startswith("pl-"))


@dataclass(frozen=True)
class VpcNode:
    id: str
    name: str
    account: str
    region: str
    cidrs: tuple[str, ...]  # IPv4, then IPv6
    flow_logs: str = FLOW_UNKNOWN
    ignored: bool = False
    observed: bool = True  # False: known only through a peering connection
    tables: tuple[TableView, ...] = ()

    @property
    def title(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class Edge:
    """One peering connection, requester -> accepter, with what the plan says about it."""

    id: str
    status: str
    requester: str  # VPC ids
    accepter: str
    requester_account: str = ""
    accepter_account: str = ""
    requester_region: str = ""
    accepter_region: str = ""
    missing: tuple[MissingRoute, ...] = ()
    refused: str = ""  # the refusal's reason
    conflicts: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    planned: tuple[str, ...] = ()  # accept-peering / reject-peering
    ignored: bool = False
    # graph --intent: a pair a network declares that no connection satisfies (the network's name),
    # and the intent code of the pair when infeasible, or of a connection that breaks the file.
    declared: str = ""
    intent_code: str = ""

    @property
    def cross_region(self) -> bool:
        return self.requester_region != self.accepter_region

    @property
    def cross_account(self) -> bool:
        return self.requester_account != self.accepter_account

    @property
    def drift(self) -> bool:
        return bool(self.missing or self.refused or self.conflicts or self.planned or self.declared or self.intent_code)

    @property
    def marks(self) -> tuple[str, ...]:
        """The short drift labels: ``3 missing``, ``refused``, ``1 conflict``, ``will accept``."""
        marks: list[str] = []
        if self.declared:
            marks.append(f"declared by {self.declared}")
        if self.intent_code:
            marks.append(self.intent_code)
        if self.missing:
            marks.append(f"{len(self.missing)} missing")
        if self.refused:
            marks.append("refused")
        if self.conflicts:
            marks.append(f"{len(self.conflicts)} conflict" + ("s" if len(self.conflicts) > 1 else ""))
        marks += [f"will {kind.split('-', 1)[0]}" for kind in self.planned]
        if self.ignored:
            marks.append("ignored")
        return tuple(marks)

    @property
    def explained_marks(self) -> tuple[str, ...]:
        """The marks, the refusal with its reason (``refused: requester account … is not allowed``)."""
        return tuple(f"refused: {self.refused}" if mark == "refused" else mark for mark in self.marks)

    @property
    def label(self) -> str:
        return " · ".join((*self.heading, *self.marks))

    @property
    def heading(self) -> tuple[str, ...]:
        """The label's first words: the connection and its status (a declared pair has neither yet)."""
        return (self.status,) if self.declared else (self.id, self.status)

    @property
    def kind(self) -> str:
        """The legend's line style: ``declared``, ``refused``, ``conflict``, ``missing``, ``planned``, ``ok``,
        ``other``."""
        if self.declared:
            return "declared"
        if self.refused or self.intent_code:
            return "refused"
        if self.conflicts:
            return "conflict"
        if self.missing:
            return "missing"
        if self.planned:
            return "planned"
        return "ok" if self.status == "active" else "other"

    def details(self) -> tuple[str, ...]:
        """Hover text, one line each."""
        if self.declared:
            code = f": {self.intent_code}" if self.intent_code else ""
            return (f"declared by {self.declared}{code}", f"{self.requester} <-> {self.accepter}")
        lines = [
            f"{self.id} ({self.status})",
            f"requester {self.requester} (account {self.requester_account}, {self.requester_region})",
            f"accepter {self.accepter} (account {self.accepter_account}, {self.accepter_region})",
        ]
        lines += [f"refused: {self.refused}"] if self.refused else []
        lines += [f"planned: {kind}" for kind in self.planned]
        lines += [f"missing route {m.text()}" for m in self.missing]
        lines += [f"conflict: {c}" for c in self.conflicts]
        lines += [f"problem: {p}" for p in self.problems]
        return tuple(lines)


@dataclass(frozen=True)
class Group:
    account: str
    region: str
    vpcs: tuple[VpcNode, ...]
    observed: bool = True  # False: every VPC of it is known only through a peering connection

    @property
    def key(self) -> str:
        return f"{self.account}/{self.region}"


@dataclass(frozen=True)
class ActionLine:
    account: str
    concern: str
    kind: str
    resource: str
    region: str
    reason: str


@dataclass(frozen=True)
class FindingLine:
    account: str
    concern: str
    kind: str  # refused / conflict / problem
    resource: str
    region: str
    reason: str


@dataclass(frozen=True)
class Picture:
    accounts: tuple[str, ...]  # the accounts looked at
    regions: tuple[str, ...]  # the regions looked at
    groups: tuple[Group, ...]
    edges: tuple[Edge, ...]
    actions: tuple[ActionLine, ...] = ()
    findings: tuple[FindingLine, ...] = ()
    detail: bool = False
    errors: tuple[str, ...] = field(default=())

    @property
    def vpcs(self) -> tuple[VpcNode, ...]:
        return tuple(vpc for group in self.groups for vpc in group.vpcs)

    def edges_of(self, vpc_id: str) -> tuple[Edge, ...]:
        return tuple(edge for edge in self.edges if vpc_id in (edge.requester, edge.accepter))


# -- build (pure) -----------------------------------------------------------------------------
def _route_missing(action: Action) -> MissingRoute | None:
    params = action.params
    destination = params.get("DestinationCidrBlock") or params.get("DestinationIpv6CidrBlock")
    peering = params.get("VpcPeeringConnectionId")
    if action.kind not in ROUTE_ACTIONS or not destination or not peering:
        return None
    table = str(params.get("RouteTableId", action.resource))
    return MissingRoute(table, str(destination), str(peering), action.kind == "replace-route")


def _plans(observed: Sequence[Observed], concern: str) -> Iterable[tuple[Observed, Plan]]:
    return ((item, plan) for item in observed for plan in item.plans if plan.concern == concern)


def _flow_log_states(observed: Sequence[Observed]) -> dict[str, str]:
    """VPC id -> flow-log state, for the VPCs a ``flow_logs`` plan looked at."""
    states: dict[str, str] = {}
    for item, plan in _plans(observed, "flow_logs"):
        if plan.problems:  # the concern could not observe: say nothing
            continue
        missing = {str(v) for action in plan.actions for v in action.params.get("ResourceIds", ())}
        for vpc in item.vpcs:
            if vpc.region != item.region or vpc.owner_id not in ("", item.account_id):
                continue
            state = FLOW_IGNORED if vpc.ignored else FLOW_MISSING if vpc.id in missing else FLOW_ON
            states.setdefault(vpc.id, state)
    return states


def _table_views(observed: Sequence[Observed], missing: Sequence[MissingRoute]) -> dict[str, tuple[TableView, ...]]:
    """VPC id -> its route tables with what is missing in each."""
    by_table: dict[str, list[MissingRoute]] = defaultdict(list)
    for route in missing:
        by_table[route.table].append(route)
    conflicts: dict[str, list[str]] = defaultdict(list)
    for _item, plan in _plans(observed, "routes"):
        for finding in plan.conflicts:
            conflicts[finding.resource].append(finding.reason)
    tables: dict[str, RouteTable] = {table.id: table for item in observed for table in item.tables}
    views: dict[str, list[TableView]] = defaultdict(list)
    for table in sorted(tables.values(), key=lambda t: t.id):
        routes = tuple(sorted(f"{route.destination} → {route.target or '?'}" for route in table.routes))
        view = TableView(
            table.id,
            routes,
            tuple(sorted(by_table.get(table.id, ()), key=lambda m: (m.destination, m.peering))),
            tuple(sorted(conflicts.get(table.id, ()))),
            table.ignored,
        )
        views[table.vpc_id].append(view)
    return {vpc_id: tuple(found) for vpc_id, found in views.items()}


def _peerings(observed: Sequence[Observed]) -> list[Peering]:
    """Each connection once: the copy seen in the accepter's region wins (its status is authoritative)."""
    chosen: dict[str, Peering] = {}
    for item in sorted(observed, key=lambda o: (o.account_id, o.region)):
        for peering in item.peerings:
            if peering.status in GONE_STATUSES:
                continue
            known = chosen.get(peering.id)
            if known is None or (peering.accepter.region == item.region and known.accepter.region != item.region):
                chosen[peering.id] = peering
    return [chosen[key] for key in sorted(chosen)]


def _findings_about(observed: Sequence[Observed]) -> dict[str, dict[str, list[str]]]:
    """Connection id -> refused / conflicts / problems reasons that name it."""
    about: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for item in observed:
        for plan in item.plans:
            for attribute, _label in FINDING_KINDS:
                for finding in getattr(plan, attribute):
                    for peering_id in _peering_ids(finding):
                        about[peering_id][attribute].append(finding.reason)
    return about


def _peering_ids(finding: Finding) -> set[str]:
    ids = {finding.resource} if finding.resource.startswith("pcx-") else set()
    wanted = finding.detail.get("wanted")
    if isinstance(wanted, str) and wanted.startswith("pcx-"):
        ids.add(wanted)
    return ids


def _edge(
    peering: Peering,
    missing: Sequence[MissingRoute],
    findings: Mapping[str, Sequence[str]],
    planned: Sequence[str],
) -> Edge:
    requester, accepter = peering.requester, peering.accepter
    return Edge(
        id=peering.id,
        status=peering.status,
        requester=requester.vpc_id,
        accepter=accepter.vpc_id,
        requester_account=requester.owner_id,
        accepter_account=accepter.owner_id,
        requester_region=requester.region,
        accepter_region=accepter.region,
        missing=tuple(sorted(missing, key=lambda m: (m.table, m.destination))),
        refused="; ".join(sorted(set(findings.get("refused", ())))),
        conflicts=tuple(sorted(set(findings.get("conflicts", ())))),
        problems=tuple(sorted(set(findings.get("problems", ())))),
        planned=tuple(sorted(set(planned))),
        ignored=peering.ignored,
    )


def _stub(side: PeeringSide) -> VpcNode:
    return VpcNode(
        id=side.vpc_id,
        name="",
        account=side.owner_id,
        region=side.region,
        cidrs=tuple(side.cidrs) + tuple(side.ipv6_cidrs),
        observed=False,
    )


def _lines(observed: Sequence[Observed]) -> tuple[tuple[ActionLine, ...], tuple[FindingLine, ...]]:
    actions: set[ActionLine] = set()
    findings: set[FindingLine] = set()
    for item in observed:
        for plan in item.plans:
            for action in plan.actions:
                actions.add(
                    ActionLine(
                        item.account_id, plan.concern, action.kind, action.resource, action.region, action.reason
                    )
                )
            for attribute, label in FINDING_KINDS:
                for finding in getattr(plan, attribute):
                    findings.add(
                        FindingLine(
                            item.account_id, plan.concern, label, finding.resource, finding.region, finding.reason
                        )
                    )

    def concern_rank(concern: str) -> int:
        return CONCERN_ORDER.index(concern) if concern in CONCERN_ORDER else len(CONCERN_ORDER)

    ordered_actions = sorted(
        actions, key=lambda a: (a.account, concern_rank(a.concern), a.region, a.kind, a.resource, a.reason)
    )
    ordered_findings = sorted(
        findings, key=lambda f: (f.account, f.kind, concern_rank(f.concern), f.region, f.resource, f.reason)
    )
    return tuple(ordered_actions), tuple(ordered_findings)


def build(observed: Sequence[Observed], *, detail: bool = False, errors: Sequence[str] = ()) -> Picture:
    """The picture of what the dry-run plans in ``observed`` saw and decided."""
    missing = [
        route
        for _item, plan in _plans(observed, "routes")
        for action in plan.actions
        if (route := _route_missing(action)) is not None
    ]
    missing_by_peering: dict[str, list[MissingRoute]] = defaultdict(list)
    for route in missing:
        missing_by_peering[route.peering].append(route)
    planned: dict[str, list[str]] = defaultdict(list)
    for _item, plan in _plans(observed, "peering"):
        for action in plan.actions:
            planned[action.resource].append(action.kind)
    findings = _findings_about(observed)
    peerings = _peerings(observed)
    edges = tuple(
        _edge(p, missing_by_peering.get(p.id, ()), findings.get(p.id, {}), planned.get(p.id, ())) for p in peerings
    )

    flow_logs = _flow_log_states(observed)
    tables = _table_views(observed, missing) if detail else {}
    nodes: dict[str, VpcNode] = {}
    for item in sorted(observed, key=lambda o: (o.account_id, o.region)):
        for vpc in item.vpcs:
            nodes.setdefault(
                vpc.id,
                VpcNode(
                    id=vpc.id,
                    name=" ".join(vpc.name.split()),  # one line in every format
                    account=vpc.owner_id or item.account_id,
                    region=vpc.region,
                    cidrs=tuple(vpc.cidrs) + tuple(vpc.ipv6_cidrs),
                    flow_logs=FLOW_IGNORED if vpc.ignored else flow_logs.get(vpc.id, FLOW_UNKNOWN),
                    ignored=vpc.ignored,
                    tables=tables.get(vpc.id, ()),
                ),
            )
    for peering in peerings:
        for side in (peering.requester, peering.accepter):
            if side.vpc_id and side.vpc_id not in nodes:
                nodes[side.vpc_id] = _stub(side)

    actions, finding_lines = _lines(observed)
    return Picture(
        accounts=tuple(sorted({item.account_id for item in observed})),
        regions=tuple(sorted({item.region for item in observed})),
        groups=_groups(nodes.values(), edges),
        edges=edges,
        actions=actions,
        findings=finding_lines,
        detail=detail,
        errors=tuple(errors),
    )


def _groups(nodes: Iterable[VpcNode], edges: Sequence[Edge]) -> tuple[Group, ...]:
    by_group: dict[tuple[str, str], list[VpcNode]] = defaultdict(list)
    for node in nodes:
        by_group[(node.account, node.region)].append(node)
    return tuple(
        Group(account, region, _connected_order(members, edges), observed=any(v.observed for v in members))
        for (account, region), members in sorted(by_group.items())
    )


def _connected_order(members: Sequence[VpcNode], edges: Sequence[Edge]) -> tuple[VpcNode, ...]:
    """VPCs peered with each other next to each other: depth-first from the best-connected one.

    Depth-first keeps a cluster (a team's prod, stage, dev and data around its tools VPC) together
    even when a hub is peered with every cluster. Ties break on name then id, so the order is
    stable; a grid laid out in this order keeps most peering lines short.
    """
    by_id = {node.id: node for node in members}
    neighbours: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        if edge.requester in by_id and edge.accepter in by_id and edge.requester != edge.accepter:
            neighbours[edge.requester].add(edge.accepter)
            neighbours[edge.accepter].add(edge.requester)

    def rank(vpc_id: str) -> tuple[int, str, str]:
        return (-len(neighbours[vpc_id]), by_id[vpc_id].name or "~", vpc_id)

    ordered: list[VpcNode] = []
    seen: set[str] = set()
    for start in sorted(by_id, key=rank):
        stack = [start]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            ordered.append(by_id[current])
            stack.extend(sorted(neighbours[current] - seen, key=rank, reverse=True))
    return tuple(ordered)


# -- graph --intent (pure) --------------------------------------------------------------------
@dataclass(frozen=True)
class DeclaredPair:
    """A pair a network file declares and no connection satisfies yet (or ever: ``code``)."""

    network: str
    first: PeeringSide
    second: PeeringSide
    state: str
    code: str = ""


def with_intent(picture: Picture, declared: Sequence[DeclaredPair], flagged: Mapping[str, str]) -> Picture:
    """``picture`` with each declared pair as a dotted edge, and ``flagged`` connections (ID -> code) marked."""
    edges = [replace(edge, intent_code=flagged[edge.id]) if edge.id in flagged else edge for edge in picture.edges]
    nodes = {vpc.id: vpc for vpc in picture.vpcs}
    for pair in sorted(declared, key=lambda p: (p.network, p.first.vpc_id, p.second.vpc_id)):
        for side in (pair.first, pair.second):
            nodes.setdefault(side.vpc_id, _stub(side))
        edges.append(
            Edge(
                id=f"{pair.network}:{pair.first.vpc_id}:{pair.second.vpc_id}",
                status=pair.state,
                requester=pair.first.vpc_id,
                accepter=pair.second.vpc_id,
                requester_account=pair.first.owner_id,
                accepter_account=pair.second.owner_id,
                requester_region=pair.first.region,
                accepter_region=pair.second.region,
                declared=pair.network,
                intent_code=pair.code,
            )
        )
    return replace(picture, edges=tuple(edges), groups=_groups(nodes.values(), edges))
