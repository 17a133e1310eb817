"""Concern: each ``DNS_RECORDS`` pair is a simple CNAME to its load balancer's current DNS name.

For every ``record=load-balancer[@region]`` pair, the private hosted zone whose name is the longest
proper suffix of the record (when several private zones share that name: the one associated with a
VPC of this account in this region) holds exactly one simple-routing CNAME ``record`` with the DNS
name of the load balancer of that name in ``region`` (without ``@region``: the function's region) and
``DNS_TTL``:

- no record, a wrong value or a wrong TTL     -> UPSERT the CNAME;
- the right CNAME                             -> nothing to do;
- another type, an alias, a routing policy    -> conflict: left untouched, reported;
- no such load balancer, no such zone         -> problem: the record is left as it is, never blanked.

Route 53 is global and load balancer names are unique per region only. Stacks in several regions
with the same ``DNS_RECORDS`` compute the same value for a pair that names its region, so they agree.
A pair without ``@region`` means a different load balancer in each region: when the record already
points at a load balancer of another region, it is reported as a conflict instead of overwritten,
so two stacks sharing a zone never take turns rewriting it (every sweep would flip it back).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.model import Action, Finding, Plan
from peerkeeper.reconcile import Env, Executor
from peerkeeper.settings import DnsRecord, Settings

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client

CONCERN = "dns"
UPSERT = "upsert-record"
CNAME = "CNAME"
_NAMES_PER_CALL = 20  # DescribeLoadBalancers accepts at most 20 names
_RECORDS_PER_PAGE = "20"
_ROUTING_KEYS = (
    "SetIdentifier",
    "Weight",
    "Region",
    "Failover",
    "GeoLocation",
    "GeoProximityLocation",
    "MultiValueAnswer",
    "CidrRoutingConfig",
)


def normalise_name(name: str) -> str:
    """DNS names compare lower case, without the trailing dot Route 53 returns."""
    return name.strip().rstrip(".").lower()


def bare_zone_id(zone_id: str) -> str:
    return zone_id.rsplit("/", 1)[-1]


# -- observed values --------------------------------------------------------------------------
@dataclass(frozen=True)
class HostedZone:
    id: str  # bare, without ``/hostedzone/``
    name: str  # normalised
    private: bool
    vpcs: tuple[tuple[str, str], ...] = ()  # (region, vpc id); read only when needed to choose


@dataclass(frozen=True)
class RecordSet:
    name: str  # normalised
    type: str
    ttl: int | None = None
    values: tuple[str, ...] = ()
    alias: bool = False
    routing: bool = False  # a routing policy (SetIdentifier, weight, latency, failover ...)


@dataclass(frozen=True)
class DnsWorld:
    """What the DNS planner needs: the pairs in scope and what AWS says about them."""

    region: str
    records: tuple[DnsRecord, ...]
    zones: tuple[HostedZone, ...] = ()
    own_vpcs: frozenset[str] = frozenset()  # this account's VPCs in ``region`` among the zones' VPCs
    # (load balancer's region, lower-case name) -> DNS name
    load_balancers: Mapping[tuple[str, str], str] = field(default_factory=dict)
    record_sets: Mapping[tuple[str, str], tuple[RecordSet, ...]] = field(default_factory=dict)  # (zone, name)


@dataclass(frozen=True)
class ZoneChoice:
    zone: HostedZone | None
    looked_for: tuple[str, ...]  # the zone names tried, longest first
    reason: str = ""


# -- plan (pure) ------------------------------------------------------------------------------
def parent_names(record: str) -> tuple[str, ...]:
    """Proper suffixes of ``record``, longest first: a CNAME can never sit at a zone's apex."""
    labels = normalise_name(record).split(".")
    return tuple(".".join(labels[i:]) for i in range(1, len(labels)))


def choose_zone(record: str, zones: Iterable[HostedZone], own_vpcs: Collection[str], region: str) -> ZoneChoice:
    """The private zone for ``record``: longest suffix; among namesakes, the one on our VPC here."""
    looked_for = parent_names(record)
    private = [zone for zone in zones if zone.private]
    for name in looked_for:
        namesakes = [zone for zone in private if zone.name == name]
        if len(namesakes) == 1:
            return ZoneChoice(namesakes[0], looked_for)
        if namesakes:
            ours = [
                zone
                for zone in namesakes
                if any(vpc_region == region and vpc_id in own_vpcs for vpc_region, vpc_id in zone.vpcs)
            ]
            if len(ours) == 1:
                return ZoneChoice(ours[0], looked_for)
            ids = ", ".join(sorted(zone.id for zone in (ours or namesakes)))
            why = "several are" if ours else "none is"
            return ZoneChoice(None, looked_for, f"private zones {name} ({ids}): {why} associated with a VPC here")
    return ZoneChoice(None, looked_for, f"no private hosted zone named {' or '.join(looked_for)}")


def desired_record(zone: HostedZone, record: str, value: str, ttl: int) -> dict[str, Any]:
    """The ChangeResourceRecordSets arguments that make ``record`` the wanted CNAME."""
    return {
        "HostedZoneId": zone.id,
        "ChangeBatch": {
            "Comment": f"peerkeeper: {record} -> {value}",
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": record,
                        "Type": CNAME,
                        "TTL": ttl,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ],
        },
    }


# The region inside a load balancer's DNS name: classic and application load balancers
# (``[internal-]name-1234.eu-west-1.elb.amazonaws.com``), network load balancers
# (``name-1234.elb.eu-west-1.amazonaws.com``), ``.com.cn`` in China.
_ELB_REGION_RE = re.compile(
    r"(?:\.(?P<alb>[a-z]{2}(?:-[a-z]+)+-\d+)\.elb|\.elb\.(?P<nlb>[a-z]{2}(?:-[a-z]+)+-\d+))\.amazonaws\.com(?:\.cn)?$"
)


def load_balancer_region(dns_name: str) -> str:
    """The region a load balancer's DNS name says it is in, or "" for any other name."""
    match = _ELB_REGION_RE.search(normalise_name(dns_name))
    return (match.group("alb") or match.group("nlb")) if match else ""


def _kind(record_set: RecordSet) -> str:
    alias = " alias" if record_set.alias else ""
    routing = " with a routing policy" if record_set.routing else ""
    return f"{record_set.type}{alias}{routing}"


def drift(existing: tuple[RecordSet, ...], value: str, ttl: int) -> tuple[str, str] | None:
    """``("upsert" | "conflict", why)``, or ``None`` when the record is exactly right."""
    if not existing:
        return "upsert", "is missing"
    simple = [rs for rs in existing if rs.type == CNAME and not rs.alias and not rs.routing]
    if len(simple) != 1 or len(existing) > 1:
        return "conflict", f"holds {', '.join(sorted({_kind(rs) for rs in existing}))}"
    current = simple[0]
    if tuple(normalise_name(v) for v in current.values) != (normalise_name(value),):
        return "upsert", f"points to {', '.join(current.values) or 'nothing'}"
    if current.ttl != ttl:
        return "upsert", f"has TTL {current.ttl}, not {ttl}"
    return None


def _owned_elsewhere(pair: DnsRecord, existing: tuple[RecordSet, ...], region: str) -> str:
    """The other region whose load balancer the record points at, when ``pair`` names no region."""
    if pair.region or len(existing) != 1 or len(existing[0].values) != 1:
        return ""
    other = load_balancer_region(existing[0].values[0])
    return other if other and other != region else ""


def plan(world: DnsWorld, settings: Settings) -> Plan:
    actions: list[Action] = []
    conflicts: list[Finding] = []
    problems: list[Finding] = []
    seen: set[str] = set()
    for pair in world.records:
        record, region = pair.record, world.region
        detail = {"record": record, "load_balancer": pair.load_balancer}
        if record in seen:  # two pairs for one name would fight each other: the first one wins
            problems.append(Finding(record, region, f"{record} is listed more than once in DNS_RECORDS", detail))
            continue
        seen.add(record)
        choice = choose_zone(record, world.zones, world.own_vpcs, region)
        if choice.zone is None:
            zone_detail = {
                **detail,
                "zone": choice.looked_for[0] if choice.looked_for else "",
                "looked_for": list(choice.looked_for),
            }
            problems.append(Finding(record, region, choice.reason, zone_detail))
            continue
        zone = choice.zone
        detail["zone"] = f"{zone.name} ({zone.id})"
        lb_region = pair.load_balancer_region(region)
        detail["load_balancer_region"] = lb_region
        value = world.load_balancers.get((lb_region, pair.load_balancer.lower()))
        if value is None:
            reason = f"load balancer {pair.load_balancer} not found in {lb_region}: record left as it is"
            problems.append(Finding(record, region, reason, detail))
            continue
        existing = world.record_sets.get((zone.id, record), ())
        verdict = drift(existing, value, settings.dns_ttl)
        if verdict is None:
            continue
        kind, why = verdict
        elsewhere = _owned_elsewhere(pair, existing, region) if kind == "upsert" else ""
        if elsewhere:
            kind = "conflict"
            why = (
                f"{why}, a load balancer in {elsewhere}: DNS_RECORDS names no region for {pair.load_balancer}, "
                f"so the stack in {elsewhere} may own it (write {pair.load_balancer}@<region> to say which)"
            )
        reason = f"{record} in {zone.name} {why}"
        if kind == "conflict":
            conflicts.append(Finding(record, region, reason, {**detail, "wanted": f"CNAME {value}"}))
        else:
            params = desired_record(zone, record, value, settings.dns_ttl)
            actions.append(Action(UPSERT, record, region, f"{reason}; wanted {value}", params))
    return Plan(CONCERN, actions=tuple(actions), conflicts=tuple(conflicts), problems=tuple(problems))


# -- observe ----------------------------------------------------------------------------------
def _records_in_scope(settings: Settings, scope: Scope) -> tuple[DnsRecord, ...]:
    """Pairs to look at; zone events are narrowed later, once zones are resolved (no extra call).

    A load balancer event names a load balancer of the event's region: pairs naming that name in
    another region are about another load balancer.
    """
    if scope.whole_region or scope.zone_ids:
        return settings.dns_records
    named = {name.lower() for name in scope.load_balancers}
    return tuple(
        pair
        for pair in settings.dns_records
        if pair.load_balancer.lower() in named and pair.load_balancer_region(settings.region) == scope.region
    )


def _chunks(names: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(names)
    for start in range(0, len(ordered), _NAMES_PER_CALL):
        yield ordered[start : start + _NAMES_PER_CALL]


def _dns_names(items: Iterable[Mapping[str, Any]], wanted: Collection[str]) -> dict[str, str]:
    return {
        str(item["LoadBalancerName"]).lower(): str(item["DNSName"])
        for item in items
        if str(item.get("LoadBalancerName", "")).lower() in wanted and item.get("DNSName")
    }


def _describe_by_names(client: Any, names: Collection[str], names_param: str, key: str) -> dict[str, str]:
    """Lower-case name -> DNS name for those of ``names`` that this API (v2 or classic) knows.

    By names: one call per 20 names. One missing name fails the whole call without saying which, so
    then a single paginated listing of the region's load balancers answers for all names at once
    (cheaper than bisecting the names, and exact).
    """
    wanted = {name.lower() for name in names}
    found: dict[str, str] = {}
    try:
        for chunk in _chunks(names):
            found.update(_dns_names(client.describe_load_balancers(**{names_param: chunk})[key], wanted))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "LoadBalancerNotFound":
            raise
        pages = client.get_paginator("describe_load_balancers").paginate()
        found = _dns_names((item for page in pages for item in page.get(key, [])), wanted)
    return found


def load_balancer_dns_names(clients: Clients, region: str, names: Collection[str]) -> dict[str, str]:
    """Elastic Load Balancing v2 first; the classic API only for names v2 does not know."""
    if not names:
        return {}
    found = _describe_by_names(clients.elbv2(region), names, "Names", "LoadBalancers")
    classic = [name for name in names if name.lower() not in found]
    if classic:
        found.update(_describe_by_names(clients.elb(region), classic, "LoadBalancerNames", "LoadBalancerDescriptions"))
    return found


def parse_zone(item: Mapping[str, Any], vpcs: Iterable[Mapping[str, Any]] = ()) -> HostedZone:
    return HostedZone(
        id=bare_zone_id(str(item["Id"])),
        name=normalise_name(str(item["Name"])),
        private=bool((item.get("Config") or {}).get("PrivateZone")),
        vpcs=tuple((str(vpc.get("VPCRegion", "")), str(vpc.get("VPCId", ""))) for vpc in vpcs),
    )


def parse_record_set(item: Mapping[str, Any]) -> RecordSet:
    return RecordSet(
        name=normalise_name(str(item["Name"])),
        type=str(item["Type"]),
        ttl=item.get("TTL"),
        values=tuple(str(rr["Value"]) for rr in item.get("ResourceRecords") or ()),
        alias=bool(item.get("AliasTarget")),
        routing=any(item.get(key) is not None for key in _ROUTING_KEYS),
    )


def _hosted_zones(route53: Route53Client) -> list[HostedZone]:
    """Every hosted zone of the account (100 a page; usually one call)."""
    page = route53.list_hosted_zones_by_name(MaxItems="100")
    zones = [parse_zone(item) for item in page["HostedZones"]]
    while page.get("IsTruncated"):
        page = route53.list_hosted_zones_by_name(
            DNSName=page["NextDNSName"], HostedZoneId=page["NextHostedZoneId"], MaxItems="100"
        )
        zones += [parse_zone(item) for item in page["HostedZones"]]
    return zones


def _changed_zones(route53: Route53Client, zone_ids: Collection[str]) -> dict[str, HostedZone]:
    """The zones an event names, with their names and VPCs (one GetHostedZone each); a deleted one is left out."""
    found: dict[str, HostedZone] = {}
    for zone_id in sorted(zone_ids):
        try:
            found[zone_id] = _read_zone(route53, zone_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchHostedZone":
                raise
    return found


def _with_vpcs(
    route53: Route53Client,
    zones: list[HostedZone],
    records: Iterable[DnsRecord],
    known: Mapping[str, HostedZone] | None = None,
) -> list[HostedZone]:
    """Read the VPC associations of private namesakes: the only case where they decide the zone.

    ``known`` zones were read with their VPCs already (the zones an event named): not read again.
    """
    known = known or {}
    private = [zone for zone in zones if zone.private]
    contested: set[str] = set()
    for pair in records:
        name = next((name for name in parent_names(pair.record) if any(z.name == name for z in private)), None)
        namesakes = [zone.id for zone in private if zone.name == name]
        if len(namesakes) > 1:
            contested.update(namesakes)
    return [known.get(zone.id) or _read_zone(route53, zone.id) if zone.id in contested else zone for zone in zones]


def _read_zone(route53: Route53Client, zone_id: str) -> HostedZone:
    found = route53.get_hosted_zone(Id=zone_id)
    return parse_zone(found["HostedZone"], found.get("VPCs") or ())


def _own_vpcs(env: Env, region: str, zones: Iterable[HostedZone]) -> frozenset[str]:
    """Which VPCs associated with the zones (in ``region``) belong to this account."""
    ids = {vpc_id for zone in zones for vpc_region, vpc_id in zone.vpcs if vpc_region == region and vpc_id}
    if not ids:
        return frozenset()
    vpcs = env.inventory.vpcs(region, ids)
    return frozenset(vpc.id for vpc in vpcs.values() if vpc.owner_id in (env.account_id, ""))


def _record_sets(route53: Route53Client, zone_id: str, record: str) -> tuple[RecordSet, ...]:
    """Every record set named ``record`` (all types: an A alias there is a conflict), usually one call.

    Listings are sorted by name, then type: start at the name and stop at the first other name.
    """
    found: list[RecordSet] = []
    start: dict[str, Any] = {"StartRecordName": record}
    while True:
        page = route53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems=_RECORDS_PER_PAGE, **start)
        for item in page["ResourceRecordSets"]:
            if normalise_name(item["Name"]) != record:
                return tuple(found)
            found.append(parse_record_set(item))
        if not page.get("IsTruncated") or normalise_name(page.get("NextRecordName", "")) != record:
            return tuple(found)
        start = {"StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}
        if page.get("NextRecordIdentifier"):
            start["StartRecordIdentifier"] = page["NextRecordIdentifier"]


def _touches(pair: DnsRecord, zones: Iterable[HostedZone], zone_ids: Collection[str]) -> bool:
    """Could ``pair``'s record live in one of ``zone_ids``? (Their names are suffixes of it.)"""
    names = set(parent_names(pair.record))
    return any(zone.id in zone_ids and zone.name in names for zone in zones)


def observe(env: Env, scope: Scope) -> DnsWorld:
    """The pairs in scope, the account's zones, and the record sets and load balancers they name."""
    region = scope.region
    records = _records_in_scope(env.settings, scope)
    if not records:
        return DnsWorld(region=region, records=())
    env.inventory.deadline.check("ListHostedZonesByName", pages=0)  # Route 53's reads are not the inventory's
    route53 = env.clients.route53(region)
    changed: dict[str, HostedZone] = {}
    if scope.zone_ids and not scope.whole_region:
        # Route 53's budget is the account's (5 requests/s): a change in a zone that can hold no
        # managed name (ExternalDNS at work elsewhere) costs one GetHostedZone, never the listing.
        changed = _changed_zones(route53, scope.zone_ids)
        records = tuple(pair for pair in records if _touches(pair, changed.values(), changed))
        if not records:
            return DnsWorld(region=region, records=())
    zones = _hosted_zones(route53)  # once per invocation, and only when a managed name may have moved
    zones = _with_vpcs(route53, zones, records, changed)
    own_vpcs = _own_vpcs(env, region, zones)
    chosen = {pair: choose_zone(pair.record, zones, own_vpcs, region).zone for pair in records}
    load_balancers = _load_balancers(env.clients, [pair for pair, zone in chosen.items() if zone], region)
    record_sets = {
        (zone.id, pair.record): _record_sets(route53, zone.id, pair.record)
        for pair, zone in chosen.items()
        if zone is not None and (pair.load_balancer_region(region), pair.load_balancer.lower()) in load_balancers
    }
    return DnsWorld(region, records, tuple(zones), own_vpcs, load_balancers, record_sets)


def _load_balancers(clients: Clients, pairs: Iterable[DnsRecord], region: str) -> dict[tuple[str, str], str]:
    """(region, lower-case name) -> DNS name of the pairs' load balancers, looked up in their regions."""
    by_region: dict[str, set[str]] = {}
    for pair in pairs:
        by_region.setdefault(pair.load_balancer_region(region), set()).add(pair.load_balancer)
    return {
        (lb_region, name): dns_name
        for lb_region, names in sorted(by_region.items())
        for name, dns_name in load_balancer_dns_names(clients, lb_region, names).items()
    }


def plan_for(env: Env, scope: Scope) -> Plan:
    return plan(observe(env, scope), env.settings)


# -- apply ------------------------------------------------------------------------------------
def _upsert(clients: Clients, action: Action) -> None:
    # PriorRequestNotComplete (a concurrent change to the zone) is retried with backoff by botocore:
    # see clients.py and tests/unit/test_dns_retry.py.
    clients.route53(action.region).change_resource_record_sets(**action.params)


EXECUTORS: Mapping[str, Executor] = {UPSERT: _upsert}
