"""``peerkeeper why``: find the ends, observe the network between them, analyse, answer.

The answer's fixes for a missing peering route come from peerkeeper's own route planner
(:func:`peerkeeper.routes.plan`, run on what ``why`` observed): when the planner would add the route,
the fix is "run ``peerkeeper apply``"; otherwise it is the AWS CLI command.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from peerkeeper.clients import Clients
from peerkeeper.reach.analysis import (
    FORWARD,
    RETURN,
    Explanation,
    Path,
    Question,
    analyse,
    analyse_all,
    explanations,
)
from peerkeeper.reach.model import Traffic
from peerkeeper.reach.observe import (
    InputError,
    LbTarget,
    Observed,
    Reader,
    find_ends,
    find_targets,
    observe_network,
)
from peerkeeper.settings import Settings

PROTOCOLS = ("tcp", "udp", "icmp", "all")


def traffic_of(protocol: str, port: str | None) -> Traffic:
    """Validate ``--protocol`` and ``--port`` (a person's mistake is an :class:`InputError`)."""
    name = protocol.strip().lower()
    if name not in PROTOCOLS:
        raise InputError(f"--protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if port is None:
        return Traffic(name)
    if name not in ("tcp", "udp"):
        meaning = "icmp means echo (ping), which has no port" if name == "icmp" else "all means every port"
        raise InputError(f"--port applies to tcp and udp only: {meaning}")
    try:
        number = int(port)
    except ValueError:
        raise InputError(f"--port {port!r} is not a number between 0 and 65535") from None
    if not 0 <= number <= 65535:
        raise InputError(f"--port {number} is outside 0-65535")
    return Traffic(name, number)


TARGET_HEALTH_NOTE = (
    "registered targets on the target group's port, each from every node of the load balancer; "
    "their health (and what listens on them) is not judged"
)
NO_PATH = "NO_PATH"


@dataclass(frozen=True)
class TargetPath:
    """One node of the load balancer on to one registered target, on the target group's port."""

    path: Path
    traffic: Traffic
    target_group: str


def _path_document(path: Path) -> dict[str, Any]:
    return {
        "source": path.source.text(),
        "destination": path.destination.text(),
        "reachable": path.reachable,
        FORWARD: [hop.to_dict() for hop in path.direction(FORWARD)],
        RETURN: [hop.to_dict() for hop in path.direction(RETURN)],
    }


@dataclass(frozen=True)
class Answer:
    source: dict[str, Any]
    destination: dict[str, Any]
    traffic: Traffic
    paths: tuple[Path, ...]
    reads: Counter[str]
    # --to-targets: the load balancer's paths on to its registered targets
    targets_asked: bool = False
    targets: tuple[TargetPath, ...] = ()
    target_notes: tuple[str, ...] = ()
    load_balancer_id: str = ""

    @property
    def targets_reached(self) -> bool:
        """Every node of the load balancer reaches at least one registered target."""
        nodes = {path.destination for path in self.paths}
        return all(any(t.path.reachable for t in self.targets if t.path.source == node) for node in nodes)

    @property
    def reachable(self) -> bool:
        on = all(path.reachable for path in self.paths)
        return on and (not self.targets_asked or self.targets_reached)

    @property
    def explanations(self) -> list[Explanation]:
        found = explanations(self.paths)
        if self.targets_asked and not self.targets_reached:
            if not self.targets:
                left_out = "; ".join(self.target_notes) or "its target groups have no instance or IP target"
                reason = f"no registered target behind the listeners that serve it: {left_out}"
                found.append(Explanation(NO_PATH, FORWARD, self.load_balancer_id, reason, (), {"leg": "to-targets"}))
            for e in explanations([t.path for t in self.targets]):
                found.append(replace(e, detail={**e.detail, "leg": "to-targets"}))
        return found

    @property
    def fixes(self) -> list[str]:
        return list(dict.fromkeys(fix for e in self.explanations for fix in e.fixes))

    def document(self) -> dict[str, Any]:
        found = {
            "reachable": self.reachable,
            "source": self.source,
            "destination": self.destination,
            "protocol": self.traffic.protocol,
            "port": self.traffic.port,
            "explanations": [e.to_dict() for e in self.explanations],
            "fixes": self.fixes,
            "paths": [_path_document(path) for path in self.paths],
            "reads": {"total": sum(self.reads.values()), "by_operation": dict(sorted(self.reads.items()))},
        }
        if self.targets_asked:
            found["targets"] = {
                "note": TARGET_HEALTH_NOTE,
                "reachable": self.targets_reached,
                "left_out": list(self.target_notes),
                "paths": [
                    {**_path_document(t.path), "target_group": t.target_group, "protocol": t.traffic.protocol,
                     "port": t.traffic.port}
                    for t in self.targets
                ],
            }  # fmt: skip
        return found


def planned_routes(observed: Observed, account_id: str, settings: Settings) -> frozenset[tuple[str, str]]:
    """(route table, CIDR) pairs peerkeeper's own route planner would create or replace.

    The planner's rules are the contract's (trusted connection, ``ALLOWED_PEER_CIDRS``, no route over
    an aggregate, ignore tags), so "run ``peerkeeper apply``" is only said when apply would do it.
    """
    from peerkeeper import inventory, routes  # noqa: PLC0415  (the reconcile machinery, only when asked)
    from peerkeeper.model import PrefixList  # noqa: PLC0415

    tables = tuple(
        inventory.parse_route_table(item, region)
        for region, item in observed.raw_tables
        if item.get("OwnerId", account_id) == account_id  # `apply` here routes only this account's tables
    )
    # The entries why already read, in the planner's shape: a list it could not read stays absent
    # (unreadable), exactly as the planner judges it in a sweep.
    read = observed.network.prefix_lists
    prefix_lists = {
        (table.region, route.prefix_list): PrefixList(route.prefix_list, table.region, read[route.prefix_list])
        for table in tables
        for route in table.routes
        if route.prefix_list and route.prefix_list in read
    }
    world = routes.RouteWorld(
        peerings=tuple(inventory.parse_peering(item, region) for region, item in observed.raw_peerings),
        vpcs={item["VpcId"]: inventory.parse_vpc(item, region) for region, item in observed.raw_vpcs},
        tables=tables,
        prefix_lists=prefix_lists,
    )
    plan = routes.plan(world, account_id, settings)
    return frozenset(
        (
            action.params["RouteTableId"],
            action.params.get("DestinationCidrBlock") or action.params["DestinationIpv6CidrBlock"],
        )
        for action in plan.actions
    )


def why(
    clients: Clients,
    regions: Sequence[str],
    source: str,
    destination: str,
    traffic: Traffic,
    *,
    settings: Settings | None = None,
    own_allowlist: bool = True,
    accounts: Mapping[str, Clients] | None = None,
    to_targets: bool = False,
) -> Answer:
    """Answer the question; only reads (``Answer.reads`` says how many, by operation).

    ``settings`` are the contract's variables (the route planner's policy); with ``own_allowlist``
    (``ALLOWED_PEER_ACCOUNTS`` unset) the allowlist is the source's account, as the template's default.
    ``accounts`` are other accounts (ID -> clients acting there, an assumed role's) where SOURCE or
    DESTINATION may be: each end, and its VPC, is read with the credentials of the account holding it.
    ``to_targets``: a load balancer DESTINATION is followed on to its registered targets (their health
    is not judged).
    """
    reader = Reader(clients, accounts=dict(accounts or {}))
    ends = find_ends(reader, regions, source, destination)
    registered: list[LbTarget] = []
    notes: list[str] = []
    if to_targets:
        if traffic.protocol not in ("tcp", "udp"):
            raise InputError("--to-targets follows tcp or udp through a listener: pass --protocol tcp or udp")
        registered, notes = find_targets(reader, ends.destinations[0], traffic.protocol, traffic.port)
        ends = replace(ends, targets=tuple(t.node for t in registered))
    observed = observe_network(reader, ends)
    account_id = ends.source.owner_id
    policy = settings or Settings(region=ends.source.region)
    if own_allowlist:
        policy = replace(policy, allowed_peer_accounts=frozenset({account_id}))
    planned: Collection[tuple[str, str]] = planned_routes(observed, account_id, policy)
    paths = analyse_all(observed.network, ends.source, ends.destinations, traffic, planned)
    onward = tuple(
        TargetPath(
            analyse(Question(observed.network, node, target.node, Traffic(target.protocol, target.port), planned)),
            Traffic(target.protocol, target.port),
            target.target_group,
        )
        for node in ends.destinations
        for target in registered
    )
    described_source = {"input": source, **ends.source.to_dict()}
    lb = ends.destinations[0].load_balancer
    return Answer(
        described_source,
        ends.destination,
        traffic,
        paths,
        reader.counts,
        targets_asked=to_targets,
        targets=onward,
        target_notes=tuple(notes),
        load_balancer_id=lb.id if lb else "",
    )


__all__ = ["PROTOCOLS", "Answer", "InputError", "traffic_of", "why"]
