"""Plain data shared by every concern: what was observed, and what a plan says to do.

Observations are parsed from API responses into these frozen dataclasses once, so planners are pure
functions over plain values and tests can build worlds without AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from peerkeeper.settings import IGNORE_TAG_KEY, IGNORE_TAG_VALUE, Settings

ACTIVE = "active"
PENDING = "pending-acceptance"
PROVISIONING = "provisioning"
INITIATING = "initiating-request"
BLACKHOLE = "blackhole"
LOCAL = "local"
# An unaccepted request expires 7 days after it was made (DescribeVpcPeeringConnections gives only
# its ExpirationTime): creation = expiration - 7 days.
REQUEST_LIFETIME = timedelta(days=7)


# Control characters (an ANSI escape starts with ESC) and bidirectional overrides: a terminal obeys
# them, so text from AWS or tags never reaches a person with them in it.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_INVISIBLE_OR_BREAK = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object, *, one_line: bool = False) -> str:
    """``text`` with every control character written out (``\\x1b``), so a terminal shows it, not obeys it.

    The one sanitiser of text from AWS or tags on its way to a person: the CLI's rich output adds
    markup escaping on top (``peerkeeper.cli.output.escape``), the pictures their own syntax's.
    ``one_line`` writes out line breaks and tabs too (a line of ``plan``'s output is one whole line).
    """
    return (_INVISIBLE_OR_BREAK if one_line else _INVISIBLE).sub(_written_out, str(text))


def _written_out(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


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

    @property
    def prefix_list(self) -> str:
        """The managed prefix list this route sends (``destination`` is then the list's ID), or ``""``."""
        return self.destination if self.destination.startswith("pl-") else ""


@dataclass(frozen=True)
class PrefixList:
    """The entries of one managed prefix list of one region; ``error`` when they could not be read."""

    id: str
    region: str
    entries: tuple[str, ...] = ()
    error: str = ""

    @property
    def readable(self) -> bool:
        return not self.error


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


def untrusted_reason(peering: Peering, settings: Settings, account_id: str) -> str | None:
    """Why the other party of ``peering`` fails the acceptance policy today; ``None`` when trusted.

    The other party is the requester when the accepter VPC is in this account (same-account
    connections included: the own account must be listed, as for acceptance), else the accepter
    (a connection this account requested from another account).
    """
    other = peering.requester if peering.accepter.owner_id == account_id else peering.accepter
    if other.owner_id not in settings.allowed_peer_accounts:
        return f"peer account {other.owner_id} is not in ALLOWED_PEER_ACCOUNTS"
    if settings.allowed_peer_vpcs and other.vpc_id not in settings.allowed_peer_vpcs:
        return f"peer VPC {other.vpc_id} is not in ALLOWED_PEER_VPCS"
    return None


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
