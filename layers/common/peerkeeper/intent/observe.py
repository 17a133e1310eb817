"""Observe: one read of each account-region of the run (the inventory's region-wide listings).

The same batched, paginated listings ``plan`` makes (VPCs, route tables, peering connections), read
by :meth:`peerkeeper.inventory.Inventory.load_region`, the account-regions side by side through
:func:`peerkeeper.fleet.fan_out`. A connection seen from several regions (cross-region) or accounts
(cross-account) is one connection: its copy from the accepter's side is the one whose status counts
(the requester's side may still say ``initiating-request``), its tags are every copy's (AWS keeps a
copy per region), a side's DNS option is what any copy reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from botocore.exceptions import BotoCoreError, ClientError

from peerkeeper.fleet import DEFAULT_PARALLEL, Target, fan_out, units
from peerkeeper.intent.model import World
from peerkeeper.inventory import Inventory, organization_accounts
from peerkeeper.model import Peering, PrefixList, RouteTable, Vpc
from peerkeeper.settings import Settings

KINDS = ("vpcs", "route_tables", "peerings")


@dataclass(frozen=True)
class Seen:
    """What one account-region gave."""

    account_id: str
    region: str
    vpcs: tuple[Vpc, ...]
    tables: tuple[RouteTable, ...]
    peerings: tuple[Peering, ...]
    prefix_lists: tuple[PrefixList, ...] = ()  # entries of the managed prefix lists its tables route to


def read_unit(target: Target, settings: Settings) -> Seen:
    inventory = Inventory(target.clients, target.account_id)
    inventory.load_region(settings.region, KINDS)
    tables = tuple(inventory.known_route_tables())
    # A route to a prefix list is an aggregate like a CIDR route: the route planner judges its entries
    # (one read per list, only when a table routes to one).
    listed = {route.prefix_list for table in tables for route in table.routes if route.prefix_list}
    lists = tuple(inventory.prefix_lists(settings.region, listed).values()) if listed else ()
    return Seen(
        target.account_id,
        settings.region,
        tuple(inventory.known_vpcs()),
        tables,
        tuple(inventory.known_peerings()),
        lists,
    )


def merge_peerings(copies: Sequence[tuple[str, str, Peering]]) -> tuple[Peering, ...]:
    """One connection per ID from its copies ``(account, region, peering)`` (see the module's doc)."""
    by_id: dict[str, list[tuple[str, str, Peering]]] = {}
    for copy in copies:
        by_id.setdefault(copy[2].id, []).append(copy)
    merged = []
    for peering_id in sorted(by_id):
        found = by_id[peering_id]
        base = next(
            (p for account, region, p in found if (account, region) == (p.accepter.owner_id, p.accepter.region)),
            found[0][2],
        )
        tags = tuple(sorted({tag for _, _, p in found for tag in p.tags}))
        requester_dns = any(p.requester.dns_resolution for _, _, p in found)
        accepter_dns = any(p.accepter.dns_resolution for _, _, p in found)
        merged.append(
            replace(
                base,
                tags=tags,
                ignored=any(p.ignored for _, _, p in found),
                requester=replace(base.requester, dns_resolution=requester_dns),
                accepter=replace(base.accepter, dns_resolution=accepter_dns),
            )
        )
    return tuple(merged)


def observe(
    targets: Sequence[Target],
    *,
    parallel: int = DEFAULT_PARALLEL,
    on_unit: Callable[[str, str], None] | None = None,
) -> tuple[World, list[str]]:
    """The world of every (account, region) of ``targets``, and the errors of those that could not be read."""
    pairs = units(targets)

    def one(pair: tuple[Target, Settings]) -> Seen:
        target, settings = pair
        try:
            return read_unit(target, settings)
        finally:
            if on_unit is not None:
                on_unit(target.account_id, settings.region)

    results = fan_out(pairs, one, parallel)
    seen: list[Seen] = []
    policies: dict[tuple[str, str], Settings] = {}
    errors: list[str] = []
    organizations: dict[tuple[str, str | None], frozenset[str] | None] = {}
    for (target, settings), (found, error) in zip(pairs, results, strict=True):
        if found is None:
            errors.append(f"{target.account_id} {settings.region}: {error}")
            continue
        seen.append(found)
        policies[(found.account_id, found.region)] = trusting(target, settings, organizations, errors)
    return assemble(seen, policies), errors


def trusting(
    target: Target,
    settings: Settings,
    organizations: dict[tuple[str, str | None], frozenset[str] | None],
    errors: list[str],
) -> Settings:
    """``settings`` with ``ALLOWED_PEER_ACCOUNTS=organization`` resolved to the ACTIVE accounts, as the
    functions judge (reconcile.Env.trusting): read once per account and reader role in a run. An
    organisation that cannot be read allows nobody more (every such pair stays NOT_ALLOWED) and is
    reported."""
    if not settings.allow_organization:
        return settings
    key = (target.account_id, settings.organization_role_arn)
    if key not in organizations:
        try:
            members = organization_accounts(target.clients, settings.region, settings.organization_role_arn)
            organizations[key] = frozenset(members)
        except (ClientError, BotoCoreError) as error:
            organizations[key] = None
            errors.append(f"{target.account_id}: the organisation could not be read ({error})")
    members_found = organizations[key]
    if members_found is None:
        return settings
    return replace(settings, allowed_peer_accounts=settings.allowed_peer_accounts | members_found)


def assemble(seen: Sequence[Seen], policies: Mapping[tuple[str, str], Settings]) -> World:
    """One world from what each account-region read (a VPC or table read twice counts once)."""
    vpcs: dict[str, Vpc] = {}
    tables: dict[str, RouteTable] = {}
    copies: list[tuple[str, str, Peering]] = []
    for unit in seen:
        for vpc in unit.vpcs:
            # Shared VPCs (RAM) are listed by their participants too: a VPC counts in its owner's unit.
            if vpc.owner_id in ("", unit.account_id):
                vpcs.setdefault(vpc.id, replace(vpc, owner_id=unit.account_id))
        for table in unit.tables:
            tables.setdefault(table.id, table)
        copies += [(unit.account_id, unit.region, peering) for peering in unit.peerings]
    ordered_vpcs = tuple(vpcs[key] for key in sorted(vpcs))
    ordered_tables = tuple(tables[key] for key in sorted(tables))
    lists = {(unit.region, found.id): found for unit in seen for found in unit.prefix_lists}
    return World(ordered_vpcs, merge_peerings(copies), ordered_tables, dict(policies), lists)
