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
# An unaccepted request expires 7 days after it was made (DescribeVpcPeeringConnections gives only
# its ExpirationTime): creation = expiration - 7 days.
REQUEST_LIFETIME = timedelta(days=7)


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


@dataclass(frozen=True)
class PeeringSide:
    """One side of a peering connection, as the connection describes it."""

    owner_id: str
    vpc_id: str
    region: str
    cidrs: tuple[str, ...] = ()
    ipv6_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Peering:
    id: str
    status: str
    requester: PeeringSide
    accepter: PeeringSide
    ignored: bool = False
    expires_at: datetime | None = None  # pending requests only (ExpirationTime)

    @property
    def requested_at(self) -> datetime | None:
        """When the request was made, when AWS says when it expires."""
        return self.expires_at - REQUEST_LIFETIME if self.expires_at is not None else None

    def sides(self) -> tuple[tuple[PeeringSide, PeeringSide], tuple[PeeringSide, PeeringSide]]:
        """(this side, peer side) pairs, requester first."""
        return ((self.requester, self.accepter), (self.accepter, self.requester))


@dataclass(frozen=True)
class Route:
    destination: str
    target: str
    state: str = ACTIVE

    @property
    def peering_id(self) -> str | None:
        return self.target if self.target.startswith("pcx-") else None


@dataclass(frozen=True)
class RouteTable:
    id: str
    vpc_id: str
    region: str
    routes: tuple[Route, ...] = ()
    ignored: bool = False

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
