"""What ``why`` reasons over: plain frozen data, parsed once from the API's responses.

Addresses are networks: an interface's address is a /32 (or /128); a load balancer node whose
interface is not visible (moto creates none) is its subnet's range. "A rule covers the address"
is then ``address.subnet_of(rule)`` in both cases.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Address = ipaddress.IPv4Network | ipaddress.IPv6Network

TCP, UDP, ICMP, ICMPV6, ALL = "6", "17", "1", "58", "-1"
PROTOCOL_NUMBERS = {"tcp": TCP, "udp": UDP, "icmp": ICMP, "icmpv6": ICMPV6, "-1": ALL, "all": ALL}
PROTOCOL_NAMES = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMPV6: "icmpv6", ALL: "all traffic"}
ACTIVE = "active"
MAIN_ACL_DEFAULT_RULE = 32767  # the "*" rule: deny what no numbered rule matched


def network(text: str) -> Address:
    return ipaddress.ip_network(text, strict=False)


def host(text: str) -> Address:
    """One address as a network (/32 or /128)."""
    return ipaddress.ip_network(ipaddress.ip_address(text))


def shown(address: Address) -> str:
    """An address as a person writes it: no /32 on a single address."""
    return str(address.network_address) if address.num_addresses == 1 else str(address)


def protocol_number(value: str | int) -> str:
    text = str(value).strip().lower()
    return PROTOCOL_NUMBERS.get(text, text)


def covers(outer: str | Address, inner: Address) -> bool:
    """True when every address of ``inner`` lies in ``outer`` (families must match)."""
    net = network(outer) if isinstance(outer, str) else outer
    return net.version == inner.version and bool(inner.subnet_of(net))  # type: ignore[arg-type]


def overlaps(outer: str | Address, inner: Address) -> bool:
    net = network(outer) if isinstance(outer, str) else outer
    return net.version == inner.version and inner.overlaps(net)


def _name(tags: Iterable[Mapping[str, Any]] | None) -> str:
    return next((str(t.get("Value", "")) for t in tags or () if t.get("Key") == "Name"), "")


# -- security groups --------------------------------------------------------------------------
@dataclass(frozen=True)
class SgRule:
    """One permission of a security group towards one peer (a CIDR, a prefix list or a group)."""

    group_id: str
    egress: bool
    protocol: str  # a protocol number as text, "-1" for all
    from_port: int  # ICMP: the type; -1 when the rule covers all
    to_port: int  # ICMP: the code
    peer_kind: str  # "cidr" | "prefix-list" | "group"
    peer: str
    peer_owner: str = ""

    def text(self) -> str:
        proto = PROTOCOL_NAMES.get(self.protocol, f"protocol {self.protocol}")
        if self.protocol in (TCP, UDP):
            ports = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
            proto = f"{proto} {ports}"
        elif self.protocol in (ICMP, ICMPV6):
            proto += " (all types)" if self.from_port == -1 else f" type {self.from_port}"
        return f"{proto} {'to' if self.egress else 'from'} {self.peer}"


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    name: str
    vpc_id: str
    owner_id: str
    rules: tuple[SgRule, ...] = ()


def _sg_rules(group_id: str, permissions: Iterable[Mapping[str, Any]], egress: bool) -> Iterator[SgRule]:
    for perm in permissions:
        protocol = protocol_number(perm.get("IpProtocol", "-1"))
        ports = (int(perm.get("FromPort", -1)), int(perm.get("ToPort", -1)))
        if protocol == ALL:
            ports = (-1, -1)
        rule = SgRule(group_id, egress, protocol, ports[0], ports[1], "cidr", "")
        for item in perm.get("IpRanges") or ():
            yield replace(rule, peer=network(item["CidrIp"]).compressed)
        for item in perm.get("Ipv6Ranges") or ():
            yield replace(rule, peer=network(item["CidrIpv6"]).compressed)
        for item in perm.get("PrefixListIds") or ():
            yield replace(rule, peer_kind="prefix-list", peer=item["PrefixListId"])
        for item in perm.get("UserIdGroupPairs") or ():
            if item.get("GroupId"):
                yield replace(rule, peer_kind="group", peer=item["GroupId"], peer_owner=item.get("UserId", ""))


def parse_security_group(item: Mapping[str, Any]) -> SecurityGroup:
    group_id = item["GroupId"]
    rules = (*_sg_rules(group_id, item.get("IpPermissionsEgress") or (), True),)
    rules += (*_sg_rules(group_id, item.get("IpPermissions") or (), False),)
    return SecurityGroup(group_id, item.get("GroupName", ""), item.get("VpcId", ""), item.get("OwnerId", ""), rules)


# -- network ACLs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class AclEntry:
    number: int
    egress: bool
    protocol: str
    allow: bool
    cidr: str
    from_port: int = 0  # tcp/udp; the whole range when the entry has none
    to_port: int = 65535
    icmp_type: int = -1
    icmp_code: int = -1

    @property
    def label(self) -> str:
        return "*" if self.number >= MAIN_ACL_DEFAULT_RULE else str(self.number)

    def text(self) -> str:
        proto = PROTOCOL_NAMES.get(self.protocol, f"protocol {self.protocol}")
        if self.protocol in (TCP, UDP):
            proto += f" {self.from_port}-{self.to_port}"
        elif self.protocol in (ICMP, ICMPV6) and self.icmp_type != -1:
            proto += f" type {self.icmp_type}"
        action = "allows" if self.allow else "denies"
        return f"rule {self.label} {action} {proto} {'to' if self.egress else 'from'} {self.cidr}"

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "rule_number": self.label,
            "rule_action": "allow" if self.allow else "deny",
            "egress": self.egress,
            "protocol": self.protocol,
            "cidr": self.cidr,
        }
        if self.protocol in (TCP, UDP):
            found["port_range"] = {"from": self.from_port, "to": self.to_port}
        return found


@dataclass(frozen=True)
class NetworkAcl:
    id: str
    vpc_id: str
    default: bool
    subnet_ids: frozenset[str]
    entries: tuple[AclEntry, ...]

    def rules(self, egress: bool) -> list[AclEntry]:
        """Numbered rules of one direction in evaluation order (the ``*`` rule is implicit)."""
        chosen = [e for e in self.entries if e.egress == egress and e.number < MAIN_ACL_DEFAULT_RULE]
        return sorted(chosen, key=lambda e: e.number)


def parse_acl(item: Mapping[str, Any]) -> NetworkAcl:
    entries = []
    for entry in item.get("Entries") or ():
        cidr = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock") or "0.0.0.0/0"
        ports = entry.get("PortRange") or {}
        icmp = entry.get("IcmpTypeCode") or {}
        entries.append(
            AclEntry(
                number=int(entry["RuleNumber"]),
                egress=bool(entry.get("Egress")),
                protocol=protocol_number(entry.get("Protocol", "-1")),
                allow=entry.get("RuleAction") == "allow",
                cidr=network(cidr).compressed,
                from_port=int(ports.get("From", 0)),
                to_port=int(ports.get("To", 65535)),
                icmp_type=int(icmp.get("Type", -1)),
                icmp_code=int(icmp.get("Code", -1)),
            )
        )
    subnets = frozenset(a["SubnetId"] for a in item.get("Associations") or () if a.get("SubnetId"))
    return NetworkAcl(item["NetworkAclId"], item.get("VpcId", ""), bool(item.get("IsDefault")), subnets, tuple(entries))


# -- routes -----------------------------------------------------------------------------------
# Every target a route can have, as botocore's ``Route`` shape names them (an instance route carries
# both InstanceId and NetworkInterfaceId: the instance is named). A key botocore learns later is
# still printed: any other string field that is not a destination, the origin, the state or an owner.
_TARGET_KEYS = (
    "GatewayId",
    "VpcPeeringConnectionId",
    "TransitGatewayId",
    "NatGatewayId",
    "InstanceId",
    "NetworkInterfaceId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "EgressOnlyInternetGatewayId",
    "CoreNetworkArn",
    "OdbNetworkArn",
    "IpAddress",
    "VpcEndpointId",
)
_NOT_TARGETS = frozenset(
    {
        "DestinationCidrBlock",
        "DestinationIpv6CidrBlock",
        "DestinationPrefixListId",
        "Origin",
        "State",
        "InstanceOwnerId",
    }
)
STATIC, PROPAGATED, LOCAL_ORIGIN = "CreateRoute", "EnableVgwRoutePropagation", "CreateRouteTable"


def route_target(route: Mapping[str, Any]) -> str:
    known = next((str(route[key]) for key in _TARGET_KEYS if route.get(key)), "")
    if known:
        return known
    return next((str(v) for k, v in sorted(route.items()) if k not in _NOT_TARGETS and isinstance(v, str) and v), "")


@dataclass(frozen=True)
class Route:
    destination: str  # a CIDR, or a prefix list id
    target: str
    state: str = ACTIVE
    origin: str = STATIC  # CreateRouteTable (local) | CreateRoute (static) | EnableVgwRoutePropagation | Advertisement

    @property
    def prefix_list(self) -> bool:
        return self.destination.startswith("pl-")

    @property
    def priority(self) -> int:
        """AWS's order between routes of the same prefix length: static, then prefix list, then propagated."""
        if self.origin in (PROPAGATED, "Advertisement"):
            return 2
        return 1 if self.prefix_list else 0

    def text(self, entry: str = "") -> str:
        state = "" if self.state == ACTIVE else f" ({self.state})"
        where = f" ({entry})" if entry else ""
        origin = " (propagated)" if self.priority == 2 else ""
        return f"{self.destination}{where} → {self.target or '?'}{origin}{state}"

    def to_dict(self) -> dict[str, str]:
        return {"destination": self.destination, "target": self.target, "state": self.state, "origin": self.origin}


@dataclass(frozen=True)
class RouteTable:
    id: str
    vpc_id: str
    region: str
    main: bool
    subnet_ids: frozenset[str]
    routes: tuple[Route, ...]


def parse_route_table(item: Mapping[str, Any], region: str) -> RouteTable:
    routes = []
    for route in item.get("Routes") or ():
        destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
        destination = network(destination).compressed if destination else route.get("DestinationPrefixListId")
        if not destination:
            continue
        origin = str(route.get("Origin") or (LOCAL_ORIGIN if route.get("GatewayId") == "local" else STATIC))
        routes.append(Route(destination, route_target(route), route.get("State", ACTIVE), origin))
    associations = [a for a in item.get("Associations") or () if _associated(a)]
    return RouteTable(
        id=item["RouteTableId"],
        vpc_id=item.get("VpcId", ""),
        region=region,
        main=any(a.get("Main") for a in associations),
        subnet_ids=frozenset(a["SubnetId"] for a in associations if a.get("SubnetId")),
        routes=tuple(routes),
    )


def _associated(association: Mapping[str, Any]) -> bool:
    return str((association.get("AssociationState") or {}).get("State", "associated")) == "associated"


# -- VPCs and peering connections -------------------------------------------------------------
@dataclass(frozen=True)
class Vpc:
    id: str
    region: str
    owner_id: str
    cidrs: tuple[str, ...]  # IPv4 then IPv6
    name: str = ""

    def block_of(self, address: Address) -> str | None:
        """The VPC's CIDR block that holds ``address``."""
        return next((cidr for cidr in self.cidrs if covers(cidr, address)), None)


def parse_vpc(item: Mapping[str, Any], region: str) -> Vpc:
    v4 = [a["CidrBlock"] for a in item.get("CidrBlockAssociationSet") or () if a.get("CidrBlock")]
    v4 = v4 or ([item["CidrBlock"]] if item.get("CidrBlock") else [])
    v6 = [a["Ipv6CidrBlock"] for a in item.get("Ipv6CidrBlockAssociationSet") or () if a.get("Ipv6CidrBlock")]
    cidrs = tuple(dict.fromkeys(network(c).compressed for c in v4 + v6))
    return Vpc(item["VpcId"], region, item.get("OwnerId", ""), cidrs, _name(item.get("Tags")))


@dataclass(frozen=True)
class PeeringSide:
    vpc_id: str
    region: str
    owner_id: str


@dataclass(frozen=True)
class Peering:
    id: str
    status: str
    requester: PeeringSide
    accepter: PeeringSide

    def joins(self, one: str, other: str) -> bool:
        return {self.requester.vpc_id, self.accepter.vpc_id} == {one, other}

    def other_side(self, vpc_id: str) -> PeeringSide | None:
        if vpc_id == self.requester.vpc_id:
            return self.accepter
        if vpc_id == self.accepter.vpc_id:
            return self.requester
        return None

    @property
    def cross_region(self) -> bool:
        return self.requester.region != self.accepter.region


def parse_peering(item: Mapping[str, Any], region: str) -> Peering:
    def side(info: Mapping[str, Any]) -> PeeringSide:
        return PeeringSide(info.get("VpcId", ""), info.get("Region") or region, info.get("OwnerId", ""))

    return Peering(
        id=item["VpcPeeringConnectionId"],
        status=(item.get("Status") or {}).get("Code", ""),
        requester=side(item.get("RequesterVpcInfo") or {}),
        accepter=side(item.get("AccepterVpcInfo") or {}),
    )


# -- load balancers and NAT gateways ----------------------------------------------------------
TCP_LISTENERS = frozenset({"TCP", "TLS", "HTTP", "HTTPS", "SSL", "TCP_UDP"})
UDP_LISTENERS = frozenset({"UDP", "TCP_UDP", "QUIC", "TCP_QUIC"})
INTERNET_FACING = "internet-facing"


@dataclass(frozen=True)
class Listener:
    protocol: str  # as the API writes it: HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP, SSL ...
    port: int
    target_groups: tuple[str, ...] = ()  # the ARNs its default action forwards to

    def serves(self, protocol: str) -> bool:
        """Whether the listener accepts packets of ``protocol`` (a protocol number as text)."""
        kinds = TCP_LISTENERS if protocol == TCP else UDP_LISTENERS if protocol == UDP else frozenset()
        return self.protocol.upper() in kinds

    def text(self) -> str:
        return f"{self.protocol} {self.port}"


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    region: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    kind: str  # application | network | gateway | classic
    scheme: str
    arn: str = ""  # classic load balancers have none: their name is their ID
    listeners: tuple[Listener, ...] = ()

    @property
    def id(self) -> str:
        return self.arn or self.name

    @property
    def internet_facing(self) -> bool:
        return self.scheme == INTERNET_FACING

    def ports_text(self) -> str:
        return ", ".join(listener.text() for listener in self.listeners) or "no listener"


@dataclass(frozen=True)
class NatGateway:
    id: str
    state: str
    subnet_id: str
    vpc_id: str
    private_address: str
    public_addresses: tuple[str, ...]


def parse_nat_gateway(item: Mapping[str, Any]) -> NatGateway:
    addresses = item.get("NatGatewayAddresses") or ()
    private = next((a["PrivateIp"] for a in addresses if a.get("PrivateIp")), "")
    public = tuple(a["PublicIp"] for a in addresses if a.get("PublicIp"))
    return NatGateway(
        item["NatGatewayId"], item.get("State", ""), item.get("SubnetId", ""), item.get("VpcId", ""), private, public
    )


# -- the two ends and the question ------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """One end of a path: an interface, or one node of a load balancer (one per subnet)."""

    kind: str  # "instance" | "network-interface" | "load-balancer" | "nat-gateway" | "internet"
    name: str  # the instance id, interface id or load balancer name
    interface: str  # the interface id; "" for a load balancer node without a visible interface
    address: Address
    subnet_id: str
    vpc_id: str
    region: str
    owner_id: str
    group_ids: tuple[str, ...]
    state: str = ""  # an instance's state name ("running", "stopped" ...); "" when not an instance
    public_address: str = ""  # the interface's public IPv4 address (an EIP or an auto-assigned one)
    account: str = ""  # whose credentials see it: "" the caller, else the account ID entered with --account
    load_balancer: LoadBalancer | None = None

    def text(self) -> str:
        where = self.interface if self.interface and self.interface != self.name else ""
        return " ".join(part for part in (self.name, where, shown(self.address)) if part)

    def to_dict(self) -> dict[str, Any]:
        single = self.address.num_addresses == 1
        return {
            "kind": self.kind,
            "id": self.name,
            "interface": self.interface or None,
            "address": str(self.address.network_address) if single else None,
            "address_range": None if single else str(self.address),
            "subnet": self.subnet_id,
            "vpc": self.vpc_id,
            "region": self.region,
            "owner": self.owner_id,
            "security_groups": list(self.group_ids),
            **({"state": self.state} if self.state else {}),
            **({"public_address": self.public_address} if self.public_address else {}),
        }


@dataclass(frozen=True)
class Traffic:
    """What is sent: ``tcp``/``udp`` to a port (``None``: any port), ``icmp`` echo, or ``all``."""

    protocol: str  # "tcp" | "udp" | "icmp" | "all"
    port: int | None = None

    def number(self, version: int) -> str:
        if self.protocol == "icmp":
            return ICMPV6 if version == 6 else ICMP
        return PROTOCOL_NUMBERS[self.protocol]

    def text(self, version: int = 4) -> str:
        if self.protocol == "icmp":
            return "icmpv6 echo" if version == 6 else "icmp echo"
        if self.protocol == "all":
            return "all traffic"
        return f"{self.protocol} {self.port}" if self.port is not None else f"{self.protocol} (any port)"


@dataclass(frozen=True)
class Network:
    """Everything observed, by id, in every region involved."""

    vpcs: Mapping[str, Vpc] = field(default_factory=dict)
    route_tables: tuple[RouteTable, ...] = ()
    acls: tuple[NetworkAcl, ...] = ()
    groups: Mapping[str, SecurityGroup] = field(default_factory=dict)
    peerings: Mapping[str, Peering] = field(default_factory=dict)
    prefix_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    nat_gateways: Mapping[str, NatGateway] = field(default_factory=dict)

    def route_table_of(self, subnet_id: str, vpc_id: str) -> RouteTable | None:
        """The subnet's explicitly associated table, else the VPC's main table."""
        explicit = next((t for t in self.route_tables if subnet_id in t.subnet_ids), None)
        return explicit or next((t for t in self.route_tables if t.vpc_id == vpc_id and t.main), None)

    def acl_of(self, subnet_id: str, vpc_id: str) -> NetworkAcl | None:
        """The subnet's network ACL (every subnet has one: the VPC's default unless another is associated)."""
        explicit = next((a for a in self.acls if subnet_id in a.subnet_ids), None)
        return explicit or next((a for a in self.acls if a.vpc_id == vpc_id and a.default), None)

    def peering_between(self, one: str, other: str) -> Peering | None:
        """The connection joining two VPCs, the active one first."""
        found = sorted((p for p in self.peerings.values() if p.joins(one, other)), key=lambda p: p.status != ACTIVE)
        return found[0] if found else None
