"""Observe for ``why``: find the two ends, then read their network in bulk, counting every read.

Reads, in each region involved, one filtered (paginated) describe per kind:

- network interfaces: one call per kind of identifier asked (instance, interface, IPv4, IPv6);
- for a DNS name: the private zones associated with the source's VPC, the record (followed through
  CNAMEs and aliases), the load balancers of the region, the load balancer's subnets;
- VPCs, route tables and network ACLs of the VPCs involved, the security groups of both ends;
- the peering connections joining the VPCs involved (only when they differ), plus any other connection
  a route on the way points at, and the entries of prefix lists that rules or routes on the way name.

A load balancer is reasoned about through its subnets and security groups: AWS gives it one interface
per subnet, with an address from that subnet (moto creates none), so each subnet is one node whose
address is the subnet's range.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from peerkeeper.clients import Clients
from peerkeeper.reach.analysis import longest_prefix
from peerkeeper.reach.model import (
    Network,
    Node,
    SecurityGroup,
    host,
    network,
    parse_acl,
    parse_peering,
    parse_route_table,
    parse_security_group,
    parse_vpc,
)

_INSTANCE_RE = re.compile(r"^i-[0-9a-f]{8,17}$")
_INTERFACE_RE = re.compile(r"^eni-[0-9a-f]{8,17}$")
_NAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_ELB_REGION_RE = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.(?:elb\.amazonaws\.com|elb\.[a-z0-9.-]+)$")
_ELB_REGION_RE_NLB = re.compile(r"\.elb\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com$")
_INTERFACE_FILTERS = {
    "instance": "attachment.instance-id",
    "interface": "network-interface-id",
    "ipv4": "addresses.private-ip-address",
    "ipv6": "ipv6-addresses.ipv6-address",
}
MAX_CNAME_DEPTH = 8


class InputError(ValueError):
    """A question ``why`` cannot answer as asked (unknown id, address nobody holds, ...): one line."""


# -- reads ------------------------------------------------------------------------------------
@dataclass
class Reader:
    """Every read ``why`` makes goes through here: one count per request (per page)."""

    clients: Clients
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def pages(self, client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in client.get_paginator(operation).paginate(**kwargs):
            self.counts[operation] += 1
            items.extend(page.get(key, []))
        return items

    def call(self, client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
        self.counts[operation] += 1
        return dict(getattr(client, operation)(**kwargs))


def _filters(**values: Iterable[str]) -> list[dict[str, Any]]:
    return [{"Name": name.replace("_", "-"), "Values": sorted(set(v))} for name, v in values.items()]


# -- what was asked ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Ident:
    text: str
    kind: str  # instance | interface | ipv4 | ipv6 | name


def parse_ident(text: str, role: str, *, names: bool = False) -> Ident:
    value = text.strip()
    if _INSTANCE_RE.match(value):
        return Ident(value, "instance")
    if _INTERFACE_RE.match(value):
        return Ident(value, "interface")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return Ident(address.compressed, f"ipv{address.version}")
    name = value.lower().rstrip(".")
    if names and _NAME_RE.match(name):
        return Ident(name, "name")
    what = "an instance ID (i-…), a network interface ID (eni-…)" + (
        ", a private IP address or a DNS name" if names else " or a private IP address"
    )
    raise InputError(f"{role} {text!r} is not {what}")


@dataclass(frozen=True)
class Ends:
    """The resolved question: the source, the destination's nodes, and how the name was followed."""

    source: Node
    destinations: tuple[Node, ...]
    destination: dict[str, Any]  # what the destination is (JSON-ready)


# -- network interfaces -----------------------------------------------------------------------
def _holds(item: Mapping[str, Any], ident: Ident) -> bool:
    if ident.kind == "instance":
        return (item.get("Attachment") or {}).get("InstanceId") == ident.text
    if ident.kind == "interface":
        return bool(item.get("NetworkInterfaceId") == ident.text)
    if ident.kind == "ipv4":
        addresses = {a.get("PrivateIpAddress") for a in item.get("PrivateIpAddresses") or ()}
        return ident.text in addresses | {item.get("PrivateIpAddress")}
    wanted = ipaddress.ip_address(ident.text)
    return any(ipaddress.ip_address(a["Ipv6Address"]) == wanted for a in item.get("Ipv6Addresses") or ())


def find_interfaces(
    reader: Reader, regions: Sequence[str], idents: Sequence[Ident]
) -> dict[Ident, list[tuple[str, dict[str, Any]]]]:
    """The interfaces holding each identifier, region by region until all are found."""
    found: dict[Ident, list[tuple[str, dict[str, Any]]]] = {}
    for region in regions:
        pending = [i for i in dict.fromkeys(idents) if i not in found and i.kind in _INTERFACE_FILTERS]
        by_kind: dict[str, list[Ident]] = defaultdict(list)
        for ident in pending:
            by_kind[ident.kind].append(ident)
        for kind, wanted in by_kind.items():
            filters = [{"Name": _INTERFACE_FILTERS[kind], "Values": sorted({i.text for i in wanted})}]
            items = reader.pages(
                reader.clients.ec2(region), "describe_network_interfaces", "NetworkInterfaces", Filters=filters
            )
            for ident in wanted:
                matches = [(region, item) for item in items if _holds(item, ident)]
                if matches:
                    found[ident] = matches
    return found


def _address(item: Mapping[str, Any], version: int, literal: str | None) -> str | None:
    if literal is not None:
        return literal
    if version == 6:
        v6 = [a["Ipv6Address"] for a in item.get("Ipv6Addresses") or () if a.get("Ipv6Address")]
        return v6[0] if v6 else None
    return item.get("PrivateIpAddress")


def interface_node(item: Mapping[str, Any], region: str, ident: Ident, version: int) -> Node:
    literal = ident.text if ident.kind in ("ipv4", "ipv6") else None
    address = _address(item, version, literal)
    interface = item["NetworkInterfaceId"]
    instance = (item.get("Attachment") or {}).get("InstanceId") or ""
    if address is None:
        raise InputError(f"{ident.text} ({interface}) has no IPv{version} address: the question is about IPv{version}")
    kind, name = ("instance", instance) if instance else ("network-interface", interface)
    return Node(
        kind=kind,
        name=name,
        interface=interface,
        address=host(address),
        subnet_id=item.get("SubnetId", ""),
        vpc_id=item.get("VpcId", ""),
        region=region,
        owner_id=item.get("OwnerId", ""),
        group_ids=tuple(g["GroupId"] for g in item.get("Groups") or ()),
    )


def _pick(
    ident: Ident, matches: list[tuple[str, dict[str, Any]]], role: str, prefer_vpc: str | None
) -> tuple[str, dict[str, Any]]:
    if ident.kind == "instance":
        primary = [m for m in matches if (m[1].get("Attachment") or {}).get("DeviceIndex") == 0]
        return (primary or matches)[0]
    if len(matches) > 1 and prefer_vpc:
        same = [m for m in matches if m[1].get("VpcId") == prefer_vpc]
        matches = same or matches
    if len(matches) > 1:
        held = ", ".join(f"{m[1]['NetworkInterfaceId']} ({m[1].get('VpcId')}, {m[0]})" for m in matches)
        raise InputError(f"{role} {ident.text} is held by several interfaces: {held}; name the interface instead")
    return matches[0]


def _unknown(ident: Ident, role: str, regions: Sequence[str], reader: Reader) -> InputError:
    where = ", ".join(regions)
    if ident.kind in ("ipv4", "ipv6"):
        searched = []
        for region in regions:
            vpcs = reader.pages(reader.clients.ec2(region), "describe_vpcs", "Vpcs")
            searched += [f"{v['VpcId']} ({region})" for v in vpcs]
        listed = ", ".join(searched) or f"none found in {where}"
        return InputError(f"no network interface holds {role} address {ident.text}; VPCs searched: {listed}")
    label = "instance" if ident.kind == "instance" else "network interface"
    return InputError(f"unknown {label} {ident.text} in {where} (pass --region for the region that holds it)")


def family(source: Ident, destination: Ident) -> int:
    versions = {int(i.kind[-1]) for i in (source, destination) if i.kind in ("ipv4", "ipv6")}
    if len(versions) > 1:
        raise InputError(f"{source.text} and {destination.text} are not of the same IP version")
    return versions.pop() if versions else 4


# -- DNS names --------------------------------------------------------------------------------
def _zones_of(reader: Reader, vpc_id: str, region: str) -> list[tuple[str, str]]:
    """(name, id) of the private hosted zones associated with the VPC."""
    route53, zones, token = reader.clients.route53(), [], None
    while True:
        kwargs: dict[str, Any] = {"VPCId": vpc_id, "VPCRegion": region}
        if token:
            kwargs["NextToken"] = token
        page = reader.call(route53, "list_hosted_zones_by_vpc", **kwargs)
        zones += [(z["Name"].rstrip(".").lower(), z["HostedZoneId"]) for z in page.get("HostedZoneSummaries", [])]
        token = page.get("NextToken")
        if not token:
            return zones


def _zone_for(name: str, zones: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    holding = [z for z in zones if name == z[0] or name.endswith("." + z[0])]
    return max(holding, key=lambda z: len(z[0])) if holding else None


def _record(reader: Reader, zone_id: str, name: str) -> list[dict[str, Any]]:
    page = reader.call(
        reader.clients.route53(), "list_resource_record_sets", HostedZoneId=zone_id, StartRecordName=name, MaxItems="20"
    )
    return [r for r in page.get("ResourceRecordSets", []) if r["Name"].rstrip(".").lower() == name]


@dataclass(frozen=True)
class Resolved:
    chain: tuple[str, ...]
    addresses: tuple[str, ...] = ()
    target: str = ""  # a name outside the private zones (a load balancer's DNS name)


def resolve_name(reader: Reader, name: str, vpc_id: str, region: str) -> Resolved:
    """Follow ``name`` through the private zones associated with the VPC (CNAMEs and aliases)."""
    zones = _zones_of(reader, vpc_id, region)
    chain: list[str] = []
    current = name
    for _ in range(MAX_CNAME_DEPTH):
        zone = _zone_for(current, zones)
        if zone is None:
            if not chain and not _is_load_balancer_name(current):
                listed = ", ".join(z[0] for z in zones) or "none"
                raise InputError(
                    f"no private hosted zone associated with {vpc_id} ({region}) holds {name} (zones: {listed})"
                )
            return Resolved(tuple(chain), target=current)
        records = _record(reader, zone[1], current)
        addresses = [v["Value"] for r in records if r["Type"] in ("A", "AAAA") for v in r.get("ResourceRecords") or ()]
        if addresses:
            chain.append(f"{current} {records[0]['Type']} {', '.join(addresses)}")
            return Resolved(tuple(chain), addresses=tuple(addresses))
        following = next(
            (
                (
                    r["Type"],
                    (r.get("AliasTarget") or {}).get("DNSName") or (r.get("ResourceRecords") or [{}])[0].get("Value"),
                )
                for r in records
                if r["Type"] == "CNAME" or r.get("AliasTarget")
            ),
            None,
        )
        if following is None or not following[1]:
            raise InputError(
                f"the private zone {zone[0]} ({zone[1]}) holds no A, AAAA, CNAME or alias record {current}"
            )
        target = str(following[1]).rstrip(".").lower()
        chain.append(f"{current} {'ALIAS' if following[0] != 'CNAME' else 'CNAME'} {target}")
        current = target
    raise InputError(f"{name}: more than {MAX_CNAME_DEPTH} CNAMEs in a row")


def _is_load_balancer_name(name: str) -> bool:
    """A load balancer's own DNS name (``….elb.amazonaws.com``, ``….elb.<region>.amazonaws.com``)."""
    return bool(_ELB_REGION_RE_NLB.search(name) or _ELB_REGION_RE.search(name))


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    region: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    kind: str  # application | network | gateway | classic
    scheme: str


def _lb_region(dns: str, fallback: str) -> str:
    found = _ELB_REGION_RE_NLB.search(dns) or _ELB_REGION_RE.search(dns)
    return found.group(1) if found else fallback


def find_load_balancer(reader: Reader, dns: str, fallback_region: str) -> LoadBalancer | None:
    wanted = dns.removeprefix("dualstack.")
    region = _lb_region(wanted, fallback_region)
    v2 = reader.pages(reader.clients.elbv2(region), "describe_load_balancers", "LoadBalancers")
    for lb in v2:
        if str(lb.get("DNSName", "")).rstrip(".").lower() == wanted:
            subnets = tuple(z["SubnetId"] for z in lb.get("AvailabilityZones") or () if z.get("SubnetId"))
            groups = tuple(lb.get("SecurityGroups") or ())
            kind = lb.get("Type", "application")
            return LoadBalancer(
                lb["LoadBalancerName"], region, lb.get("VpcId", ""), subnets, groups, kind, lb.get("Scheme", "")
            )
    classic = reader.pages(reader.clients.elb(region), "describe_load_balancers", "LoadBalancerDescriptions")
    for lb in classic:
        if str(lb.get("DNSName", "")).rstrip(".").lower() == wanted:
            groups = tuple(lb.get("SecurityGroups") or ())
            subnets = tuple(lb.get("Subnets") or ())
            return LoadBalancer(
                lb["LoadBalancerName"], region, lb.get("VPCId", ""), subnets, groups, "classic", lb.get("Scheme", "")
            )
    return None


def load_balancer_nodes(reader: Reader, lb: LoadBalancer, version: int) -> list[Node]:
    ec2 = reader.clients.ec2(lb.region)
    subnets = reader.pages(ec2, "describe_subnets", "Subnets", Filters=_filters(subnet_id=lb.subnet_ids))
    nodes = []
    for subnet in subnets:
        v6 = [a["Ipv6CidrBlock"] for a in subnet.get("Ipv6CidrBlockAssociationSet") or () if a.get("Ipv6CidrBlock")]
        cidr = (v6[0] if v6 else None) if version == 6 else subnet.get("CidrBlock")
        if not cidr:
            continue
        nodes.append(
            Node(
                kind="load-balancer",
                name=lb.name,
                interface="",
                address=network(cidr),
                subnet_id=subnet["SubnetId"],
                vpc_id=subnet.get("VpcId") or lb.vpc_id,
                region=lb.region,
                owner_id=subnet.get("OwnerId", ""),
                group_ids=lb.group_ids,
            )
        )
    nodes.sort(key=lambda node: (node.address.version, int(node.address.network_address)))
    if not nodes:
        raise InputError(f"load balancer {lb.name} ({lb.region}) has no subnet with an IPv{version} range")
    return nodes


# -- the ends ---------------------------------------------------------------------------------
def find_ends(reader: Reader, regions: Sequence[str], source_text: str, destination_text: str) -> Ends:
    source_id = parse_ident(source_text, "SOURCE")
    destination_id = parse_ident(destination_text, "DESTINATION", names=True)
    version = family(source_id, destination_id)
    asked = [source_id] + ([destination_id] if destination_id.kind != "name" else [])
    found = find_interfaces(reader, regions, asked)
    if source_id not in found:
        raise _unknown(source_id, "SOURCE", regions, reader)
    region, item = _pick(source_id, found[source_id], "SOURCE", None)
    source = interface_node(item, region, source_id, version)
    if destination_id.kind == "name":
        return _named_destination(reader, regions, source, destination_id, (region, item, source_id))
    if destination_id not in found:
        raise _unknown(destination_id, "DESTINATION", regions, reader)
    region, item = _pick(destination_id, found[destination_id], "DESTINATION", source.vpc_id)
    destination = interface_node(item, region, destination_id, version)
    return Ends(source, (destination,), {"input": destination_text, **destination.to_dict()})


def _named_destination(
    reader: Reader, regions: Sequence[str], source: Node, name: Ident, found_source: tuple[str, dict[str, Any], Ident]
) -> Ends:
    resolved = resolve_name(reader, name.text, source.vpc_id, source.region)
    described: dict[str, Any] = {"input": name.text, "kind": "dns-name", "resolution": list(resolved.chain)}
    version: int = source.address.version
    if resolved.addresses:
        idents = [parse_ident(a, "DESTINATION") for a in resolved.addresses]
        idents = [i for i in idents if i.kind == f"ipv{version}"] or idents
        if int(idents[0].kind[-1]) != version:  # the name has only addresses of the other version
            region, item, source_id = found_source
            version = family(source_id, idents[0])
            source = interface_node(item, region, source_id, version)
        found = find_interfaces(reader, [source.region, *regions], idents)
        nodes = []
        for ident in idents:
            if ident not in found:
                raise InputError(f"{name.text} resolves to {ident.text}, which no network interface holds")
            region, item = _pick(ident, found[ident], "DESTINATION", source.vpc_id)
            nodes.append(interface_node(item, region, ident, int(ident.kind[-1])))
        described["nodes"] = [n.to_dict() for n in nodes]
        return Ends(source, tuple(nodes), described)
    lb = find_load_balancer(reader, resolved.target, source.region)
    if lb is None:
        raise InputError(
            f"{name.text} leads to {resolved.target}, which is neither in a private zone of {source.vpc_id} "
            "nor a load balancer peerkeeper can see"
        )
    nodes = load_balancer_nodes(reader, lb, version)
    described.update(
        {
            "load_balancer": {
                "name": lb.name,
                "type": lb.kind,
                "scheme": lb.scheme,
                "region": lb.region,
                "vpc": lb.vpc_id,
            },
            "nodes": [n.to_dict() for n in nodes],
            "note": (
                "a load balancer has one network interface per subnet with an address from that subnet; "
                "each subnet is analysed over its whole range"
            ),
        }
    )
    return Ends(source, tuple(nodes), described)


# -- the network between them -----------------------------------------------------------------
@dataclass
class Observed:
    """The parsed network, and the raw items the route planner takes (for "run peerkeeper apply")."""

    network: Network
    raw_vpcs: list[tuple[str, dict[str, Any]]]
    raw_tables: list[tuple[str, dict[str, Any]]]
    raw_peerings: list[tuple[str, dict[str, Any]]]


def observe_network(reader: Reader, ends: Ends) -> Observed:
    nodes = [ends.source, *ends.destinations]
    vpcs_by_region: dict[str, set[str]] = defaultdict(set)
    groups_by_region: dict[str, set[str]] = defaultdict(set)
    for node in nodes:
        vpcs_by_region[node.region].add(node.vpc_id)
        groups_by_region[node.region].update(node.group_ids)
    raw_vpcs, raw_tables, acls, groups = [], [], [], {}
    for region, vpc_ids in sorted(vpcs_by_region.items()):
        ec2 = reader.clients.ec2(region)
        raw_vpcs += [(region, v) for v in reader.pages(ec2, "describe_vpcs", "Vpcs", Filters=_filters(vpc_id=vpc_ids))]
        tables = reader.pages(ec2, "describe_route_tables", "RouteTables", Filters=_filters(vpc_id=vpc_ids))
        raw_tables += [(region, t) for t in tables]
        acls += [
            parse_acl(a)
            for a in reader.pages(ec2, "describe_network_acls", "NetworkAcls", Filters=_filters(vpc_id=vpc_ids))
        ]
        if groups_by_region[region]:
            found = reader.pages(
                ec2, "describe_security_groups", "SecurityGroups", Filters=_filters(group_id=groups_by_region[region])
            )
            groups.update({g["GroupId"]: parse_security_group(g) for g in found})
    net = Network(
        vpcs={v["VpcId"]: parse_vpc(v, region) for region, v in raw_vpcs},
        route_tables=tuple(parse_route_table(t, region) for region, t in raw_tables),
        acls=tuple(acls),
        groups=groups,
    )
    net = replace(net, prefix_lists=_prefix_lists(reader, net, groups))
    raw_peerings = _peerings(reader, ends, net)
    peerings = {p["VpcPeeringConnectionId"]: parse_peering(p, region) for region, p in raw_peerings}
    return Observed(replace(net, peerings=peerings), raw_vpcs, raw_tables, raw_peerings)


def _prefix_lists(reader: Reader, net: Network, groups: Mapping[str, SecurityGroup]) -> dict[str, tuple[str, ...]]:
    wanted: dict[str, str] = {}
    regions = {t.vpc_id: t.region for t in net.route_tables}
    for group in groups.values():
        for rule in group.rules:
            if rule.peer_kind == "prefix-list":
                wanted.setdefault(rule.peer, regions.get(group.vpc_id, ""))
    for table in net.route_tables:
        for route in table.routes:
            if route.prefix_list:
                wanted.setdefault(route.destination, table.region)
    entries = {}
    for prefix_list, region in sorted(wanted.items()):
        if not region:
            continue
        found = reader.pages(
            reader.clients.ec2(region), "get_managed_prefix_list_entries", "Entries", PrefixListId=prefix_list
        )
        entries[prefix_list] = tuple(network(e["Cidr"]).compressed for e in found)
    return entries


def _peerings(reader: Reader, ends: Ends, net: Network) -> list[tuple[str, dict[str, Any]]]:
    """Connections joining the VPCs involved, and any other connection a route on the way uses."""
    source = ends.source
    vpc_ids = {source.vpc_id} | {n.vpc_id for n in ends.destinations}
    found: list[tuple[str, dict[str, Any]]] = []
    if len(vpc_ids) > 1:
        ec2 = reader.clients.ec2(source.region)
        filters = _filters(**{"requester-vpc-info.vpc-id": vpc_ids, "accepter-vpc-info.vpc-id": vpc_ids})
        items = reader.pages(ec2, "describe_vpc_peering_connections", "VpcPeeringConnections", Filters=filters)
        found = [(source.region, p) for p in items if _joins_two(p, vpc_ids)]  # moto ignores these filters
    known = {p["VpcPeeringConnectionId"] for _, p in found}
    used: dict[str, set[str]] = defaultdict(set)
    for sender, receiver in [(source, d) for d in ends.destinations] + [(d, source) for d in ends.destinations]:
        table = net.route_table_of(sender.subnet_id, sender.vpc_id)
        routes = longest_prefix(table, receiver.address, net.prefix_lists) if table else []
        if routes and routes[0].target.startswith("pcx-") and routes[0].target not in known:
            used[sender.region].add(routes[0].target)
    for region, ids in sorted(used.items()):
        filters = _filters(**{"vpc-peering-connection-id": ids})
        items = reader.pages(
            reader.clients.ec2(region), "describe_vpc_peering_connections", "VpcPeeringConnections", Filters=filters
        )
        found += [(region, p) for p in items if p["VpcPeeringConnectionId"] in ids]
    return found


def _joins_two(item: Mapping[str, Any], vpc_ids: set[str]) -> bool:
    requester = (item.get("RequesterVpcInfo") or {}).get("VpcId")
    accepter = (item.get("AccepterVpcInfo") or {}).get("VpcId")
    return requester in vpc_ids and accepter in vpc_ids and requester != accepter
