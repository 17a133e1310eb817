"""``peerkeeper why`` never says reachable where AWS would not deliver (issue 21), and reads both
sides of a cross-account connection (issue 22), against moto through ``app.main``.

Where moto is not AWS (docs/moto-vs-aws.md):
- moto creates no network interfaces for load balancers: a load balancer is reasoned about through
  its subnets, its security groups and its listeners (which moto stores and DescribeListeners returns);
- moto gives a NAT gateway a private address outside its subnet: the NAT's private address plays no
  part in any check here (the load balancer sees its public address, the source's ACL the load
  balancer's);
- moto never produces a propagated route (``Origin: EnableVgwRoutePropagation``): the priority
  between a prefix-list route and a propagated one is tested on the pure model (tests/unit/test_reach.py);
- cross-account: credentials from ``sts.assume_role`` into another account ID act as that account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from peerkeeper import observability  # noqa: F401  (its log handler binds stdout at import: not a test's capsys)
from peerkeeper.cli import app
from tests.integration.test_why import Side, World, build_side, codes, listen, seed, why
from tests.support import REGION, ec2_client, other_account_client

__all__ = ["seed"]  # the fixture, shared with test_why

PARTNER = "222233334444"


# -- load balancers: listeners and icmp -------------------------------------------------------
@dataclass
class Balancer:
    arn: str
    dns: str
    group: str
    subnets: list[str]


def load_balancer(side: Side, third_octet: int, scheme: str, name: str, *ports: int) -> Balancer:
    """A load balancer in two new subnets of ``side``'s VPC (they use its main table), listening on ``ports``."""
    ec2 = ec2_client()
    prefix = side.cidr.rsplit(".", 2)[0]
    subnets = [
        ec2.create_subnet(
            VpcId=side.vpc, CidrBlock=f"{prefix}.{third_octet + i}.0/24", AvailabilityZone=f"{REGION}{az}"
        )["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description=name, VpcId=side.vpc)["GroupId"]
    elbv2: Any = boto3.client("elbv2", region_name=REGION)
    lb = elbv2.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[group], Scheme=scheme)
    created = lb["LoadBalancers"][0]
    listen(created, side.vpc, *ports)
    return Balancer(created["LoadBalancerArn"], created["DNSName"], group, subnets)


def main_table(vpc: str) -> str:
    found = ec2_client().describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )
    return str(found["RouteTables"][0]["RouteTableId"])


def open_to(group: str, cidr: str, *ports: int, protocol: str = "tcp") -> None:
    permissions = [{"IpProtocol": protocol, "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": cidr}]} for p in ports]
    ec2_client().authorize_security_group_ingress(GroupId=group, IpPermissions=permissions)


@pytest.fixture
def internal(seed: World) -> Balancer:
    """An internal ALB in web-vpc listening on 443 only; its group allows 22 and 443 and ping from api-vpc."""
    lb = load_balancer(seed.web, 10, "internal", "api-elb", 443)
    open_to(lb.group, seed.api.cidr, 22, 443)
    open_to(lb.group, seed.api.cidr, -1, protocol="icmp")
    ec2_client().create_route(
        RouteTableId=main_table(seed.web.vpc), DestinationCidrBlock=seed.api.cidr, VpcPeeringConnectionId=seed.pcx
    )
    return lb


def test_a_port_no_listener_serves_is_not_reachable_though_the_group_allows_it(seed, internal, capsys):
    code, doc = why(capsys, seed.api.instance, internal.dns, "--port", "443")
    assert (code, doc["explanations"]) == (0, [])
    listener = next(hop for hop in doc["paths"][0]["forward"] if hop["step"] == "listener")
    assert listener["ok"] is True

    code, doc = why(capsys, seed.api.instance, internal.dns, "--port", "22")

    assert code == 2
    assert codes(doc) == [("ELB_LISTENERS_MISMATCH", "forward", internal.arn)]
    explanation = doc["explanations"][0]
    assert explanation["load_balancer"] == "api-elb"
    assert explanation["listeners"] == [{"protocol": "HTTP", "port": 443}]
    assert "HTTP 443" in explanation["reason"]
    assert doc["fixes"] == [
        f"aws elbv2 create-listener --load-balancer-arn {internal.arn} --protocol HTTP --port 22 "
        f"--default-actions Type=forward,TargetGroupArn=TARGET_GROUP_ARN --region {REGION}"
    ]
    assert doc["destination"]["load_balancer"]["listeners"] == [{"protocol": "HTTP", "port": 443}]


def test_a_load_balancer_never_answers_a_ping(seed, internal, capsys):
    code, doc = why(capsys, seed.api.instance, internal.dns, "--protocol", "icmp")

    assert code == 2
    assert codes(doc) == [("ELB_LISTENERS_MISMATCH", "forward", internal.arn)]
    assert "answers no icmp" in doc["explanations"][0]["reason"]
    assert doc["fixes"] == []  # no change makes a load balancer answer a ping
    # every other hop lets the ping through: the listener alone blocks it
    assert [hop["step"] for hop in doc["paths"][0]["forward"] if not hop["ok"]] == ["listener"]


def test_the_terminal_answer_names_the_load_balancer(seed, internal, capsys):
    capsys.readouterr()
    code = app.main(["why", seed.api.instance, internal.dns, "--port", "22"])
    out = capsys.readouterr().out
    assert code == 2
    assert "ELB_LISTENERS_MISMATCH" in out
    assert "listens on HTTP 443" in out
    # the header says where the source is (subnet, VPC, region)
    words = " ".join(out.split())  # rich wraps at 80 columns when the output is not a terminal
    assert f"source {seed.api.instance} ({seed.api.subnet}, {seed.api.vpc}, {REGION})" in words


# -- an internet-facing load balancer from a peered VPC ---------------------------------------
@dataclass
class Internet:
    lb: Balancer
    nat: str
    nat_public: str


@pytest.fixture
def facing(seed: World) -> Internet:
    """web-vpc: an internet-facing ALB (443) behind an internet gateway. api-vpc: a NAT gateway in a
    public subnet, not yet routed from api's subnet (api reaches web-vpc only over the peering)."""
    ec2 = ec2_client()
    api, web = seed.api, seed.web
    public = ec2.create_subnet(VpcId=api.vpc, CidrBlock="10.1.200.0/24", AvailabilityZone=f"{REGION}a")
    public_subnet = public["Subnet"]["SubnetId"]  # api-vpc's public subnet, for its NAT gateway
    public_table = ec2.create_route_table(VpcId=api.vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=public_table, SubnetId=public_subnet)
    for vpc, table in ((web.vpc, main_table(web.vpc)), (api.vpc, public_table)):
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public_subnet, AllocationId=allocation)["NatGateway"]
    nat_public = nat["NatGatewayAddresses"][0]["PublicIp"]
    lb = load_balancer(web, 20, "internet-facing", "www", 443)
    return Internet(lb, nat["NatGatewayId"], nat_public)


def test_an_internet_facing_load_balancer_without_a_route_to_the_internet(seed, facing, capsys):
    open_to(facing.lb.group, seed.api.cidr, 443)  # the old answer's reason: the peer CIDR is allowed

    code, doc = why(capsys, seed.api.instance, facing.lb.dns, "--port", "443")

    assert code == 2
    assert codes(doc) == [("NO_ROUTE_TO_DESTINATION", "forward", seed.api.table)]
    explanation = doc["explanations"][0]
    assert explanation["route_table"] == seed.api.table
    assert "to the internet" in explanation["reason"]
    assert "--destination-cidr-block 0.0.0.0/0 --nat-gateway-id NAT_GATEWAY_ID" in doc["fixes"][0]
    forward = [hop["step"] for hop in doc["paths"][0]["forward"]]
    assert "peering" not in forward  # the peering connection is never on the way to public addresses
    assert doc["destination"]["load_balancer"]["scheme"] == "internet-facing"
    assert doc["destination"]["note"].startswith("internet-facing")


def test_an_internet_facing_load_balancer_through_the_nat_sees_the_nat_address(seed, facing, capsys):
    ec2_client().create_route(RouteTableId=seed.api.table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=facing.nat)
    open_to(facing.lb.group, seed.api.cidr, 443)  # the peer CIDR: AWS's load balancer never sees it

    code, doc = why(capsys, seed.api.instance, facing.lb.dns, "--port", "443")

    assert code == 2
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", facing.lb.group)]
    assert f"from {facing.nat_public}" in doc["explanations"][0]["reason"]
    assert doc["fixes"] == [
        f"aws ec2 authorize-security-group-ingress --group-id {facing.lb.group} --protocol tcp --port 443 "
        f"--cidr {facing.nat_public}/32 --region {REGION}"
    ]

    open_to(facing.lb.group, f"{facing.nat_public}/32", 443)
    code, doc = why(capsys, seed.api.instance, facing.lb.dns, "--port", "443")

    assert (code, doc["explanations"]) == (0, [])
    path = doc["paths"][0]
    assert [hop["step"] for hop in path["forward"]] == [
        "sg egress", "acl out", "route table", "acl in", "nat gateway", "route table", "acl out",
        "acl in", "sg ingress", "listener",
    ]  # fmt: skip
    assert [hop["component"] for hop in path["forward"] if hop["step"] == "nat gateway"] == [facing.nat]
    assert [hop["step"] for hop in path["return"]] == ["acl out", "route table", "acl in", "acl out", "acl in"]
    # and a port without a listener is still refused, on the internet path too
    code, doc = why(capsys, seed.api.instance, facing.lb.dns, "--port", "80")
    assert ("ELB_LISTENERS_MISMATCH", "forward", facing.lb.arn) in codes(doc)


# -- instances that are not running -----------------------------------------------------------
def test_a_stopped_instance_is_a_bad_state(seed, capsys):
    ec2_client().stop_instances(InstanceIds=[seed.web.instance])

    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--port", "22")

    assert code == 2
    assert codes(doc) == [("BAD_STATE", "forward", seed.web.instance)]
    assert doc["explanations"][0]["state"] == "stopped"
    assert doc["fixes"] == [f"aws ec2 start-instances --instance-ids {seed.web.instance} --region {REGION}"]
    assert doc["destination"]["state"] == "stopped"

    # found by its address, the instance's state is still read (one DescribeInstances for both ends)
    ec2_client().stop_instances(InstanceIds=[seed.api.instance])
    code, doc = why(capsys, seed.api.ip, seed.web.ip, "--port", "22")
    assert codes(doc) == [("BAD_STATE", "forward", seed.api.instance), ("BAD_STATE", "forward", seed.web.instance)]
    assert doc["reads"]["by_operation"]["describe_instances"] == 1


# -- route priority: a static and a prefix-list route of the same length ----------------------
@pytest.mark.parametrize(("static_to_peering", "reachable"), [(True, True), (False, False)])
def test_a_static_route_wins_over_a_prefix_list_route_of_the_same_length(seed, capsys, static_to_peering, reachable):
    ec2 = ec2_client()
    api, web = seed.api, seed.web
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=api.vpc)
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName="web", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": web.cidr}]
    )["PrefixList"]["PrefixListId"]
    ec2.delete_route(RouteTableId=api.table, DestinationCidrBlock=web.cidr)
    # the prefix-list route comes first in the table: table order must not decide
    peering_or_gateway = {"VpcPeeringConnectionId": seed.pcx} if not static_to_peering else {"GatewayId": igw}
    ec2.create_route(RouteTableId=api.table, DestinationPrefixListId=prefix_list, **peering_or_gateway)
    static = {"VpcPeeringConnectionId": seed.pcx} if static_to_peering else {"GatewayId": igw}
    ec2.create_route(RouteTableId=api.table, DestinationCidrBlock=web.cidr, **static)

    code, doc = why(capsys, api.instance, web.instance, "--port", "22")

    assert (code, doc["reachable"]) == (0 if reachable else 2, reachable)
    route = next(hop for hop in doc["paths"][0]["forward"] if hop["step"] == "route table")
    if reachable:
        assert route["detail"] == f"{web.cidr} → {seed.pcx}"
    else:
        assert codes(doc) == [("HIGHER_PRIORITY_ROUTE", "forward", api.table)]
        assert doc["explanations"][0]["route"] == {
            "destination": web.cidr, "target": igw, "state": "active", "origin": "CreateRoute",
        }  # fmt: skip


def test_a_prefix_list_route_is_followed_and_shown_with_its_list(seed, capsys):
    ec2 = ec2_client()
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName="web", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "10.0.0.0/8"}]
    )["PrefixList"]["PrefixListId"]
    ec2.delete_route(RouteTableId=seed.api.table, DestinationCidrBlock=seed.web.cidr)
    ec2.create_route(RouteTableId=seed.api.table, DestinationPrefixListId=prefix_list, VpcPeeringConnectionId=seed.pcx)

    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--port", "22")

    assert code == 0
    route = next(hop for hop in doc["paths"][0]["forward"] if hop["step"] == "route table")
    assert route["detail"] == f"{prefix_list} (10.0.0.0/8) → {seed.pcx}"
    assert doc["reads"]["by_operation"]["get_managed_prefix_list_entries"] == 1


# -- across accounts: --account with --role-name ----------------------------------------------
@pytest.fixture
def across(aws: None) -> World:
    """api-vpc here (moto's default account), web-vpc in PARTNER, peered across the accounts and routed."""
    api = build_side(ec2_client(), "10.1.0.0/16", "api")
    partner = other_account_client("ec2", PARTNER)
    web = build_side(partner, "10.0.0.0/16", "web")
    pcx = ec2_client().create_vpc_peering_connection(VpcId=api.vpc, PeerVpcId=web.vpc, PeerOwnerId=PARTNER)
    pcx_id = pcx["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    partner.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
    ec2_client().create_route(RouteTableId=api.table, DestinationCidrBlock=web.cidr, VpcPeeringConnectionId=pcx_id)
    partner.create_route(RouteTableId=web.table, DestinationCidrBlock=api.cidr, VpcPeeringConnectionId=pcx_id)
    partner.authorize_security_group_ingress(
        GroupId=web.group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": api.cidr}]}],
    )
    return World(api, web, pcx_id)


def test_a_path_across_a_cross_account_peering_is_read_on_both_sides(across, capsys):
    api, web = across.api, across.web
    other = ("--account", PARTNER, "--role-name", "peerkeeper-plan")

    code, doc = why(capsys, api.instance, web.instance, "--port", "22", *other)

    assert (code, doc["explanations"]) == (0, [])
    assert doc["destination"]["owner"] == PARTNER
    peering = next(hop for hop in doc["paths"][0]["forward"] if hop["step"] == "peering")
    assert (peering["component"], peering["ok"]) == (across.pcx, True)

    # the partner's side is read in the partner's account: its missing return route is seen
    other_account_client("ec2", PARTNER).delete_route(RouteTableId=web.table, DestinationCidrBlock=api.cidr)
    code, doc = why(capsys, api.instance, web.ip, "--port", "22", *other)
    assert code == 2
    assert codes(doc) == [("NO_ROUTE_TO_DESTINATION", "return", web.table)]
    # the caller's `apply` routes only its own account's tables: the partner's fix is the AWS CLI's
    assert doc["fixes"][0].startswith(f"aws ec2 create-route --route-table-id {web.table} ")

    # and from the partner's instance back, the caller's account being the other side
    code, doc = why(capsys, web.instance, api.instance, "--port", "22", *other)
    assert ("NO_ROUTE_TO_DESTINATION", "forward", web.table) in codes(doc)


def test_without_the_account_the_other_end_is_not_found(across, capsys):
    code = app.main(["why", across.api.instance, across.web.instance])
    err = capsys.readouterr().err
    assert code == 1
    assert f"unknown instance {across.web.instance}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", PARTNER], "--account needs --role-name NAME"),
        (["--role-name", "r"], "--role-name needs --account ID"),
        (["--account", "12345", "--role-name", "r"], "--account '12345' is not a 12-digit account ID"),
    ],
)
def test_account_options_are_checked(across, capsys, args, message):
    code = app.main(["why", across.api.instance, across.web.instance, *args])
    err = capsys.readouterr().err
    assert code == 1
    assert message in err
    assert err.count("\n") == 1


# -- --to-targets: on from the load balancer to its registered targets ------------------------
def target_group_of(lb: Balancer) -> str:
    elbv2: Any = boto3.client("elbv2", region_name=REGION)
    return str(elbv2.describe_target_groups(LoadBalancerArn=lb.arn)["TargetGroups"][0]["TargetGroupArn"])


def test_to_targets_follows_the_load_balancer_on_to_its_registered_targets(seed, internal, capsys):
    asked = (seed.api.instance, internal.dns, "--port", "443", "--to-targets")
    code, doc = why(capsys, *asked)
    assert code == 2  # nothing registered: no path on
    assert codes(doc) == [("NO_PATH", "forward", internal.arn)]
    assert doc["targets"]["paths"] == []

    group = target_group_of(internal)
    elbv2: Any = boto3.client("elbv2", region_name=REGION)
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": seed.web.instance}])
    code, doc = why(capsys, *asked)

    # web's group allows 22 from api-vpc, not the target group's port 8080 from the load balancer
    assert code == 2
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", seed.web.group)]
    assert doc["explanations"][0]["leg"] == "to-targets"
    targets = doc["targets"]
    assert "health" in targets["note"]
    assert [(p["port"], p["target_group"], p["reachable"]) for p in targets["paths"]] == [(8080, group, False)] * 2
    assert doc["fixes"] == [
        f"aws ec2 authorize-security-group-ingress --group-id {seed.web.group} --protocol tcp --port 8080 "
        f"--cidr {seed.web.cidr} --region {REGION}"
    ]
    assert doc["reads"]["by_operation"]["describe_target_groups"] == 1
    assert doc["reads"]["by_operation"]["describe_target_health"] == 1

    allow_from_group = {
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8080,
        "UserIdGroupPairs": [{"GroupId": internal.group}],
    }
    ec2_client().authorize_security_group_ingress(GroupId=seed.web.group, IpPermissions=[allow_from_group])
    code, doc = why(capsys, *asked)
    assert (code, doc["explanations"], doc["targets"]["reachable"]) == (0, [], True)
    assert why(capsys, seed.api.instance, internal.dns, "--port", "443")[0] == 0  # without: as before

    ec2_client().stop_instances(InstanceIds=[seed.web.instance])
    code, doc = why(capsys, *asked)
    assert codes(doc) == [("BAD_STATE", "forward", seed.web.instance)]

    capsys.readouterr()
    app.main(["why", *asked])
    out = capsys.readouterr().out
    assert "on to the registered targets" in out
    assert "BAD_STATE (forward, load balancer to target)" in out


def test_to_targets_asks_about_tcp_or_udp(seed, internal, capsys):
    code = app.main(["why", seed.api.instance, internal.dns, "--protocol", "icmp", "--to-targets"])
    err = capsys.readouterr().err
    assert code == 1
    assert "--to-targets follows tcp or udp" in err
