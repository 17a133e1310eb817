"""Observe: batched, filtered, paginated describes, parsed into :mod:`peerkeeper.model` values.

An :class:`Inventory` serves every concern of one invocation and remembers what it read, so no
resource is described twice. Event handlers ask for the few resources an event names (one filtered
call per resource kind and region); the sweep calls :meth:`Inventory.load_region` first, which reads
each kind once for the whole region, after which every lookup is answered from memory.

Filters are also applied client-side: moto ignores ``DescribeVpcPeeringConnections`` filters, and a
second check costs nothing.

The region's bulk reads are independent of each other, so :meth:`Inventory.load_region` makes them
at the same time from a small thread pool (botocore clients are thread-safe; the inventory itself is
only written by the calling thread, in a fixed order, so what is observed does not depend on which
answer came first). On AWS each call costs a round trip of 50-300 ms: the region is read in the time
of its slowest listing instead of the sum of all of them (docs/benchmarks.md). Every page of every
read first checks the deadline (:class:`peerkeeper.deadline.Deadline`): a read that cannot finish in
time stops with :class:`~peerkeeper.deadline.DeadlineReached` instead of being cut off by the timeout.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from peerkeeper.clients import Clients
from peerkeeper.deadline import Deadline
from peerkeeper.model import Peering, PeeringSide, PrefixList, Route, RouteTable, Vpc, is_ignored, name_tag, tag_pairs

# A CIDR being associated is routable by the time its CloudTrail event arrives (seconds later).
_LIVE_CIDR_STATES = ("associated", "associating")
# Values per EC2 filter: more fail the whole call with FilterLimitExceeded (moto accepts any number).
# Every filtered describe splits its values into chunks of this size and merges the answers.
FILTER_VALUES_LIMIT = 200
_READ_THREADS = 8  # at most this many reads in flight at once (EC2 allows bursts of 100 describes)
# The region-wide listings: kind -> (operation, result key). ``flow_logs`` are kept as AWS returns
# them (the flow-log concern parses its own).
BULK_READS: Mapping[str, tuple[str, str]] = {
    "vpcs": ("describe_vpcs", "Vpcs"),
    "route_tables": ("describe_route_tables", "RouteTables"),
    "peerings": ("describe_vpc_peering_connections", "VpcPeeringConnections"),
    "flow_logs": ("describe_flow_logs", "FlowLogs"),
}
DEFAULT_KINDS = ("vpcs", "route_tables", "peerings")
T = TypeVar("T")
# Every target field of botocore's ``Route`` shape (EC2 2016-11-15), most specific first: a NAT
# instance's route carries InstanceId and NetworkInterfaceId. A Gateway Load Balancer endpoint reads
# back as GatewayId ``vpce-...``; VpcEndpointId (CreateRoute's name for it) is accepted too. IpAddress
# is the next hop of a route VPC Route Server advertised (origin ``Advertisement``).
ROUTE_TARGET_KEYS = (
    "VpcPeeringConnectionId",
    "GatewayId",
    "InstanceId",
    "NetworkInterfaceId",
    "NatGatewayId",
    "TransitGatewayId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "EgressOnlyInternetGatewayId",
    "CoreNetworkArn",
    "OdbNetworkArn",
    "VpcEndpointId",
    "IpAddress",
)
# Fields of ``Route`` that are not a target. Any other field found on a route without a known
# target is read as its target (a target type newer than this code), never as "no target".
ROUTE_NON_TARGET_KEYS = frozenset(
    {
        "DestinationCidrBlock",
        "DestinationIpv6CidrBlock",
        "DestinationPrefixListId",
        "InstanceOwnerId",
        "Origin",
        "State",
        "IgwFirewall",
    }
)


def normalise_cidr(cidr: str) -> str:
    try:
        return ipaddress.ip_network(cidr, strict=False).compressed
    except ValueError:
        return cidr


def filter_chunks(values: Collection[str]) -> Iterator[list[str]]:
    """``values`` sorted, in chunks that one EC2 filter accepts."""
    ordered = sorted(values)
    for start in range(0, len(ordered), FILTER_VALUES_LIMIT):
        yield ordered[start : start + FILTER_VALUES_LIMIT]


def read_together(reads: Sequence[Callable[[], T]]) -> list[T]:
    """Call each of ``reads`` at the same time (a small thread pool); results in the given order.

    Every read runs to its end (or its own error); then the first error in the given order is
    raised, so what fails does not depend on timing either.
    """
    if len(reads) <= 1:
        return [read() for read in reads]
    # Imported here: the event handlers never read in bulk and need not pay for it at a cold start.
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    with ThreadPoolExecutor(max_workers=min(_READ_THREADS, len(reads)), thread_name_prefix="peerkeeper-read") as pool:
        futures = [pool.submit(read) for read in reads]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]


def parse_vpc(item: Mapping[str, Any], region: str) -> Vpc:
    cidrs = [
        assoc["CidrBlock"]
        for assoc in item.get("CidrBlockAssociationSet") or ()
        if (assoc.get("CidrBlockState") or {}).get("State", "associated") in _LIVE_CIDR_STATES
    ] or ([item["CidrBlock"]] if item.get("CidrBlock") else [])
    ipv6 = [
        assoc["Ipv6CidrBlock"]
        for assoc in item.get("Ipv6CidrBlockAssociationSet") or ()
        if (assoc.get("Ipv6CidrBlockState") or {}).get("State", "associated") in _LIVE_CIDR_STATES
        and assoc.get("Ipv6CidrBlock")
    ]
    return Vpc(
        id=item["VpcId"],
        owner_id=item.get("OwnerId", ""),
        region=region,
        cidrs=tuple(normalise_cidr(c) for c in cidrs),
        ipv6_cidrs=tuple(normalise_cidr(c) for c in ipv6),
        ignored=is_ignored(item.get("Tags")),
        name=name_tag(item.get("Tags")),
        tags=tag_pairs(item.get("Tags")),
    )


def route_target(item: Mapping[str, Any]) -> str:
    """The id or ARN a route sends traffic to; empty when the route names none peerkeeper can read."""
    known = next((str(item[key]) for key in ROUTE_TARGET_KEYS if item.get(key)), "")
    if known:
        return known
    return next(
        (
            str(value)
            for key, value in sorted(item.items())
            if key not in ROUTE_NON_TARGET_KEYS and isinstance(value, str) and value
        ),
        "",
    )


def parse_route(item: Mapping[str, Any]) -> Route | None:
    """One route; a route to a managed prefix list keeps the list's ID as its destination."""
    cidr = item.get("DestinationCidrBlock") or item.get("DestinationIpv6CidrBlock")
    destination = normalise_cidr(cidr) if cidr else str(item.get("DestinationPrefixListId") or "")
    if not destination:
        return None  # a route with no destination peerkeeper can read
    return Route(
        destination=destination,
        target=route_target(item),
        state=item.get("State") or "active",
        origin=item.get("Origin") or "",
    )


def edge_gateways(item: Mapping[str, Any]) -> tuple[str, ...]:
    """Gateways a route table is edge-associated with (``Associations[].GatewayId``), while associated."""
    return tuple(
        sorted(
            str(assoc["GatewayId"])
            for assoc in item.get("Associations") or ()
            if assoc.get("GatewayId")
            and (assoc.get("AssociationState") or {}).get("State", "associated") in ("associated", "associating")
        )
    )


def parse_route_table(item: Mapping[str, Any], region: str) -> RouteTable:
    routes = tuple(route for route in map(parse_route, item.get("Routes") or ()) if route is not None)
    return RouteTable(
        id=item["RouteTableId"],
        vpc_id=item.get("VpcId", ""),
        region=region,
        routes=routes,
        ignored=is_ignored(item.get("Tags")),
        edge_gateways=edge_gateways(item),
    )


def _parse_side(info: Mapping[str, Any], region: str) -> PeeringSide:
    cidrs = [c["CidrBlock"] for c in info.get("CidrBlockSet") or () if c.get("CidrBlock")]
    if not cidrs and info.get("CidrBlock"):
        cidrs = [info["CidrBlock"]]
    ipv6 = [c["Ipv6CidrBlock"] for c in info.get("Ipv6CidrBlockSet") or () if c.get("Ipv6CidrBlock")]
    return PeeringSide(
        owner_id=info.get("OwnerId", ""),
        vpc_id=info.get("VpcId", ""),
        region=info.get("Region") or region,
        cidrs=tuple(normalise_cidr(c) for c in cidrs),
        ipv6_cidrs=tuple(normalise_cidr(c) for c in ipv6),
        dns_resolution=_dns_option(info),
    )


def _dns_option(info: Mapping[str, Any]) -> bool | None:
    value = (info.get("PeeringOptions") or {}).get("AllowDnsResolutionFromRemoteVpc")
    return bool(value) if value is not None else None


def parse_peering(item: Mapping[str, Any], region: str) -> Peering:
    return Peering(
        id=item["VpcPeeringConnectionId"],
        status=(item.get("Status") or {}).get("Code", ""),
        requester=_parse_side(item.get("RequesterVpcInfo") or {}, region),
        accepter=_parse_side(item.get("AccepterVpcInfo") or {}, region),
        ignored=is_ignored(item.get("Tags")),
        expires_at=_aware(item.get("ExpirationTime")),
        tags=tag_pairs(item.get("Tags")),
    )


def _aware(value: Any) -> datetime | None:
    """botocore parses timestamps to aware datetimes; anything else (absent: moto) is unknown."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


class Inventory:
    """What one invocation has read, per region. Lookups read AWS only for what is not known yet."""

    def __init__(self, clients: Clients, account_id: str, deadline: Deadline | None = None) -> None:
        self.clients = clients
        self.account_id = account_id
        self.deadline = deadline or Deadline()
        self._vpcs: dict[str, dict[str, Vpc]] = {}
        self._tables: dict[str, dict[str, RouteTable]] = {}
        self._peerings: dict[str, dict[str, Peering]] = {}
        self._flow_logs: dict[str, list[dict[str, Any]]] = {}
        self._complete: set[tuple[str, str]] = set()  # (kind, region) read in full
        self._asked: dict[tuple[str, str], set[str]] = {}  # (filter, region) -> values already asked
        self._peering_queries: set[tuple[str, frozenset[str], frozenset[str]]] = set()
        self._prefix_lists: dict[str, dict[str, PrefixList]] = {}

    # -- whole region -------------------------------------------------------------------------
    def load_region(self, region: str, kinds: Iterable[str] = DEFAULT_KINDS) -> None:
        """Read each kind once for the whole region (the sweep's bulk observe), all at the same time."""
        todo = [kind for kind in BULK_READS if kind in set(kinds) and (kind, region) not in self._complete]
        if not todo:
            return
        ec2 = self.clients.ec2(region)

        def reader(kind: str) -> Callable[[], list[dict[str, Any]]]:
            operation, key = BULK_READS[kind]
            return lambda: self._pages(ec2, operation, key, [])

        found = read_together([reader(kind) for kind in todo])
        store = {
            "vpcs": self._store_vpcs,
            "route_tables": self._store_tables,
            "peerings": self._store_peerings,
            "flow_logs": self._store_flow_logs,
        }
        for kind, items in zip(todo, found, strict=True):  # stored in a fixed order, whatever came first
            store[kind](region, items)
            self._complete.add((kind, region))

    # -- lookups ------------------------------------------------------------------------------
    def vpcs(self, region: str, ids: Collection[str]) -> dict[str, Vpc]:
        """The named VPCs of ``region`` that exist (absent ids are gone or not visible)."""
        known = self._vpcs.setdefault(region, {})
        missing = set(ids) - set(known)
        if missing and ("vpcs", region) not in self._complete:
            ec2 = self.clients.ec2(region)
            for chunk in filter_chunks(missing):
                filters = [{"Name": "vpc-id", "Values": chunk}]
                self._store_vpcs(region, self._pages(ec2, "describe_vpcs", "Vpcs", filters))
            known = self._vpcs[region]
        return {vpc_id: known[vpc_id] for vpc_id in ids if vpc_id in known}

    def all_vpcs(self, region: str) -> list[Vpc]:
        self.load_region(region, kinds=("vpcs",))
        return list(self._vpcs.get(region, {}).values())

    def all_flow_logs(self, region: str) -> list[dict[str, Any]]:
        """Every flow log of the region, as DescribeFlowLogs returns them."""
        self.load_region(region, kinds=("flow_logs",))
        return list(self._flow_logs.get(region, ()))

    def route_tables(
        self, region: str, *, vpc_ids: Collection[str] = (), table_ids: Collection[str] = ()
    ) -> list[RouteTable]:
        """Route tables of the named VPCs, plus the named tables."""
        if ("route_tables", region) not in self._complete:
            ec2 = self.clients.ec2(region)
            for name, values in (("vpc-id", vpc_ids), ("route-table-id", table_ids)):
                asked = self._asked.setdefault((name, region), set())
                todo = set(values) - asked
                asked.update(todo)
                for chunk in filter_chunks(todo):
                    filters = [{"Name": name, "Values": chunk}]
                    self._store_tables(region, self._pages(ec2, "describe_route_tables", "RouteTables", filters))
        wanted_vpcs, wanted_tables = set(vpc_ids), set(table_ids)
        return [
            table
            for table in self._tables.get(region, {}).values()
            if table.vpc_id in wanted_vpcs or table.id in wanted_tables
        ]

    def peerings(
        self,
        region: str,
        *,
        ids: Collection[str] = (),
        statuses: Collection[str] = (),
        vpc_ids: Collection[str] = (),
    ) -> list[Peering]:
        """Peering connections visible in ``region``: by id, or all with one of ``statuses``.

        ``vpc_ids`` narrows the result to connections touching those VPCs (client-side).
        """
        query = (region, frozenset(ids), frozenset(statuses))
        if ("peerings", region) not in self._complete and query not in self._peering_queries:
            self._peering_queries.add(query)
            by_status = [{"Name": "status-code", "Values": sorted(statuses)}] if statuses else []
            by_id = [[{"Name": "vpc-peering-connection-id", "Values": chunk}] for chunk in filter_chunks(ids)]
            ec2 = self.clients.ec2(region)
            for filters in by_id or [[]]:
                items = self._pages(
                    ec2, "describe_vpc_peering_connections", "VpcPeeringConnections", filters + by_status
                )
                self._store_peerings(region, items)
        found = self._peerings.get(region, {}).values()
        return [
            peering
            for peering in found
            if (not ids or peering.id in ids)
            and (not statuses or peering.status in statuses)
            and (not vpc_ids or {peering.requester.vpc_id, peering.accepter.vpc_id} & set(vpc_ids))
        ]

    def prefix_lists(self, region: str, ids: Collection[str]) -> dict[str, PrefixList]:
        """The entries of the named managed prefix lists of ``region`` (AWS-managed ones too).

        One paginated ``GetManagedPrefixListEntries`` per list and region per invocation: EC2 has no
        call that reads several lists at once. A list that cannot be read (access denied, gone) is
        kept with its error: the route planner then routes nothing beside it.
        """
        known = self._prefix_lists.setdefault(region, {})
        for prefix_list in sorted(set(ids) - set(known)):
            try:
                items = self._pages(
                    self.clients.ec2(region), "get_managed_prefix_list_entries", "Entries", [], PrefixListId=prefix_list
                )
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code") or "error")
                known[prefix_list] = PrefixList(prefix_list, region, error=code)
                continue
            entries = tuple(normalise_cidr(str(e["Cidr"])) for e in items if e.get("Cidr"))
            known[prefix_list] = PrefixList(prefix_list, region, entries)
        return {prefix_list: known[prefix_list] for prefix_list in ids if prefix_list in known}

    def ignored_anywhere(self, region: str, peerings: Iterable[Peering]) -> list[Peering]:
        """``peerings`` (as read in ``region``), ignored when any region's copy carries the ignore tag.

        AWS keeps a connection's tags per region: a same-account cross-region connection tagged in one
        region is untagged in the other. Both copies are in this account, so the other region's is
        read too (one filtered describe per other region, or memory). A cross-account connection's
        other copy belongs to the other account: only ours can be read.
        """
        found = list(peerings)
        elsewhere: dict[str, set[str]] = defaultdict(set)
        for peering in found:
            sides = (peering.requester, peering.accepter)
            if peering.ignored or any(side.owner_id != self.account_id for side in sides):
                continue
            for side in sides:
                if side.region and side.region != region:
                    elsewhere[side.region].add(peering.id)
        tagged: set[str] = set()
        for other_region, ids in sorted(elsewhere.items()):
            tagged |= {copy.id for copy in self.peerings(other_region, ids=ids) if copy.ignored}
        return [replace(p, ignored=True) if p.id in tagged else p for p in found]

    # -- what was read (for pictures of the plan: no further call) -----------------------------
    def known_vpcs(self) -> list[Vpc]:
        """Every VPC read so far, in any region."""
        return [vpc for region in sorted(self._vpcs) for vpc in self._vpcs[region].values()]

    def known_route_tables(self) -> list[RouteTable]:
        """Every route table read so far, in any region."""
        return [table for region in sorted(self._tables) for table in self._tables[region].values()]

    def known_peerings(self) -> list[Peering]:
        """Every peering connection read so far, in any region (a cross-region one once per region)."""
        return [peering for region in sorted(self._peerings) for peering in self._peerings[region].values()]

    def complete_regions(self, kind: str) -> set[str]:
        """Regions where ``kind`` (``vpcs``, ``route_tables``, ``peerings``) was read in full."""
        return {region for known_kind, region in self._complete if known_kind == kind}

    # -- internals ----------------------------------------------------------------------------
    def _pages(
        self, client: Any, operation: str, key: str, filters: list[dict[str, Any]], **params: Any
    ) -> list[dict[str, Any]]:
        """Every item of a paginated describe; the deadline is checked before each page is asked for."""
        paginator = client.get_paginator(operation)
        kwargs: dict[str, Any] = {"Filters": filters, **params} if filters else dict(params)
        items: list[dict[str, Any]] = []
        self.deadline.check(operation, pages=0)
        for number, page in enumerate(paginator.paginate(**kwargs), start=1):
            items.extend(page.get(key, []))
            if page.get("NextToken"):  # the paginator asks for another page next
                self.deadline.check(operation, pages=number)
        return items

    def _store_vpcs(self, region: str, items: Iterable[Mapping[str, Any]]) -> None:
        store = self._vpcs.setdefault(region, {})
        for item in items:
            store[item["VpcId"]] = parse_vpc(item, region)

    def _store_tables(self, region: str, items: Iterable[Mapping[str, Any]]) -> None:
        store = self._tables.setdefault(region, {})
        for item in items:
            store[item["RouteTableId"]] = parse_route_table(item, region)

    def _store_flow_logs(self, region: str, items: Iterable[Mapping[str, Any]]) -> None:
        self._flow_logs.setdefault(region, []).extend(dict(item) for item in items)

    def _store_peerings(self, region: str, items: Iterable[Mapping[str, Any]]) -> None:
        store = self._peerings.setdefault(region, {})
        for item in items:
            store[item["VpcPeeringConnectionId"]] = parse_peering(item, region)
