"""Plain values of ``peerkeeper intent``: the file's networks, the declared pairs, the verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from peerkeeper.model import Peering, PrefixList, RouteTable, Vpc
from peerkeeper.settings import Settings

MESH, HUB_SPOKE = "mesh", "hub-spoke"
TOPOLOGIES = (MESH, HUB_SPOKE)
DEFAULT_MAX_PEERINGS = 50  # AWS's default quota of active peering connections per VPC (L-7E9ECCDB)
MAX_PEERINGS_LIMIT = 125  # the most AWS raises it to
INTENT_TAG_KEY = "peerkeeper:intent"

# Why a declared pair is not built, or what is wrong with a connection that exists.
CIDR_OVERLAP = "CIDR_OVERLAP"
NOT_ALLOWED = "NOT_ALLOWED"
ISOLATION_VIOLATED = "ISOLATION_VIOLATED"
PEER_OVERLAP = "PEER_OVERLAP"
PEERING_QUOTA = "PEERING_QUOTA"
UNDECLARED = "UNDECLARED"
ROUTE_CONFLICT = "ROUTE_CONFLICT"  # a table of a connected pair lacks a route the route planner refused
APPLY_PROBLEM = "APPLY_PROBLEM"  # AWS refused a call terminally (a quota, a lost race)
INFEASIBLE_CODES = (CIDR_OVERLAP, NOT_ALLOWED, ISOLATION_VIOLATED, PEER_OVERLAP, PEERING_QUOTA)

# A declared pair's state.
IN_SYNC, PENDING, MISSING, INFEASIBLE = "in-sync", "pending", "missing", "infeasible"


@dataclass(frozen=True)
class Selector:
    """A VPC matches when it carries every tag of ``tags`` and, when ``vpc`` is set, has that ID."""

    tags: tuple[tuple[str, str], ...] = ()
    vpc: str = ""

    def matches(self, vpc: Vpc) -> bool:
        if self.vpc and vpc.id != self.vpc:
            return False
        if self.tags:
            own = dict(vpc.tags)
            return all(own.get(key) == value for key, value in self.tags)
        return bool(self.vpc)


@dataclass(frozen=True)
class Network:
    name: str
    topology: str
    members: tuple[Selector, ...]
    hubs: tuple[Selector, ...] = ()
    dns: bool = False


@dataclass(frozen=True)
class Intent:
    """A network file, validated: networks sorted by name."""

    networks: tuple[Network, ...]
    max_peerings_per_vpc: int = DEFAULT_MAX_PEERINGS
    isolate: tuple[tuple[str, ...], ...] = ()
    source: str = ""  # the file it came from (for messages)

    def network(self, name: str) -> Network | None:
        return next((network for network in self.networks if network.name == name), None)


def vpc_key(vpc: Vpc) -> tuple[str, str, str]:
    """The order of the contract: (account, region, VPC ID). The first of a pair requests."""
    return (vpc.owner_id, vpc.region, vpc.id)


def vpc_ref(vpc: Vpc) -> dict[str, str]:
    return {"vpc": vpc.id, "account": vpc.owner_id, "region": vpc.region}


class Pair(NamedTuple):
    """Two VPCs a network declares connected; ``first`` sorts first by :func:`vpc_key`.

    A named tuple, not a dataclass: a check makes one per declared pair (122,500 for 100 meshes of
    50), and a tuple is made several times faster (docs/benchmarks.md). Build it with :func:`pair`.
    """

    first: Vpc
    second: Vpc
    network: str  # the first network by name that declares it: the connection's tag
    networks: tuple[str, ...]  # every network that declares it
    dns: bool
    ids: frozenset[str]
    key: tuple[tuple[str, str, str], tuple[str, str, str]]

    def label(self) -> str:
        return f"{self.first.id} <-> {self.second.id}"


def pair(first: Vpc, second: Vpc, network: str, networks: tuple[str, ...], dns: bool = False) -> Pair:
    return Pair(
        first, second, network, networks, dns, frozenset((first.id, second.id)), (vpc_key(first), vpc_key(second))
    )


class Verdict(NamedTuple):
    """A declared pair judged: the connection that satisfies it (if any) and, when infeasible, why."""

    pair: Pair
    connection: Peering | None = None
    code: str = ""
    reason: str = ""

    @property
    def feasible(self) -> bool:
        return not self.code


@dataclass(frozen=True)
class IntentFinding:
    """Something intent reports and does not change: an infeasible pair, an undeclared connection ..."""

    code: str
    resource: str
    reason: str
    vpcs: tuple[Vpc, ...] = ()
    network: str = ""
    region: str = ""

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"code": self.code, "resource": self.resource, "reason": self.reason}
        if self.network:
            data["network"] = self.network
        if self.region:
            data["region"] = self.region
        if self.vpcs:
            data["vpcs"] = [vpc_ref(vpc) for vpc in self.vpcs]
        return data


@dataclass(frozen=True)
class World:
    """What one read of each account-region of the run saw, and the policy of each."""

    vpcs: tuple[Vpc, ...]
    peerings: tuple[Peering, ...]  # every connection seen, once (copies of several regions merged)
    tables: tuple[RouteTable, ...]
    policies: Mapping[tuple[str, str], Settings]  # (account, region) -> its settings: the run's units
    # (region, list ID) -> entries of the managed prefix lists the tables route to
    prefix_lists: Mapping[tuple[str, str], PrefixList] = field(default_factory=dict)

    @property
    def accounts(self) -> frozenset[str]:
        return frozenset(account for account, _ in self.policies)

    def vpc(self, vpc_id: str) -> Vpc | None:
        return next((vpc for vpc in self.vpcs if vpc.id == vpc_id), None)


@dataclass(frozen=True)
class Edge:
    """A declared pair's state after the plan (or the verify, after apply)."""

    pair: Pair
    state: str
    connection: str | None = None
    code: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "network": self.pair.network,
            "vpcs": [vpc_ref(self.pair.first), vpc_ref(self.pair.second)],
            "state": self.state,
            "connection": self.connection,
        }
        if self.code:
            data["code"] = self.code
        if self.reason:
            data["reason"] = self.reason
        if self.pair.dns:
            data["dns"] = True
        return data
