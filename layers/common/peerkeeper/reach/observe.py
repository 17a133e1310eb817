"""Observe for ``why``: find the two ends, then read their network in bulk, counting every read.

Reads, in each region involved (and, with ``--account``, in the account holding each end, through
its assumed role), one filtered (paginated) describe per kind:

- instances asked by ID: DescribeInstances (their interfaces and states in one call); interfaces and
  addresses: one DescribeNetworkInterfaces per kind of identifier (interface, IPv4, IPv6), then one
  DescribeInstances for the states of the instances holding them;
- for a DNS name: the private zones associated with the source's VPC (Route 53 of the question's
  partition), the record (followed through CNAMEs and aliases), the load balancers of the region, the
  load balancer's listeners (DescribeListeners, one call; a classic one lists them itself) and subnets;
- for an internet-facing load balancer: the NAT gateway the source's route to the internet names;
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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from peerkeeper.clients import Clients
from peerkeeper.reach.analysis import longest_prefix
from peerkeeper.reach.model import (
    Listener,
    LoadBalancer,
    NatGateway,
    Network,
    Node,
    SecurityGroup,
    host,
    network,
    parse_acl,
    parse_nat_gateway,
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
    """Every read ``why`` makes goes through here: one count per request (per page).

    ``accounts`` are the other accounts entered with ``--account`` (their assumed roles' clients);
    the caller's own account is ``""``. Each end is read with the credentials that found it.
    """

    clients: Clients
    counts: Counter[str] = field(default_factory=Counter)
    accounts: Mapping[str, Clients] = field(default_factory=dict)

    def clients_for(self, account: str) -> Clients:
        return self.accounts[account] if account else self.clients

    @property
    def every_account(self) -> list[str]:
        return ["", *self.accounts]

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
    targets: tuple[Node, ...] = ()  # a load balancer's registered targets, when asked (--to-targets)


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


@dataclass(frozen=True)
class Found:
    """An interface as DescribeNetworkInterfaces (or an instance's DescribeInstances) returns it."""

    region: str
    item: Mapping[str, Any]
    account: str = ""  # "" the caller; else the account entered with --account whose role read it
    state: str = ""  # the instance's state, when read with DescribeInstances


def _instance_interfaces(instances: Iterable[Mapping[str, Any]]) -> Iterator[tuple[dict[str, Any], str]]:
    """Each instance's interfaces in DescribeNetworkInterfaces' shape (the instance ID in the attachment)."""
    for instance in instances:
        state = str((instance.get("State") or {}).get("Name", ""))
        for interface in instance.get("NetworkInterfaces") or ():
            attachment = {**(interface.get("Attachment") or {}), "InstanceId": instance["InstanceId"]}
            yield {**interface, "Attachment": attachment}, state


def describe_instances(reader: Reader, account: str, region: str, instance_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Instances by ID through a filter (an unknown ID is no error), every page, one call."""
    ec2 = reader.clients_for(account).ec2(region)
    reservations = reader.pages(ec2, "describe_instances", "Reservations", Filters=_filters(instance_id=instance_ids))
    return [instance for reservation in reservations for instance in reservation.get("Instances") or ()]


def find_interfaces(reader: Reader, regions: Sequence[str], idents: Sequence[Ident]) -> dict[Ident, list[Found]]:
    """The interfaces holding each identifier, account by account, region by region until all are found.

    An instance is read with DescribeInstances, which gives its state with its interfaces.
    """
    found: dict[Ident, list[Found]] = {}
    for account in reader.every_account:
        for region in regions:
            pending = [i for i in dict.fromkeys(idents) if i not in found and i.kind in _INTERFACE_FILTERS]
            by_kind: dict[str, list[Ident]] = defaultdict(list)
            for ident in pending:
                by_kind[ident.kind].append(ident)
            for kind, wanted in by_kind.items():
                if kind == "instance":
                    instances = describe_instances(reader, account, region, (i.text for i in wanted))
                    items = list(_instance_interfaces(instances))
                else:
                    filters = [{"Name": _INTERFACE_FILTERS[kind], "Values": sorted({i.text for i in wanted})}]
                    ec2 = reader.clients_for(account).ec2(region)
                    listed = reader.pages(ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=filters)
                    items = [(item, "") for item in listed]
                for ident in wanted:
                    matches = [Found(region, item, account, state) for item, state in items if _holds(item, ident)]
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


def interface_node(found: Found, ident: Ident, version: int) -> Node:
    item = found.item
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
        region=found.region,
        owner_id=item.get("OwnerId", ""),
        group_ids=tuple(g["GroupId"] for g in item.get("Groups") or ()),
        state=found.state,
        public_address=str((item.get("Association") or {}).get("PublicIp") or ""),
        account=found.account,
    )


def _pick(ident: Ident, matches: list[Found], role: str, prefer_vpc: str | None) -> Found:
    if ident.kind == "instance":
        primary = [m for m in matches if (m.item.get("Attachment") or {}).get("DeviceIndex") == 0]
        return (primary or matches)[0]
    if len(matches) > 1 and prefer_vpc:
        same = [m for m in matches if m.item.get("VpcId") == prefer_vpc]
        matches = same or matches
    if len(matches) > 1:
        held = ", ".join(f"{m.item['NetworkInterfaceId']} ({m.item.get('VpcId')}, {m.region})" for m in matches)
        raise InputError(f"{role} {ident.text} is held by several interfaces: {held}; name the interface instead")
    return matches[0]


def with_states(reader: Reader, nodes: Sequence[Node]) -> list[Node]:
    """Instances found by an address or an interface get their state: one DescribeInstances per region."""
    unknown: dict[tuple[str, str], set[str]] = defaultdict(set)
    for node in nodes:
        if node.kind == "instance" and not node.state:
            unknown[(node.account, node.region)].add(node.name)
    states: dict[str, str] = {}
    for (account, region), ids in sorted(unknown.items()):
        for instance in describe_instances(reader, account, region, ids):
            states[instance["InstanceId"]] = str((instance.get("State") or {}).get("Name", ""))
    return [replace(n, state=states.get(n.name, n.state)) if n.kind == "instance" else n for n in nodes]


def _unknown(ident: Ident, role: str, regions: Sequence[str], reader: Reader) -> InputError:
    where = ", ".join(regions)
    if ident.kind in ("ipv4", "ipv6"):
        searched = []
        for account in reader.every_account:
            for region in regions:
                vpcs = reader.pages(reader.clients_for(account).ec2(region), "describe_vpcs", "Vpcs")
                searched += [f"{v['VpcId']} ({region}{', ' + account if account else ''})" for v in vpcs]
        listed = ", ".join(searched) or f"none found in {where}"
        return InputError(f"no network interface holds {role} address {ident.text}; VPCs searched: {listed}")
    label = "instance" if ident.kind == "instance" else "network interface"
    if reader.accounts:
        where += f" of this account and {', '.join(reader.accounts)}"
    return InputError(f"unknown {label} {ident.text} in {where} (pass --region for the region that holds it)")


def family(source: Ident, destination: Ident) -> int:
    versions = {int(i.kind[-1]) for i in (source, destination) if i.kind in ("ipv4", "ipv6")}
    if len(versions) > 1:
        raise InputError(f"{source.text} and {destination.text} are not of the same IP version")
    return versions.pop() if versions else 4


# -- DNS names --------------------------------------------------------------------------------
def _zones_of(reader: Reader, vpc_id: str, region: str, account: str = "") -> list[tuple[str, str]]:
    """(name, id) of the private hosted zones associated with the VPC (Route 53 of the VPC's partition)."""
    route53, zones, token = reader.clients_for(account).route53(region), [], None
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


def _record(reader: Reader, zone_id: str, name: str, region: str, account: str = "") -> list[dict[str, Any]]:
    route53 = reader.clients_for(account).route53(region)
    page = reader.call(route53, "list_resource_record_sets", HostedZoneId=zone_id, StartRecordName=name, MaxItems="20")
    return [r for r in page.get("ResourceRecordSets", []) if r["Name"].rstrip(".").lower() == name]


@dataclass(frozen=True)
class Resolved:
    chain: tuple[str, ...]
    addresses: tuple[str, ...] = ()
    target: str = ""  # a name outside the private zones (a load balancer's DNS name)


def resolve_name(reader: Reader, name: str, vpc_id: str, region: str, account: str = "") -> Resolved:
    """Follow ``name`` through the private zones associated with the VPC (CNAMEs and aliases)."""
    zones = _zones_of(reader, vpc_id, region, account)
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
        records = _record(reader, zone[1], current, region, account)
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


def _lb_region(dns: str, fallback: str) -> str:
    found = _ELB_REGION_RE_NLB.search(dns) or _ELB_REGION_RE.search(dns)
    return found.group(1) if found else fallback


def find_load_balancer(
    reader: Reader, dns: str, fallback_region: str, accounts: Sequence[str]
) -> tuple[LoadBalancer, str] | None:
    """The load balancer of that DNS name, with its listeners (one DescribeListeners for a v2 one)."""
    wanted = dns.removeprefix("dualstack.")
    region = _lb_region(wanted, fallback_region)
    for account in accounts:
        clients = reader.clients_for(account)
        v2 = reader.pages(clients.elbv2(region), "describe_load_balancers", "LoadBalancers")
        for lb in v2:
            if str(lb.get("DNSName", "")).rstrip(".").lower() == wanted:
                return _v2_load_balancer(reader, clients, region, lb), account
        classic = reader.pages(clients.elb(region), "describe_load_balancers", "LoadBalancerDescriptions")
        for lb in classic:
            if str(lb.get("DNSName", "")).rstrip(".").lower() == wanted:
                listeners = tuple(
                    Listener(str(d["Listener"]["Protocol"]).upper(), int(d["Listener"]["LoadBalancerPort"]))
                    for d in lb.get("ListenerDescriptions") or ()
                    if d.get("Listener")
                )
                found = LoadBalancer(
                    lb["LoadBalancerName"], region, lb.get("VPCId", ""), tuple(lb.get("Subnets") or ()),
                    tuple(lb.get("SecurityGroups") or ()), "classic", lb.get("Scheme", ""), "", listeners,
                )  # fmt: skip
                return found, account
    return None


def _v2_load_balancer(reader: Reader, clients: Clients, region: str, lb: Mapping[str, Any]) -> LoadBalancer:
    arn = lb["LoadBalancerArn"]
    listed = reader.pages(clients.elbv2(region), "describe_listeners", "Listeners", LoadBalancerArn=arn)
    listeners = tuple(
        Listener(str(item.get("Protocol") or "TCP").upper(), int(item["Port"]), _forwards_to(item))
        for item in listed
        if item.get("Port")
    )
    return LoadBalancer(
        name=lb["LoadBalancerName"],
        region=region,
        vpc_id=lb.get("VpcId", ""),
        subnet_ids=tuple(z["SubnetId"] for z in lb.get("AvailabilityZones") or () if z.get("SubnetId")),
        group_ids=tuple(lb.get("SecurityGroups") or ()),
        kind=lb.get("Type", "application"),
        scheme=lb.get("Scheme", ""),
        arn=arn,
        listeners=tuple(sorted(set(listeners), key=lambda listener: (listener.port, listener.protocol))),
    )


def _forwards_to(listener: Mapping[str, Any]) -> tuple[str, ...]:
    """The target groups a listener's default actions forward to (one, or a weighted set)."""
    arns: list[str] = []
    for action in listener.get("DefaultActions") or ():
        if action.get("TargetGroupArn"):
            arns.append(action["TargetGroupArn"])
        arns += [g["TargetGroupArn"] for g in (action.get("ForwardConfig") or {}).get("TargetGroups") or ()]
    return tuple(dict.fromkeys(arns))


@dataclass(frozen=True)
class LbTarget:
    """A target registered in a target group that a listener serving the question forwards to."""

    target_group: str
    node: Node
    protocol: str  # tcp | udp
    port: int


def find_targets(reader: Reader, lb_node: Node, protocol: str, port: int | None) -> tuple[list[LbTarget], list[str]]:
    """The registered targets behind the listeners that serve ``protocol``/``port``, and notes on the
    targets left out (Lambda functions, other load balancers, targets no interface holds).

    Reads: DescribeTargetGroups (the groups of those listeners), DescribeTargetHealth per group (the only
    call listing registered targets; the health it returns is not judged), then one DescribeInstances
    and one DescribeNetworkInterfaces at most for the targets' interfaces.
    """
    lb = lb_node.load_balancer
    if lb is None or not lb.arn:
        raise InputError("--to-targets needs an application or network load balancer as DESTINATION")
    number = "6" if protocol == "tcp" else "17"
    arns = sorted(
        {arn for listener in lb.listeners if listener.serves(number) and port in (None, listener.port)
         for arn in listener.target_groups}
    )  # fmt: skip
    if not arns:
        return [], []
    registered, notes = _registered(reader, reader.clients_for(lb_node.account).elbv2(lb.region), arns)
    interfaces = _target_interfaces(reader, lb_node.account, lb.region, registered)
    targets = []
    for group_arn, kind, target_id, target_port in registered:
        held = interfaces.get(target_id)
        if held is None:
            notes.append(f"{target_id} (registered in {group_arn}) is held by no interface peerkeeper can see")
            continue
        ident = Ident(target_id, "instance" if kind == "instance" else "ipv4")
        targets.append(LbTarget(group_arn, interface_node(held, ident, 4), protocol, target_port))
    return targets, notes


def _registered(reader: Reader, elbv2: Any, arns: Sequence[str]) -> tuple[list[tuple[str, str, str, int]], list[str]]:
    """(group, type, id, port) of each instance or IP target, and a note for each other target."""
    registered: list[tuple[str, str, str, int]] = []
    notes: list[str] = []
    for group in reader.pages(elbv2, "describe_target_groups", "TargetGroups", TargetGroupArns=list(arns)):
        kind = group.get("TargetType", "instance")
        listed = reader.call(elbv2, "describe_target_health", TargetGroupArn=group["TargetGroupArn"])
        for item in listed.get("TargetHealthDescriptions") or ():
            target = item["Target"]
            if kind in ("instance", "ip"):
                port = int(target.get("Port") or group.get("Port") or 0)
                registered.append((group["TargetGroupArn"], kind, target["Id"], port))
            else:
                notes.append(f"{target['Id']} ({kind} target of {group.get('TargetGroupName')}) is not analysed")
    return registered, notes


def _target_interfaces(
    reader: Reader, account: str, region: str, registered: Sequence[tuple[str, str, str, int]]
) -> dict[str, Found]:
    """Each target's interface: an instance's primary one (with its state), an address's holder."""
    instance_ids = sorted({t[2] for t in registered if t[1] == "instance"})
    addresses = sorted({t[2] for t in registered if t[1] == "ip"})
    interfaces: dict[str, Found] = {}
    if instance_ids:
        for item, state in _instance_interfaces(describe_instances(reader, account, region, instance_ids)):
            if (item.get("Attachment") or {}).get("DeviceIndex", 0) == 0:
                interfaces[item["Attachment"]["InstanceId"]] = Found(region, item, account, state)
    if addresses:
        found = reader.pages(
            reader.clients_for(account).ec2(region), "describe_network_interfaces", "NetworkInterfaces",
            Filters=_filters(**{"addresses.private-ip-address": addresses}),
        )  # fmt: skip
        for item in found:
            for address in addresses:
                if _holds(item, Ident(address, "ipv4")):
                    interfaces[address] = Found(region, item, account)
    return interfaces


def load_balancer_nodes(reader: Reader, lb: LoadBalancer, version: int, account: str = "") -> list[Node]:
    ec2 = reader.clients_for(account).ec2(lb.region)
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
                account=account,
                load_balancer=lb,
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
    source_found = _pick(source_id, found[source_id], "SOURCE", None)
    source = interface_node(source_found, source_id, version)
    if destination_id.kind == "name":
        ends = _named_destination(reader, regions, source, destination_id, (source_found, source_id))
    else:
        if destination_id not in found:
            raise _unknown(destination_id, "DESTINATION", regions, reader)
        chosen = _pick(destination_id, found[destination_id], "DESTINATION", source.vpc_id)
        destination = interface_node(chosen, destination_id, version)
        ends = Ends(source, (destination,), {"input": destination_text, **destination.to_dict()})
    nodes = with_states(reader, [ends.source, *ends.destinations])
    ends = Ends(nodes[0], tuple(nodes[1:]), ends.destination)
    if destination_id.kind != "name":
        ends.destination.update(ends.destinations[0].to_dict())
    return ends


LOAD_BALANCER_NOTE = (
    "a load balancer has one network interface per subnet with an address from that subnet; "
    "each subnet is analysed over its whole range"
)
INTERNET_FACING_NOTE = (
    "internet-facing: its name resolves to public addresses, so the source reaches it through its own route "
    "to the internet (a NAT gateway or an internet gateway), never over a peering connection; its network ACL "
    "and security groups see the source's public address (the NAT gateway's); the public addresses of the load "
    "balancer are not read: rules on the source's side must allow any public address"
)


def _named_destination(
    reader: Reader, regions: Sequence[str], source: Node, name: Ident, found_source: tuple[Found, Ident]
) -> Ends:
    resolved = resolve_name(reader, name.text, source.vpc_id, source.region, source.account)
    described: dict[str, Any] = {"input": name.text, "kind": "dns-name", "resolution": list(resolved.chain)}
    version: int = source.address.version
    if resolved.addresses:
        idents = [parse_ident(a, "DESTINATION") for a in resolved.addresses]
        idents = [i for i in idents if i.kind == f"ipv{version}"] or idents
        if int(idents[0].kind[-1]) != version:  # the name has only addresses of the other version
            source_found, source_id = found_source
            version = family(source_id, idents[0])
            source = interface_node(source_found, source_id, version)
        found = find_interfaces(reader, [source.region, *regions], idents)
        nodes = []
        for ident in idents:
            if ident not in found:
                raise InputError(f"{name.text} resolves to {ident.text}, which no network interface holds")
            chosen = _pick(ident, found[ident], "DESTINATION", source.vpc_id)
            nodes.append(interface_node(chosen, ident, int(ident.kind[-1])))
        described["nodes"] = [n.to_dict() for n in nodes]
        return Ends(source, tuple(nodes), described)
    accounts = [source.account, *(a for a in reader.every_account if a != source.account)]
    located = find_load_balancer(reader, resolved.target, source.region, accounts)
    if located is None:
        raise InputError(
            f"{name.text} leads to {resolved.target}, which is neither in a private zone of {source.vpc_id} "
            "nor a load balancer peerkeeper can see"
        )
    lb, account = located
    nodes = load_balancer_nodes(reader, lb, version, account)
    described.update(
        {
            "load_balancer": {
                "name": lb.name,
                "type": lb.kind,
                "scheme": lb.scheme,
                "region": lb.region,
                "vpc": lb.vpc_id,
                "arn": lb.arn or None,
                "listeners": [{"protocol": listener.protocol, "port": listener.port} for listener in lb.listeners],
            },
            "nodes": [n.to_dict() for n in nodes],
            "note": INTERNET_FACING_NOTE if lb.internet_facing else LOAD_BALANCER_NOTE,
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
    """Each end's VPC read in its own account and region: VPCs, route tables, ACLs, its groups."""
    nodes = [ends.source, *ends.destinations, *ends.targets]
    vpcs_by_place: dict[tuple[str, str], set[str]] = defaultdict(set)
    groups_by_place: dict[tuple[str, str], set[str]] = defaultdict(set)
    for node in nodes:
        vpcs_by_place[(node.account, node.region)].add(node.vpc_id)
        groups_by_place[(node.account, node.region)].update(node.group_ids)
    raw_vpcs, raw_tables, acls, groups = [], [], [], {}
    places: dict[str, tuple[str, str]] = {}  # VPC -> (account, region) that read it
    for (account, region), vpc_ids in sorted(vpcs_by_place.items()):
        ec2 = reader.clients_for(account).ec2(region)
        places.update({vpc_id: (account, region) for vpc_id in vpc_ids})
        raw_vpcs += [(region, v) for v in reader.pages(ec2, "describe_vpcs", "Vpcs", Filters=_filters(vpc_id=vpc_ids))]
        tables = reader.pages(ec2, "describe_route_tables", "RouteTables", Filters=_filters(vpc_id=vpc_ids))
        raw_tables += [(region, t) for t in tables]
        acls += [
            parse_acl(a)
            for a in reader.pages(ec2, "describe_network_acls", "NetworkAcls", Filters=_filters(vpc_id=vpc_ids))
        ]
        if groups_by_place[(account, region)]:
            found = reader.pages(
                ec2,
                "describe_security_groups",
                "SecurityGroups",
                Filters=_filters(group_id=groups_by_place[(account, region)]),
            )
            groups.update({g["GroupId"]: parse_security_group(g) for g in found})
    net = Network(
        vpcs={v["VpcId"]: parse_vpc(v, region) for region, v in raw_vpcs},
        route_tables=tuple(parse_route_table(t, region) for region, t in raw_tables),
        acls=tuple(acls),
        groups=groups,
    )
    net = replace(net, prefix_lists=_prefix_lists(reader, net, groups, places))
    net = replace(net, nat_gateways=_nat_gateways(reader, ends, net))
    raw_peerings = _peerings(reader, ends, net)
    peerings = {p["VpcPeeringConnectionId"]: parse_peering(p, region) for region, p in raw_peerings}
    return Observed(replace(net, peerings=peerings), raw_vpcs, raw_tables, raw_peerings)


def _prefix_lists(
    reader: Reader, net: Network, groups: Mapping[str, SecurityGroup], places: Mapping[str, tuple[str, str]]
) -> dict[str, tuple[str, ...]]:
    """The entries of each prefix list a rule or a route on the way names (read where it was named)."""
    wanted: dict[str, tuple[str, str]] = {}
    for group in groups.values():
        for rule in group.rules:
            if rule.peer_kind == "prefix-list" and group.vpc_id in places:
                wanted.setdefault(rule.peer, places[group.vpc_id])
    for table in net.route_tables:
        for route in table.routes:
            if route.prefix_list and table.vpc_id in places:
                wanted.setdefault(route.destination, places[table.vpc_id])
    entries = {}
    for prefix_list, (account, region) in sorted(wanted.items()):
        found = reader.pages(
            reader.clients_for(account).ec2(region),
            "get_managed_prefix_list_entries",
            "Entries",
            PrefixListId=prefix_list,
        )
        entries[prefix_list] = tuple(network(e["Cidr"]).compressed for e in found)
    return entries


def _nat_gateways(reader: Reader, ends: Ends, net: Network) -> dict[str, NatGateway]:
    """The NAT gateway the source's route to the internet names, when the question goes that way."""
    source = ends.source
    if not any(d.load_balancer is not None and d.load_balancer.internet_facing for d in ends.destinations):
        return {}
    table = net.route_table_of(source.subnet_id, source.vpc_id)
    public = network("::/0" if source.address.version == 6 else "0.0.0.0/0")
    routes = longest_prefix(table, public, net.prefix_lists) if table else []
    if not routes or not routes[0].target.startswith("nat-"):
        return {}
    ec2 = reader.clients_for(source.account).ec2(source.region)
    found = reader.pages(
        ec2, "describe_nat_gateways", "NatGateways", Filters=_filters(nat_gateway_id=[routes[0].target])
    )
    return {item["NatGatewayId"]: parse_nat_gateway(item) for item in found}


def _peerings(reader: Reader, ends: Ends, net: Network) -> list[tuple[str, dict[str, Any]]]:
    """Connections joining the VPCs involved, and any other connection a route on the way uses.

    Read in the source's account: a connection across accounts is visible to both of its owners.
    """
    source = ends.source
    ec2 = reader.clients_for(source.account).ec2(source.region)
    vpc_ids = {source.vpc_id} | {n.vpc_id for n in (*ends.destinations, *ends.targets)}
    found: list[tuple[str, dict[str, Any]]] = []
    if len(vpc_ids) > 1 and not _only_internet(ends):
        filters = _filters(**{"requester-vpc-info.vpc-id": vpc_ids, "accepter-vpc-info.vpc-id": vpc_ids})
        items = reader.pages(ec2, "describe_vpc_peering_connections", "VpcPeeringConnections", Filters=filters)
        found = [(source.region, p) for p in items if _joins_two(p, vpc_ids)]  # moto ignores these filters
    known = {p["VpcPeeringConnectionId"] for _, p in found}
    used: dict[tuple[str, str], set[str]] = defaultdict(set)
    for sender, receiver in [(source, d) for d in ends.destinations] + [(d, source) for d in ends.destinations]:
        if receiver.load_balancer is not None and receiver.load_balancer.internet_facing:
            continue
        if sender.load_balancer is not None and sender.load_balancer.internet_facing:
            continue
        table = net.route_table_of(sender.subnet_id, sender.vpc_id)
        routes = longest_prefix(table, receiver.address, net.prefix_lists) if table else []
        if routes and routes[0].target.startswith("pcx-") and routes[0].target not in known:
            used[(sender.account, sender.region)].add(routes[0].target)
    for (account, region), ids in sorted(used.items()):
        filters = _filters(**{"vpc-peering-connection-id": ids})
        items = reader.pages(
            reader.clients_for(account).ec2(region),
            "describe_vpc_peering_connections",
            "VpcPeeringConnections",
            Filters=filters,
        )
        found += [(region, p) for p in items if p["VpcPeeringConnectionId"] in ids]
    return found


def _only_internet(ends: Ends) -> bool:
    """Every destination is an internet-facing load balancer: no peering connection is on the way."""
    return all(d.load_balancer is not None and d.load_balancer.internet_facing for d in ends.destinations)


def _joins_two(item: Mapping[str, Any], vpc_ids: set[str]) -> bool:
    requester = (item.get("RequesterVpcInfo") or {}).get("VpcId")
    accepter = (item.get("AccepterVpcInfo") or {}).get("VpcId")
    return requester in vpc_ids and accepter in vpc_ids and requester != accepter
