"""Plain data shared by every concern: what was observed, and what a plan says to do.

Observations are parsed from API responses into these frozen dataclasses once, so planners are pure
functions over plain values and tests can build worlds without AWS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from peerkeeper.settings import IGNORE_TAG_KEY, IGNORE_TAG_VALUE

ACTIVE = "active"
PENDING = "pending-acceptance"
PROVISIONING = "provisioning"
INITIATING = "initiating-request"
BLACKHOLE = "blackhole"
LOCAL = "local"
# An unaccepted request expires 7 days after it was made (DescribeVpcPeeringConnections gives only
# its ExpirationTime): creation = expiration - 7 days.
REQUEST_LIFETIME = timedelta(days=7)


def name_tag(tags: Iterable[Mapping[str, Any]] | None) -> str:
    """The value of an AWS ``Tags`` list's ``Name`` tag, or ``""``."""
    return next((str(tag.get("Value", "")) for tag in tags or () if tag.get("Key") == "Name"), "")


def tag_pairs(tags: Iterable[Mapping[str, Any]] | None) -> tuple[tuple[str, str], ...]:
    """An AWS ``Tags`` list as sorted (key, value) pairs."""
    return tuple(sorted((str(tag.get("Key", "")), str(tag.get("Value", ""))) for tag in tags or ()))


def is_ignored(tags: Iterable[Mapping[str, Any]] | None) -> bool:
    """True when an AWS ``Tags`` list carries ``peerkeeper:ignore=true``."""
    return any(
        tag.get("Key") == IGNORE_TAG_KEY and str(tag.get("Value", "")).strip().lower() == IGNORE_TAG_VALUE
        for tag in tags or ()
    )


@dataclass(frozen=True)
class Vpc:
    id: str
    owner_id: str
    region: str
    cidrs: tuple[str, ...] = ()
    ipv6_cidrs: tuple[str, ...] = ()
    ignored: bool = False
    name: str = ""  # the Name tag (for people: pictures and messages, never a decision)
    # Every tag, sorted (``peerkeeper intent`` selects members by tag); not part of equality.
    tags: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class PeeringSide:
    """One side of a peering connection, as the connection describes it."""

    owner_id: str
    vpc_id: str
    region: str
    cidrs: tuple[str, ...] = ()
    ipv6_cidrs: tuple[str, ...] = ()
    # PeeringOptions.AllowDnsResolutionFromRemoteVpc of this side (None: not reported).
    dns_resolution: bool | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Peering:
    id: str
    status: str
    requester: PeeringSide
    accepter: PeeringSide
    ignored: bool = False
    expires_at: datetime | None = None  # pending requests only (ExpirationTime)
    tags: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # this region's copy, sorted

    @property
    def requested_at(self) -> datetime | None:
        """When the request was made, when AWS says when it expires."""
        return self.expires_at - REQUEST_LIFETIME if self.expires_at is not None else None

    def sides(self) -> tuple[tuple[PeeringSide, PeeringSide], tuple[PeeringSide, PeeringSide]]:
        """(this side, peer side) pairs, requester first."""
        return ((self.requester, self.accepter), (self.accepter, self.requester))


@dataclass(frozen=True)
class Route:
    """One route of a table. ``target`` is the id or ARN it sends traffic to; empty when unknown."""

    destination: str
    target: str
    state: str = ACTIVE
    origin: str = ""

    @property
    def peering_id(self) -> str | None:
        return self.target if self.target.startswith("pcx-") else None

    @property
    def local(self) -> bool:
        return self.target == LOCAL


@dataclass(frozen=True)
class RouteTable:
    id: str
    vpc_id: str
    region: str
    routes: tuple[Route, ...] = ()
    ignored: bool = False
    # Gateways (igw-/vgw-) the table is edge-associated with: a gateway route table.
    edge_gateways: tuple[str, ...] = ()

    def route_to(self, destination: str) -> Route | None:
        return next((route for route in self.routes if route.destination == destination), None)


@dataclass(frozen=True)
class Action:
    """One mutating call the plan asks for. ``params`` are the API call's keyword arguments."""

    kind: str
    resource: str
    region: str
    reason: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "resource": self.resource, "region": self.region, "reason": self.reason}


@dataclass(frozen=True)
class Finding:
    """Something the plan will not change: a refused request, a conflict, a missing dependency."""

    resource: str
    region: str
    reason: str
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def to_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "region": self.region, "reason": self.reason, **self.detail}


@dataclass(frozen=True)
class Plan:
    concern: str
    actions: tuple[Action, ...] = ()
    refused: tuple[Finding, ...] = ()
    conflicts: tuple[Finding, ...] = ()
    problems: tuple[Finding, ...] = ()
    # Not decidable yet (a connection still being created): an event retries, the sweep waits.
    waiting: tuple[Finding, ...] = ()
