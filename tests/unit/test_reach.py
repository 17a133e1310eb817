"""The reachability model as pure functions: ports, ACL order, ICMP, longest prefix, group references.

Worlds are built by hand from the model's plain values (no AWS), one table of cases per rule of AWS.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from peerkeeper.reach import analysis, fixes, observe
from peerkeeper.reach.analysis import Question, evaluate_acl
from peerkeeper.reach.model import (
    AclEntry,
    Listener,
    LoadBalancer,
    Network,
    NetworkAcl,
    Node,
    Peering,
    PeeringSide,
    Route,
    RouteTable,
    SecurityGroup,
    SgRule,
    Traffic,
    Vpc,
    host,
    network,
    parse_acl,
    parse_route_table,
    parse_security_group,
)
from peerkeeper.reach.packets import EPHEMERAL, EVERY_PORT, Packet, PortSet

A, B = "vpc-0000000000000000a", "vpc-0000000000000000b"
PCX = "pcx-00000000000000001"


def node(name: str, ip: str, subnet: str, vpc: str, groups: tuple[str, ...], region: str = "us-east-1") -> Node:
    return Node("instance", name, f"eni-{name}", host(ip), subnet, vpc, region, "111122223333", groups)


SRC = node("i-src", "10.1.1.10", "subnet-a", A, ("sg-a",))
DST = node("i-dst", "10.0.1.20", "subnet-b", B, ("sg-b",))


def allow_all_acl(acl_id: str, vpc: str) -> NetworkAcl:
    entries = (AclEntry(100, True, "-1", True, "0.0.0.0/0"), AclEntry(100, False, "-1", True, "0.0.0.0/0"))
    return NetworkAcl(acl_id, vpc, True, frozenset(), entries)


def everything_open(**changes: object) -> Network:
    """Two peered VPCs where all is allowed; ``changes`` replace parts of it."""
    groups = {
        "sg-a": SecurityGroup("sg-a", "a", A, "", (SgRule("sg-a", True, "-1", -1, -1, "cidr", "0.0.0.0/0"),)),
        "sg-b": SecurityGroup("sg-b", "b", B, "", (SgRule("sg-b", False, "-1", -1, -1, "cidr", "10.1.0.0/16"),)),
    }
    world = Network(
        vpcs={A: Vpc(A, "us-east-1", "", ("10.1.0.0/16",)), B: Vpc(B, "us-east-1", "", ("10.0.0.0/16",))},
        route_tables=(
            RouteTable(
                "rtb-a", A, "us-east-1", True, frozenset(), (Route("10.1.0.0/16", "local"), Route("10.0.0.0/16", PCX))
            ),
            RouteTable(
                "rtb-b", B, "us-east-1", True, frozenset(), (Route("10.0.0.0/16", "local"), Route("10.1.0.0/16", PCX))
            ),
        ),
        acls=(allow_all_acl("acl-a", A), allow_all_acl("acl-b", B)),
        groups=groups,
        peerings={
            PCX: Peering(PCX, "active", PeeringSide(A, "us-east-1", ""), PeeringSide(B, "us-east-1", "")),
        },
    )
    return replace(world, **changes)  # type: ignore[arg-type]


SSH = Traffic("tcp", 22)


def ask(net: Network, traffic: Traffic = SSH, src: Node = SRC, dst: Node = DST) -> analysis.Path:
    return analysis.analyse(Question(net, src, dst, traffic))


def blocking(path: analysis.Path) -> list[tuple[str, str, str]]:
    return [(e.code, e.direction, e.component) for e in analysis.explanations([path])]


# -- port sets --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("left", "right", "union", "both", "minus"),
    [
        (PortSet.span(0, 10), PortSet.span(5, 20), "0-20", "5-10", "0-4"),
        (PortSet.span(0, 10), PortSet.span(11, 20), "0-20", "none", "0-10"),
        (EVERY_PORT, PortSet.span(22, 22), "0-65535", "22", "0-21, 23-65535"),
        (EPHEMERAL, PortSet.span(0, 1023), "0-65535", "none", "1024-65535"),
    ],
)
def test_port_sets(left, right, union, both, minus):
    assert ((left | right).text(), (left & right).text(), (left - right).text()) == (union, both, minus)


# -- network ACLs: number order, first match, implicit deny -----------------------------------
def acl(*entries: AclEntry) -> NetworkAcl:
    return NetworkAcl("acl-x", B, False, frozenset({"subnet-b"}), entries)


TCP22 = Packet("6", PortSet.span(22, 22))
DENY_SSH_100 = AclEntry(100, False, "6", False, "10.1.1.0/24", 22, 22)


@pytest.mark.parametrize(
    ("entries", "allowed", "deciding_rule"),
    [
        ([AclEntry(100, False, "6", True, "10.1.0.0/16", 22, 22)], "22", None),
        ([AclEntry(200, False, "6", True, "0.0.0.0/0"), DENY_SSH_100], "none", 100),
        ([AclEntry(100, False, "6", True, "0.0.0.0/0"), replace(DENY_SSH_100, number=200)], "22", None),
        ([AclEntry(100, False, "17", True, "0.0.0.0/0")], "none", "*"),
        ([AclEntry(100, False, "6", True, "10.2.0.0/16")], "none", "*"),
        ([AclEntry(100, True, "6", True, "0.0.0.0/0")], "none", "*"),  # an outbound rule says nothing inbound
        ([AclEntry(100, False, "-1", True, "::/0")], "none", "*"),  # IPv6 rules do not match IPv4
    ],
)
def test_acl_rules_are_read_in_number_order_until_the_first_match(entries, allowed, deciding_rule):
    decision = evaluate_acl(acl(*entries), False, host("10.1.1.10"), TCP22)
    assert decision.allowed.text() == allowed
    if deciding_rule is not None:
        entry = decision.denied[0][1]
        assert (entry.number if entry else "*") == deciding_rule


def test_replies_must_pass_on_every_ephemeral_port():
    linux_only = acl(AclEntry(100, True, "6", True, "10.1.0.0/16", 32768, 60999))
    decision = evaluate_acl(linux_only, True, host("10.1.1.10"), Packet("6", EPHEMERAL))
    assert decision.allowed.text() == "32768-60999"
    assert [ports.text() for ports, _ in decision.denied] == ["1024-32767, 61000-65535"]


@pytest.mark.parametrize(
    ("icmp_type", "version", "request_allowed", "reply_allowed"),
    [(-1, 4, True, True), (8, 4, True, False), (0, 4, False, True), (128, 6, True, False)],
)
def test_icmp_echo_type_and_code(icmp_type, version, request_allowed, reply_allowed):
    protocol, cidr, peer = ("1", "0.0.0.0/0", "10.1.1.10") if version == 4 else ("58", "::/0", "2600::1")
    rules = acl(AclEntry(100, False, protocol, True, cidr, icmp_type=icmp_type))
    traffic = Traffic("icmp")
    request = evaluate_acl(rules, False, host(peer), Packet.request(traffic, version))
    reply = evaluate_acl(rules, False, host(peer), Packet.reply(traffic, version))
    assert (bool(request.allowed), bool(reply.allowed)) == (request_allowed, reply_allowed)


def test_all_traffic_is_restricted_by_any_earlier_deny():
    rules = acl(AclEntry(90, False, "6", False, "0.0.0.0/0", 22, 22), AclEntry(100, False, "-1", True, "0.0.0.0/0"))
    assert not evaluate_acl(rules, False, host("10.1.1.10"), Packet("-1")).allowed


def test_a_range_needs_an_allow_covering_all_of_it_and_is_denied_by_any_touching_deny():
    half = acl(AclEntry(100, False, "6", True, "10.1.1.0/25"))
    assert not evaluate_acl(half, False, network("10.1.1.0/24"), TCP22).allowed
    deny_part = acl(AclEntry(90, False, "6", False, "10.1.1.128/25"), AclEntry(100, False, "6", True, "0.0.0.0/0"))
    assert not evaluate_acl(deny_part, False, network("10.1.1.0/24"), TCP22).allowed


# -- routes -----------------------------------------------------------------------------------
def table(*routes: Route, subnets: frozenset[str] = frozenset(), main: bool = True) -> RouteTable:
    return RouteTable("rtb-a", A, "us-east-1", main, subnets, routes)


@pytest.mark.parametrize(
    ("routes", "code"),
    [
        ([Route("10.0.0.0/16", PCX)], None),
        ([Route("10.0.0.0/8", PCX)], None),
        ([Route("10.0.0.0/16", PCX, "blackhole")], "NO_ROUTE_TO_DESTINATION"),
        ([Route("10.0.0.0/16", "pcx-0000000000000dead")], "NO_ROUTE_TO_DESTINATION"),  # a connection that is gone
        ([Route("10.0.0.0/16", PCX), Route("10.0.1.0/24", "igw-1")], "MORE_SPECIFIC_ROUTE"),
        ([Route("10.0.0.0/8", "tgw-1"), Route("10.0.0.0/16", PCX)], None),
        ([Route("0.0.0.0/0", "igw-1")], "NO_ROUTE_TO_DESTINATION"),
        ([], "NO_ROUTE_TO_DESTINATION"),
    ],
)
def test_longest_prefix_match_and_route_state(routes, code):
    net = everything_open()
    tables = (table(Route("10.1.0.0/16", "local"), *routes), net.route_tables[1])
    found = blocking(ask(replace(net, route_tables=tables)))
    assert found == ([] if code is None else [(code, "forward", "rtb-a")])


def test_a_subnet_uses_its_own_table_else_the_main_one():
    net = everything_open()
    own = RouteTable("rtb-own", A, "us-east-1", False, frozenset({"subnet-a"}), (Route("10.1.0.0/16", "local"),))
    assert blocking(ask(replace(net, route_tables=(*net.route_tables, own)))) == [
        ("NO_ROUTE_TO_DESTINATION", "forward", "rtb-own")
    ]
    assert net.route_table_of("subnet-other", A) == net.route_tables[0]


def test_prefix_list_routes_match_by_their_entries():
    net = everything_open(prefix_lists={"pl-1": ("10.0.0.0/16",)})
    tables = (table(Route("10.1.0.0/16", "local"), Route("pl-1", PCX)), net.route_tables[1])
    assert blocking(ask(replace(net, route_tables=tables))) == []


PROPAGATED = "EnableVgwRoutePropagation"


@pytest.mark.parametrize(
    ("routes", "code"),
    [
        # same length: static > prefix list > propagated, whatever the table's order
        ([Route("pl-1", "igw-1"), Route("10.0.0.0/16", PCX)], None),
        ([Route("pl-1", PCX), Route("10.0.0.0/16", "igw-1")], "HIGHER_PRIORITY_ROUTE"),
        ([Route("10.0.0.0/16", "vgw-1", origin=PROPAGATED), Route("pl-1", PCX)], None),
        ([Route("10.0.0.0/16", PCX, origin=PROPAGATED), Route("pl-1", "vgw-1")], "HIGHER_PRIORITY_ROUTE"),
        ([Route("10.0.0.0/16", "vgw-1", origin="Advertisement"), Route("10.0.0.0/16", PCX)], None),
        # a longer prefix still wins over any priority
        ([Route("10.0.0.0/8", PCX), Route("10.0.0.0/16", "vgw-1", origin=PROPAGATED)], "MORE_SPECIFIC_ROUTE"),
    ],
)
def test_route_priority_between_routes_of_the_same_length(routes, code):
    net = everything_open(prefix_lists={"pl-1": ("10.0.0.0/16",)})
    tables = (table(Route("10.1.0.0/16", "local"), *routes), net.route_tables[1])
    assert blocking(ask(replace(net, route_tables=tables))) == ([] if code is None else [(code, "forward", "rtb-a")])


@pytest.mark.parametrize(
    ("fields", "target"),
    [
        ({"OdbNetworkArn": "arn:aws:odb:us-east-1:111122223333:odb-network/odb-1"}, "arn:aws:odb:"),
        ({"IpAddress": "10.9.0.5"}, "10.9.0.5"),
        ({"CoreNetworkArn": "arn:aws:networkmanager::111122223333:core-network/core-1"}, "arn:aws:networkmanager:"),
        ({"InstanceId": "i-1", "InstanceOwnerId": "111122223333", "NetworkInterfaceId": "eni-1"}, "i-1"),
        ({"SomeFutureTargetId": "x-1"}, "x-1"),  # a kind botocore learns later is printed too
    ],
)
def test_every_route_target_kind_is_printed(fields, target):
    item = {
        "RouteTableId": "rtb-a",
        "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "Origin": "CreateRoute", **fields}],
    }
    (route,) = parse_route_table(item, "us-east-1").routes
    assert route.target.startswith(target)
    assert route.text().startswith(f"0.0.0.0/0 → {target}")


def test_origin_is_parsed():
    routes = [
        {"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable"},
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "vgw-1", "Origin": "EnableVgwRoutePropagation"},
        {"DestinationPrefixListId": "pl-1", "VpcPeeringConnectionId": PCX, "Origin": "CreateRoute"},
    ]
    parsed = parse_route_table({"RouteTableId": "rtb-a", "Routes": routes}, "us-east-1").routes
    assert [(r.origin, r.priority) for r in parsed] == [
        ("CreateRouteTable", 0), ("EnableVgwRoutePropagation", 2), ("CreateRoute", 1),
    ]  # fmt: skip
    assert parsed[1].text() == "10.0.0.0/16 → vgw-1 (propagated)"


def test_the_private_zone_lookup_asks_route_53_of_the_question_region():
    """Route 53 is served from one region per partition: the question's region picks it, not the profile's."""
    asked: list[str | None] = []

    class Route53:
        def list_hosted_zones_by_vpc(self, **kwargs: object) -> dict[str, object]:
            return {"HostedZoneSummaries": [{"Name": "lab.private.", "HostedZoneId": "Z1"}]}

        def list_resource_record_sets(self, **kwargs: object) -> dict[str, object]:
            record = {"Name": "db.lab.private.", "Type": "A", "ResourceRecords": [{"Value": "10.0.1.5"}]}
            return {"ResourceRecordSets": [record]}

    class Clients:
        def route53(self, region: str | None = None) -> Route53:
            asked.append(region)
            return Route53()

    reader = observe.Reader(Clients())  # type: ignore[arg-type]
    resolved = observe.resolve_name(reader, "db.lab.private", "vpc-1", "cn-north-1")
    assert resolved.addresses == ("10.0.1.5",)
    assert asked == ["cn-north-1", "cn-north-1"]


def test_a_route_to_a_connection_that_leads_elsewhere():
    other = Peering(
        "pcx-0000000000000000c", "active", PeeringSide(A, "us-east-1", ""), PeeringSide("vpc-c", "us-east-1", "")
    )
    net = everything_open()
    tables = (table(Route("10.1.0.0/16", "local"), Route("10.0.0.0/16", other.id)), net.route_tables[1])
    path = ask(replace(net, route_tables=tables, peerings={**net.peerings, other.id: other}))
    assert blocking(path) == [("NO_ROUTE_TO_DESTINATION", "forward", "rtb-a")]
    assert "leads to vpc-c" in analysis.explanations([path])[0].reason


# -- the peering connection -------------------------------------------------------------------
@pytest.mark.parametrize("status", ["pending-acceptance", "provisioning", "rejected", "deleted", "expired"])
def test_a_connection_that_is_not_active_is_a_bad_state_once(status):
    net = everything_open()
    pcx = replace(net.peerings[PCX], status=status)
    path = ask(replace(net, peerings={PCX: pcx}))
    assert blocking(path) == [("BAD_STATE", "forward", PCX)]
    assert [hop.ok for hop in path.hops if hop.step == "peering"] == [False, False]  # shown both ways


# -- security groups --------------------------------------------------------------------------
def with_ingress(net: Network, *rules: SgRule) -> Network:
    return replace(net, groups={**net.groups, "sg-b": SecurityGroup("sg-b", "b", B, "", rules)})


@pytest.mark.parametrize(
    ("rule", "traffic", "reachable"),
    [
        (SgRule("sg-b", False, "6", 22, 22, "cidr", "10.1.0.0/16"), Traffic("tcp", 22), True),
        (SgRule("sg-b", False, "6", 22, 22, "cidr", "10.1.0.0/16"), Traffic("tcp", 23), False),
        (SgRule("sg-b", False, "6", 22, 22, "cidr", "10.1.0.0/16"), Traffic("udp", 22), False),
        (SgRule("sg-b", False, "6", 0, 65535, "cidr", "10.1.1.10/32"), Traffic("tcp", 443), True),
        (SgRule("sg-b", False, "6", 22, 22, "cidr", "10.1.2.0/24"), Traffic("tcp", 22), False),
        (SgRule("sg-b", False, "1", 8, -1, "cidr", "10.1.0.0/16"), Traffic("icmp"), True),
        (SgRule("sg-b", False, "1", 0, -1, "cidr", "10.1.0.0/16"), Traffic("icmp"), False),
        (SgRule("sg-b", False, "6", 0, 65535, "cidr", "0.0.0.0/0"), Traffic("all"), False),
        (SgRule("sg-b", False, "-1", -1, -1, "cidr", "0.0.0.0/0"), Traffic("all"), True),
        (SgRule("sg-b", False, "6", 22, 22, "group", "sg-a"), Traffic("tcp", 22), True),
        (SgRule("sg-b", False, "6", 22, 22, "group", "sg-other"), Traffic("tcp", 22), False),
        (SgRule("sg-b", False, "6", 22, 22, "prefix-list", "pl-1"), Traffic("tcp", 22), True),
        (SgRule("sg-b", True, "-1", -1, -1, "cidr", "0.0.0.0/0"), Traffic("tcp", 22), False),  # egress, not ingress
    ],
)
def test_security_group_rules(rule, traffic, reachable):
    net = with_ingress(everything_open(prefix_lists={"pl-1": ("10.1.0.0/16",)}), rule)
    path = ask(net, traffic)
    assert path.reachable is reachable
    if not reachable:
        assert blocking(path) == [("ENI_SG_RULES_MISMATCH", "forward", "sg-b")]


def test_all_groups_of_the_interface_count_together():
    net = everything_open()
    extra = SecurityGroup("sg-b2", "b2", B, "", (SgRule("sg-b2", False, "6", 22, 22, "cidr", "10.1.0.0/16"),))
    net = replace(with_ingress(net), groups={**with_ingress(net).groups, "sg-b2": extra})
    assert not ask(net, dst=DST).reachable
    assert ask(net, dst=replace(DST, group_ids=("sg-b", "sg-b2"))).reachable


@pytest.mark.parametrize(
    ("status", "regions", "note"),
    [
        ("active", ("us-east-1", "us-east-1"), ""),
        ("pending-acceptance", ("us-east-1", "us-east-1"), "no active peering"),
        ("active", ("us-east-1", "eu-west-1"), "across the cross-region peering"),
    ],
)
def test_a_group_reference_across_a_peering_applies_only_in_one_region_while_active(status, regions, note):
    pcx = Peering(PCX, status, PeeringSide(A, regions[0], ""), PeeringSide(B, regions[1], ""))
    net = replace(
        with_ingress(everything_open(), SgRule("sg-b", False, "6", 22, 22, "group", "sg-a")), peerings={PCX: pcx}
    )
    path = ask(net, src=SRC, dst=replace(DST, region=regions[1]))
    sg_ingress = next(hop for hop in path.hops if hop.step == "sg ingress")
    assert sg_ingress.ok is (not note)
    assert note in sg_ingress.detail


def test_tcp_without_a_port_is_reachable_when_some_port_gets_through_every_hop():
    net = with_ingress(everything_open(), SgRule("sg-b", False, "6", 22, 22, "cidr", "10.1.0.0/16"))
    assert ask(net, Traffic("tcp")).reachable
    only_443 = replace(
        net.acls[1], entries=(AclEntry(100, False, "6", True, "0.0.0.0/0", 443, 443), *net.acls[1].entries[:1])
    )
    path = ask(replace(net, acls=(net.acls[0], only_443)), Traffic("tcp"))
    assert blocking(path) == [("ENI_SG_RULES_MISMATCH", "forward", "sg-b")]  # the ACL leaves 443, the group only 22
    assert "only on 22" in analysis.explanations([path])[0].reason


def test_within_one_subnet_no_acl_or_route_table_is_met():
    net = everything_open(acls=(), route_tables=())
    neighbour = node("i-n", "10.1.1.11", "subnet-a", A, ("sg-b",))
    path = ask(with_ingress(net, SgRule("sg-b", False, "6", 22, 22, "cidr", "10.1.0.0/16")), dst=neighbour)
    assert [hop.step for hop in path.hops] == ["sg egress", "sg ingress"]
    assert path.reachable


# -- fixes ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("numbers", "below", "free"),
    [((100, 32767), None, 110), ((100, 32767), 100, 99), ((99, 100), 100, 98), ((1, 2), 2, None), ((), None, 10)],
)
def test_free_acl_rule_number(numbers, below, free):
    rules = NetworkAcl(
        "acl-x", B, False, frozenset(), tuple(AclEntry(n, True, "-1", True, "0.0.0.0/0") for n in numbers)
    )
    assert fixes.free_rule_number(rules, True, below) == free


# -- parsing the API's shapes -----------------------------------------------------------------
def test_parsing_keeps_what_the_model_needs():
    group = parse_security_group(
        {
            "GroupId": "sg-1",
            "VpcId": A,
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "10.1.0.0/16"}],
                    "UserIdGroupPairs": [{"GroupId": "sg-2", "UserId": "111122223333"}],
                    "PrefixListIds": [{"PrefixListId": "pl-1"}],
                },
            ],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
        }
    )
    assert [(r.egress, r.protocol, r.peer_kind, r.peer) for r in group.rules] == [
        (True, "-1", "cidr", "::/0"),
        (False, "6", "cidr", "10.1.0.0/16"),
        (False, "6", "prefix-list", "pl-1"),
        (False, "6", "group", "sg-2"),
    ]
    parsed = parse_acl(
        {
            "NetworkAclId": "acl-1",
            "VpcId": A,
            "IsDefault": False,
            "Associations": [{"SubnetId": "subnet-a"}],
            "Entries": [
                {
                    "RuleNumber": 32767,
                    "Protocol": "-1",
                    "RuleAction": "deny",
                    "Egress": False,
                    "CidrBlock": "0.0.0.0/0",
                },
                {
                    "RuleNumber": 100,
                    "Protocol": "6",
                    "RuleAction": "allow",
                    "Egress": False,
                    "Ipv6CidrBlock": "::/0",
                    "PortRange": {"From": 22, "To": 22},
                },
            ],
        }
    )
    assert [(e.number, e.cidr, e.from_port) for e in parsed.rules(False)] == [(100, "::/0", 22)]
    rtb = parse_route_table(
        {
            "RouteTableId": "rtb-1",
            "VpcId": A,
            "Associations": [{"Main": True}, {"SubnetId": "subnet-a", "AssociationState": {"State": "disassociated"}}],
            "Routes": [
                {"DestinationPrefixListId": "pl-1", "GatewayId": "vpce-1"},
                {
                    "DestinationIpv6CidrBlock": "2600:1f18:0031:c200::/56",
                    "VpcPeeringConnectionId": PCX,
                    "State": "blackhole",
                },
            ],
        },
        "us-east-1",
    )
    assert (rtb.main, rtb.subnet_ids) == (True, frozenset())
    assert rtb.routes == (Route("pl-1", "vpce-1"), Route("2600:1f18:31:c200::/56", PCX, "blackhole"))


# -- load balancers: listeners, and the internet path of an internet-facing one ---------------
def balancer(scheme: str = "internal", kind: str = "network", *listeners: tuple[str, int]) -> Node:
    lb = LoadBalancer("nlb", "us-east-1", B, ("subnet-b",), ("sg-b",), kind, scheme, "arn:nlb",
                      tuple(Listener(p, port) for p, port in listeners))  # fmt: skip
    return Node("load-balancer", "nlb", "", network("10.0.1.0/24"), "subnet-b", B, "us-east-1", "", ("sg-b",),
                load_balancer=lb)  # fmt: skip


@pytest.mark.parametrize(
    ("listeners", "traffic", "blocked"),
    [
        ((("TCP", 443),), Traffic("tcp", 443), False),
        ((("TCP", 443),), Traffic("tcp", 22), True),
        ((("TCP", 443),), Traffic("udp", 443), True),
        ((("UDP", 53),), Traffic("udp", 53), False),
        ((("TCP_UDP", 53),), Traffic("tcp", 53), False),
        ((("TLS", 443), ("TCP", 80)), Traffic("tcp"), False),  # any port: some listener serves
        ((("TCP", 443),), Traffic("icmp"), True),
        ((("TCP", 443),), Traffic("all"), True),
        ((), Traffic("tcp", 443), True),  # no listener at all
    ],
)
def test_a_load_balancer_takes_only_what_its_listeners_serve(listeners, traffic, blocked):
    net = with_ingress(everything_open(), SgRule("sg-b", False, "-1", -1, -1, "cidr", "10.1.0.0/16"))
    path = ask(net, traffic, dst=balancer("internal", "network", *listeners))
    assert blocking(path) == ([("ELB_LISTENERS_MISMATCH", "forward", "arn:nlb")] if blocked else [])


def internet_world(source_routes: tuple[Route, ...], **changes: object) -> Network:
    net = everything_open(**changes)
    a, b = net.route_tables
    return replace(
        net,
        route_tables=(
            replace(a, routes=(*a.routes, *source_routes)),
            replace(b, routes=(*b.routes, Route("0.0.0.0/0", "igw-b"))),
        ),
        groups={**net.groups, "sg-b": SecurityGroup("sg-b", "b", B, "", (
            SgRule("sg-b", False, "6", 443, 443, "cidr", "0.0.0.0/0"),))},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("source_routes", "public_address", "found"),
    [
        ((Route("0.0.0.0/0", "igw-a"),), "54.0.0.9", []),
        # an internet gateway carries only an interface that has a public address
        ((Route("0.0.0.0/0", "igw-a"),), "", [("NO_ROUTE_TO_DESTINATION", "forward", "igw-a")]),
        # no route to the internet: the peering route does not count for a public load balancer
        ((), "54.0.0.9", [("NO_ROUTE_TO_DESTINATION", "forward", "rtb-a")]),
        ((Route("0.0.0.0/0", "tgw-1"),), "54.0.0.9", [("NO_ROUTE_TO_DESTINATION", "forward", "rtb-a")]),
    ],
)
def test_an_internet_facing_load_balancer_is_reached_over_the_internet(source_routes, public_address, found):
    net = internet_world(source_routes)
    source = replace(SRC, public_address=public_address)
    path = ask(net, Traffic("tcp", 443), src=source, dst=balancer("internet-facing", "network", ("TCP", 443)))
    assert blocking(path) == found
    assert "peering" not in [hop.step for hop in path.hops]


def test_the_load_balancer_judges_the_public_address_it_sees():
    net = internet_world((Route("0.0.0.0/0", "igw-a"),))
    only_the_peer = SecurityGroup("sg-b", "b", B, "", (SgRule("sg-b", False, "6", 443, 443, "cidr", "10.1.0.0/16"),))
    net = replace(net, groups={**net.groups, "sg-b": only_the_peer})
    source = replace(SRC, public_address="54.0.0.9")
    path = ask(net, Traffic("tcp", 443), src=source, dst=balancer("internet-facing", "network", ("TCP", 443)))
    assert blocking(path) == [("ENI_SG_RULES_MISMATCH", "forward", "sg-b")]
    assert "from 54.0.0.9" in analysis.explanations([path])[0].reason
    # the replies need the load balancer's subnets routed to an internet gateway
    a, b = net.route_tables
    no_way_back = replace(net, groups=everything_open().groups, route_tables=(a, replace(b, routes=b.routes[:-1])))
    path = ask(no_way_back, Traffic("tcp", 443), src=source, dst=balancer("internet-facing", "network", ("TCP", 443)))
    assert ("NO_ROUTE_TO_DESTINATION", "return", "rtb-b") in blocking(path)


@pytest.mark.parametrize("state", ["stopped", "pending", "terminated"])
def test_an_instance_that_is_not_running_is_a_bad_state(state):
    assert blocking(ask(everything_open(), src=replace(SRC, state=state))) == [("BAD_STATE", "forward", "i-src")]
    assert blocking(ask(everything_open(), src=replace(SRC, state="running"))) == []
