"""Plan the smallest change, and each declared pair's state (pure, no I/O).

For each feasible pair:

- no connection: request one from the VPC that sorts first by (account, region, VPC ID), tagged
  ``peerkeeper:intent`` = the network; then (once it exists) accept it in the other account;
- a connection pending acceptance: accept it, in the accepter's region, when the run reaches the
  accepter's account (else that account's own stack accepts it, if its policy allows);
- ``dns: true``: ``AllowDnsResolutionFromRemoteVpc`` on each side still without it, each side from
  its own account and region (AWS refuses a side's options from anywhere else), once active;
- routes: the route planner of :mod:`peerkeeper.routes` (the same rules, the same guardrail) over
  the pairs' connections, in every account-region of the run.

Steps that wait for something this run does first (accepting a connection not created yet, a route
to a connection not active yet) are planned as well, so ``plan`` shows the whole change, but are not
*ready*: ``apply`` runs what is ready, reads again, and goes on. Connections not declared are never
routed here (the sweep does that), and nothing is ever deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from peerkeeper import peering as peering_concern
from peerkeeper import routes
from peerkeeper.intent.model import (
    IN_SYNC,
    INFEASIBLE,
    INTENT_TAG_KEY,
    MISSING,
    PENDING,
    ROUTE_CONFLICT,
    Edge,
    IntentFinding,
    Pair,
    Verdict,
    World,
)
from peerkeeper.model import ACTIVE, INITIATING, PROVISIONING, Action, Peering, PeeringSide, Vpc
from peerkeeper.model import PENDING as PENDING_ACCEPTANCE

CREATE_PEERING = "create-peering"
ACCEPT_PEERING = peering_concern.ACCEPT
SET_PEERING_DNS = "set-peering-dns"
NEW_PREFIX = "(new "


@dataclass(frozen=True)
class Step:
    """One action, the account whose credentials make it, the pair it serves, and whether it can run now."""

    account: str
    action: Action
    pair: frozenset[str]
    ready: bool = True

    def to_dict(self) -> dict[str, object]:
        return {**self.action.to_dict(), "account": self.account, "params": dict(self.action.params)}


@dataclass(frozen=True)
class IntentPlan:
    steps: tuple[Step, ...]
    edges: tuple[Edge, ...]
    findings: tuple[IntentFinding, ...]

    @property
    def ready(self) -> list[Step]:
        return [step for step in self.steps if step.ready]


def placeholder(pair: Pair) -> str:
    """The name of a connection this plan would request (no ID until AWS gives one)."""
    return f"{NEW_PREFIX}{pair.first.id}/{pair.second.id})"


def _side(vpc: Vpc) -> PeeringSide:
    return PeeringSide(vpc.owner_id, vpc.id, vpc.region, vpc.cidrs, vpc.ipv6_cidrs)


def _request(pair: Pair) -> Step:
    first, second = pair.first, pair.second
    params = {
        "VpcId": first.id,
        "PeerVpcId": second.id,
        "PeerOwnerId": second.owner_id,
        "PeerRegion": second.region,
        "TagSpecifications": [
            {"ResourceType": "vpc-peering-connection", "Tags": [{"Key": INTENT_TAG_KEY, "Value": pair.network}]}
        ],
    }
    reason = f"{pair.network} declares {pair.label()}: no connection, requested from {first.id}"
    return Step(first.owner_id, Action(CREATE_PEERING, first.id, first.region, reason, params), pair.ids)


def _accept(pair: Pair, connection_id: str, accepter: PeeringSide, ready: bool) -> Step:
    reason = f"{pair.network} declares {pair.label()}: accept {connection_id} in {accepter.owner_id}"
    action = Action(ACCEPT_PEERING, connection_id, accepter.region, reason, {"VpcPeeringConnectionId": connection_id})
    return Step(accepter.owner_id, action, pair.ids, ready)


def _dns(pair: Pair, future: Peering, ready: bool, accounts: frozenset[str]) -> list[Step]:
    steps = []
    for key, side in (
        ("RequesterPeeringConnectionOptions", future.requester),
        ("AccepterPeeringConnectionOptions", future.accepter),
    ):
        if side.dns_resolution or side.owner_id not in accounts:
            continue
        params = {"VpcPeeringConnectionId": future.id, key: {"AllowDnsResolutionFromRemoteVpc": True}}
        reason = f"{pair.network} asks for dns: {side.vpc_id} resolves its peer's names over {future.id}"
        steps.append(
            Step(side.owner_id, Action(SET_PEERING_DNS, future.id, side.region, reason, params), pair.ids, ready)
        )
    return steps


@dataclass
class _Pairing:
    """What the plan knows of one feasible pair while it is planned."""

    verdict: Verdict
    future: Peering | None = None  # the connection as it will be once the steps before routes are done
    waits: bool = False  # true when that connection is not active yet (its later steps are not ready)
    pending: bool = False  # on its way, with nothing this run can do about it


def _connect(verdict: Verdict, accounts: frozenset[str]) -> tuple[_Pairing, list[Step]]:
    pair, connection = verdict.pair, verdict.connection
    if connection is None:
        future = Peering(placeholder(pair), ACTIVE, _side(pair.first), _side(pair.second))
        accept = _accept(pair, future.id, future.accepter, ready=False)
        return _Pairing(verdict, future, waits=True), [_request(pair), accept]
    if connection.ignored:
        return _Pairing(verdict, pending=connection.status != ACTIVE), []
    if connection.status == PENDING_ACCEPTANCE:
        if connection.accepter.owner_id not in accounts:
            return _Pairing(verdict, pending=True), []
        future = replace(connection, status=ACTIVE)
        return _Pairing(verdict, future, waits=True), [_accept(pair, connection.id, connection.accepter, ready=True)]
    if connection.status in (INITIATING, PROVISIONING):
        return _Pairing(verdict, replace(connection, status=ACTIVE), waits=True, pending=True), []
    return _Pairing(verdict, connection), []


def plan(verdicts: Sequence[Verdict], findings: Sequence[IntentFinding], world: World) -> IntentPlan:
    """The steps that make the world what the file declares, each pair's state, and every finding."""
    accounts = world.accounts
    steps: list[Step] = []
    pairings: dict[frozenset[str], _Pairing] = {}
    for verdict in verdicts:
        if not verdict.feasible:
            continue
        pairing, connect = _connect(verdict, accounts)
        pairings[verdict.pair.ids] = pairing
        steps += connect
        if pairing.future is not None and verdict.pair.dns:
            steps += _dns(verdict.pair, pairing.future, not pairing.waits, accounts)
    route_steps, conflicts = _routes(pairings, world)
    steps += route_steps
    steps_of: dict[frozenset[str], list[Step]] = defaultdict(list)
    for step in steps:
        steps_of[step.pair].append(step)
    conflicts_of: dict[frozenset[str], list[IntentFinding]] = defaultdict(list)
    for ids, finding in conflicts:
        conflicts_of[ids].append(finding)
    edges = tuple(
        _edge(verdict, pairings.get(verdict.pair.ids), steps_of[verdict.pair.ids], conflicts_of[verdict.pair.ids])
        for verdict in verdicts
    )
    found = list(findings) + [finding for _, finding in sorted(conflicts, key=lambda item: item[1].resource)]
    return IntentPlan(tuple(steps), edges, tuple(found))


def _routes(
    pairings: Mapping[frozenset[str], _Pairing], world: World
) -> tuple[list[Step], list[tuple[frozenset[str], IntentFinding]]]:
    """Routes of the pairs' connections, by :func:`peerkeeper.routes.plan`, in each account-region."""
    futures = {p.future.id: (ids, p) for ids, p in pairings.items() if p.future is not None}
    if not futures:
        return [], []
    connections = tuple(pairing.future for _, pairing in futures.values() if pairing.future is not None)
    vpcs = {vpc.id: vpc for vpc in world.vpcs}
    status = {peering.id: peering.status for peering in world.peerings}
    status.update({connection.id: ACTIVE for connection in connections})
    owners = {vpc.id: vpc.owner_id for vpc in world.vpcs}
    steps: list[Step] = []
    conflicts: list[tuple[frozenset[str], IntentFinding]] = []
    for (account, region), settings in sorted(world.policies.items()):
        route_world = routes.RouteWorld(
            peerings=connections,
            vpcs=vpcs,
            tables=tuple(t for t in world.tables if (owners.get(t.vpc_id, ""), t.region) == (account, region)),
            peering_status=status,
            regions=frozenset({region}),
            prefix_lists=world.prefix_lists,
        )
        planned = routes.plan(route_world, account, settings)
        for action in planned.actions:
            ids, pairing = futures[str(action.params["VpcPeeringConnectionId"])]
            steps.append(Step(account, action, ids, ready=not pairing.waits))
        for conflict in planned.conflicts:
            wanted = str(conflict.detail.get("wanted", ""))
            if wanted not in futures:
                continue
            ids, pairing = futures[wanted]
            finding = IntentFinding(
                ROUTE_CONFLICT,
                conflict.resource,
                conflict.reason,
                network=pairing.verdict.pair.network,
                region=conflict.region,
            )
            conflicts.append((ids, finding))
    return steps, conflicts


def _edge(verdict: Verdict, pairing: _Pairing | None, todo: Sequence[Step], blocked: Sequence[IntentFinding]) -> Edge:
    """The pair's state from its own steps and route conflicts."""
    pair, connection = verdict.pair, verdict.connection
    connection_id = connection.id if connection is not None else None
    if not verdict.feasible:
        return Edge(pair, INFEASIBLE, connection_id, verdict.code, verdict.reason)
    if pairing is not None and pairing.pending and not [s for s in todo if s.ready]:
        status = connection.status if connection is not None else "?"
        return Edge(pair, PENDING, connection_id, reason=f"{connection_id} is {status}")
    if todo:
        return Edge(pair, MISSING, connection_id, reason=f"{len(todo)} action(s) to do")
    if blocked:
        return Edge(pair, MISSING, connection_id, reason=f"{len(blocked)} route(s) refused by the route planner")
    return Edge(pair, IN_SYNC, connection_id)
