"""``peerkeeper why`` against moto: the seed's ping, routes, ACLs, peering state, group references, DNS.

Each test builds a small world (two VPCs, one instance each, peered unless said otherwise) and asks
``peerkeeper why`` through the real command line entry point (``app.main``), reading its ``--json``.

Where moto is not AWS (see /work/shared/reference/moto-gaps.md):
- moto's default security group has no self-referencing ingress rule; every instance here gets its
  own group, so the default group plays no part;
- moto creates no network interfaces for load balancers: ``why`` reasons about a load balancer
  through its subnets and security groups, as AWS's interfaces would sit in those subnets;
- moto has no ``ipv6-addresses.ipv6-address`` filter for DescribeNetworkInterfaces: the IPv6 test
  teaches moto that filter (AWS has it), so the product asks AWS's question unchanged.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from peerkeeper import observability  # noqa: F401  (its log handler binds stdout at import: not a test's capsys)
from peerkeeper.cli import app
from peerkeeper.clients import Clients
from peerkeeper.reach import command
from tests.support import REGION, CallRecorder, ec2_client

OTHER_REGION = "eu-west-1"


@dataclass
class Side:
    vpc: str
    cidr: str
    subnet: str
    table: str
    group: str
    instance: str
    eni: str
    ip: str
    region: str = REGION
    ipv6: str = ""
    ipv6_cidr: str = ""


@dataclass
class World:
    api: Side  # the requester: 10.1.0.0/16, where the ping starts
    web: Side  # the accepter: 10.0.0.0/16
    pcx: str


def build_side(ec2: Any, cidr: str, name: str, *, ipv6: bool = False) -> Side:
    region = ec2.meta.region_name
    vpc = ec2.create_vpc(CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
    prefix = cidr.rsplit(".", 2)[0]
    subnet_args: dict[str, Any] = {"VpcId": vpc, "CidrBlock": f"{prefix}.1.0/24", "AvailabilityZone": f"{region}a"}
    v6_block = ""
    if ipv6:
        v6_block = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
        v6_block = ipaddress.ip_network(v6_block).compressed  # moto may write leading zeros; AWS does not
        subnet_args["Ipv6CidrBlock"] = v6_block.replace("/56", "/64")
    subnet = ec2.create_subnet(**subnet_args)["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description=name, VpcId=vpc)["GroupId"]
    extra = {"Ipv6AddressCount": 1} if ipv6 else {}
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[group], **extra
    )["Instances"][0]
    eni = instance["NetworkInterfaces"][0]
    v6 = eni.get("Ipv6Addresses") or [{}]
    return Side(
        vpc, cidr, subnet, table, group, instance["InstanceId"], eni["NetworkInterfaceId"],
        instance["PrivateIpAddress"], region, v6[0].get("Ipv6Address", ""), v6_block,
    )  # fmt: skip


def peer(ec2: Any, requester: Side, accepter: Side, *, accept: bool = True, routes: bool = True) -> str:
    kwargs = {"PeerRegion": accepter.region} if accepter.region != requester.region else {}
    pcx = ec2.create_vpc_peering_connection(VpcId=requester.vpc, PeerVpcId=accepter.vpc, **kwargs)
    pcx_id = pcx["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    if accept:
        ec2_client(accepter.region).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
    if routes:
        for own, other in ((requester, accepter), (accepter, requester)):
            client = ec2_client(own.region)
            client.create_route(RouteTableId=own.table, DestinationCidrBlock=other.cidr, VpcPeeringConnectionId=pcx_id)
            if own.ipv6_cidr and other.ipv6_cidr:
                client.create_route(
                    RouteTableId=own.table, DestinationIpv6CidrBlock=other.ipv6_cidr, VpcPeeringConnectionId=pcx_id
                )
    return pcx_id


def allow(side: Side, protocol: str, port: int, source: str) -> None:
    """An ingress rule on ``side``'s group from a CIDR or another group."""
    pairs = {"UserIdGroupPairs": [{"GroupId": source}]} if source.startswith("sg-") else {}
    ranges = {"Ipv6Ranges": [{"CidrIpv6": source}]} if ":" in source else {"IpRanges": [{"CidrIp": source}]}
    permission = {"IpProtocol": protocol, "FromPort": port, "ToPort": port if protocol != "icmp" else -1}
    permission |= pairs or ranges
    ec2_client(side.region).authorize_security_group_ingress(GroupId=side.group, IpPermissions=[permission])


@pytest.fixture
def seed(aws: None) -> World:
    """The seed lab as its walkthrough leaves it: peered, routed both ways, SSH allowed, ICMP not."""
    ec2 = ec2_client()
    api = build_side(ec2, "10.1.0.0/16", "api")
    web = build_side(ec2, "10.0.0.0/16", "web")
    pcx = peer(ec2, api, web)
    allow(web, "tcp", 22, api.cidr)
    return World(api, web, pcx)


def why(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = app.main(["why", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def codes(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["code"], e["direction"], e["component"]) for e in doc["explanations"]]


def run_fix(fix: str) -> None:
    """Carry out a fix `why` printed, the way the AWS CLI would (only the shapes `why` prints here)."""
    words = shlex.split(fix)
    assert words[:3] == ["aws", "ec2", "authorize-security-group-ingress"], fix
    options = dict(zip(words[3::2], words[4::2], strict=True))
    port = options["--port"]
    low, _, high = port.partition("-") if not port.startswith("-") else (port, "", port)
    ec2_client(options["--region"]).authorize_security_group_ingress(
        GroupId=options["--group-id"],
        IpProtocol=options["--protocol"],
        FromPort=int(low),
        ToPort=int(high or low),
        CidrIp=options["--cidr"],
    )


# -- the seed's story -------------------------------------------------------------------------
def test_seed_ping_fails_at_the_web_security_group_and_the_suggested_fix_makes_it_reachable(seed, capsys):
    api, web = seed.api, seed.web

    code, doc = why(capsys, api.instance, web.instance, "--protocol", "icmp")

    assert code == 2
    assert doc["reachable"] is False
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", web.group)]
    assert doc["fixes"] == [
        f"aws ec2 authorize-security-group-ingress --group-id {web.group} --protocol icmp --port -1 "
        f"--cidr {api.cidr} --region {REGION}"
    ]
    forward = [(hop["step"], hop["ok"]) for hop in doc["paths"][0]["forward"]]
    assert forward == [
        ("sg egress", True),
        ("acl out", True),
        ("route table", True),
        ("peering", True),
        ("acl in", True),
        ("sg ingress", False),
    ]
    assert [hop["step"] for hop in doc["paths"][0]["return"]] == ["acl out", "route table", "peering", "acl in"]
    assert (doc["source"]["id"], doc["source"]["address"]) == (api.instance, api.ip)

    run_fix(doc["fixes"][0])
    code, doc = why(capsys, api.instance, web.instance, "--protocol", "icmp")

    assert (code, doc["reachable"], doc["explanations"], doc["fixes"]) == (0, True, [], [])


@pytest.mark.parametrize(
    ("source_form", "destination_form"),
    [("instance", "instance"), ("ip", "ip"), ("eni", "eni"), ("instance", "ip"), ("eni", "instance")],
)
def test_ssh_is_reachable_whatever_names_the_ends(seed, capsys, source_form, destination_form):
    def name(side: Side, form: str) -> str:
        return {"instance": side.instance, "ip": side.ip, "eni": side.eni}[form]

    code, doc = why(capsys, name(seed.api, source_form), name(seed.web, destination_form), "--port", "22")

    assert (code, doc["reachable"], doc["explanations"]) == (0, True, [])
    assert doc["destination"]["interface"] == seed.web.eni
    assert doc["destination"]["address"] == seed.web.ip


def test_the_port_beside_ssh_is_not_reachable(seed, capsys):
    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--port", "23")

    assert code == 2
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", seed.web.group)]
    assert "--protocol tcp --port 23" in doc["fixes"][0]


# -- routes -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("missing", "direction"), [("api", "forward"), ("web", "return")])
def test_a_missing_route_names_the_table_and_the_direction(seed, capsys, missing, direction):
    side, other = (seed.api, seed.web) if missing == "api" else (seed.web, seed.api)
    ec2_client().delete_route(RouteTableId=side.table, DestinationCidrBlock=other.cidr)

    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--port", "22")

    assert code == 2
    assert codes(doc) == [("NO_ROUTE_TO_DESTINATION", direction, side.table)]
    explanation = doc["explanations"][0]
    assert explanation["route_table"] == side.table
    assert explanation["subnet"] == side.subnet
    assert explanation["route"] is None
    # peerkeeper's own route planner would add it: the fix is to let it
    assert doc["fixes"] == [f"run `peerkeeper apply` (it routes {other.cidr} to {seed.pcx} in {side.table}, {REGION})"]


@pytest.mark.parametrize(("entry", "apply_fixes"), [("192.168.0.0/16", True), ("10.0.0.0/8", False)])
def test_a_table_with_a_prefix_list_route_is_judged_with_its_entries(seed, capsys, entry, apply_fixes):
    """why hands the entries it read to the route planner: a prefix list that has nothing to do with
    the peer (like an S3 gateway endpoint's) still lets `apply` add the route; one whose entry holds
    the peer's CIDR is an aggregate, so apply would not, and the fix is the AWS CLI's."""
    ec2 = ec2_client()
    listed = ec2.create_managed_prefix_list(
        PrefixListName="elsewhere", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": entry}]
    )["PrefixList"]["PrefixListId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.create_route(RouteTableId=seed.api.table, DestinationPrefixListId=listed, GatewayId=gateway)
    ec2.delete_route(RouteTableId=seed.api.table, DestinationCidrBlock=seed.web.cidr)

    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--port", "22")

    assert code == 2
    assert codes(doc) == [("NO_ROUTE_TO_DESTINATION", "forward", seed.api.table)]
    routed_by_apply = f"run `peerkeeper apply` (it routes {seed.web.cidr} to {seed.pcx} in {seed.api.table}, {REGION})"
    assert (doc["fixes"] == [routed_by_apply]) is apply_fixes, doc["fixes"]


def test_a_route_peerkeeper_would_not_add_gets_the_aws_command(seed, capsys, monkeypatch):
    """Outside the allowlist peerkeeper routes nothing, so the fix is the AWS CLI's."""
    ec2_client().delete_route(RouteTableId=seed.api.table, DestinationCidrBlock=seed.web.cidr)
    monkeypatch.setattr(command, "planned_routes", lambda observed, account, settings: frozenset())

    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--port", "22")

    assert code == 2
    assert doc["fixes"] == [
        f"aws ec2 create-route --route-table-id {seed.api.table} --destination-cidr-block {seed.web.cidr} "
        f"--vpc-peering-connection-id {seed.pcx} --region {REGION}"
    ]


# -- network ACLs -----------------------------------------------------------------------------
def custom_acl(side: Side, entries: list[dict[str, Any]]) -> str:
    ec2 = ec2_client(side.region)
    acl = ec2.create_network_acl(VpcId=side.vpc)["NetworkAcl"]["NetworkAclId"]
    for entry in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl, **entry)
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [side.subnet]}])
    association = next(
        a["NetworkAclAssociationId"]
        for item in current["NetworkAcls"]
        for a in item["Associations"]
        if a["SubnetId"] == side.subnet
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    return str(acl)


def rule(number: int, egress: bool, low: int, high: int, cidr: str, action: str = "allow") -> dict[str, Any]:
    return {
        "RuleNumber": number,
        "Protocol": "6",
        "RuleAction": action,
        "Egress": egress,
        "CidrBlock": cidr,
        "PortRange": {"From": low, "To": high},
    }


def test_an_acl_that_lets_the_request_in_but_drops_the_replies(seed, capsys):
    api, web = seed.api, seed.web
    acl = custom_acl(web, [rule(100, False, 22, 22, api.cidr), rule(100, True, 0, 1023, api.cidr)])

    code, doc = why(capsys, api.instance, web.instance, "--port", "22")

    assert code == 2
    assert codes(doc) == [("SUBNET_ACL_RESTRICTION", "return", acl)]
    explanation = doc["explanations"][0]
    assert explanation["acl_rule"] == {"rule_number": "*", "rule_action": "deny", "egress": True}
    assert "1024-65535" in explanation["reason"]
    assert doc["fixes"] == [
        f"aws ec2 create-network-acl-entry --network-acl-id {acl} --egress --rule-number 110 --protocol 6 "
        f"--port-range From=1024,To=65535 --cidr-block {api.cidr} --rule-action allow --region {REGION}"
    ]
    forward = {hop["step"]: hop["ok"] for hop in doc["paths"][0]["forward"]}
    assert forward["acl in"] is True


def test_an_explicit_deny_before_the_allow_wins(seed, capsys):
    api, web = seed.api, seed.web
    everything = [rule(200, False, 0, 65535, "0.0.0.0/0"), rule(200, True, 0, 65535, "0.0.0.0/0")]
    acl = custom_acl(web, [rule(100, False, 22, 22, api.cidr, "deny"), *everything])

    code, doc = why(capsys, api.instance, web.instance, "--port", "22")

    assert code == 2
    assert codes(doc) == [("SUBNET_ACL_RESTRICTION", "forward", acl)]
    assert doc["explanations"][0]["acl_rule"]["rule_number"] == "100"
    assert "--ingress --rule-number 99 " in doc["fixes"][0]
    code, doc = why(capsys, api.instance, web.instance, "--port", "80")  # the ACL allows it; the group does not
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", web.group)]


# -- the peering connection -------------------------------------------------------------------
def test_a_peering_not_yet_accepted_is_a_bad_state(aws, capsys):
    ec2 = ec2_client()
    api, web = build_side(ec2, "10.1.0.0/16", "api"), build_side(ec2, "10.0.0.0/16", "web")
    allow(web, "tcp", 22, api.cidr)
    pcx = peer(ec2, api, web, accept=False, routes=False)

    code, doc = why(capsys, api.instance, web.instance, "--port", "22")

    assert code == 2
    assert codes(doc) == [
        ("NO_ROUTE_TO_DESTINATION", "forward", api.table),
        ("BAD_STATE", "forward", pcx),
        ("NO_ROUTE_TO_DESTINATION", "return", web.table),
    ]
    bad = doc["explanations"][1]
    assert bad["state"] == "pending-acceptance"
    assert sorted(bad["vpcs"]) == sorted([api.vpc, web.vpc])
    assert (
        f"aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id {pcx} --region {REGION}" in bad["fixes"][0]
    )


def test_vpcs_without_any_peering_get_the_command_that_creates_one(aws, capsys):
    ec2 = ec2_client()
    api, web = build_side(ec2, "10.1.0.0/16", "api"), build_side(ec2, "10.0.0.0/16", "web")

    code, doc = why(capsys, api.ip, web.ip, "--protocol", "icmp")

    assert code == 2
    assert ("NO_ROUTE_TO_DESTINATION", "forward", api.table) in codes(doc)
    assert f"aws ec2 create-vpc-peering-connection --vpc-id {api.vpc} --peer-vpc-id {web.vpc}" in doc["fixes"][0]


# -- security groups --------------------------------------------------------------------------
@pytest.mark.parametrize(("port", "reachable"), [(5432, True), (5433, False)])
def test_a_group_reference_across_the_peering(seed, capsys, port, reachable):
    allow(seed.web, "tcp", 5432, seed.api.group)  # same region, active peering: AWS applies it

    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--port", str(port))

    assert doc["reachable"] is reachable
    assert code == (0 if reachable else 2)
    if not reachable:
        assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", seed.web.group)]


def test_a_source_group_with_no_egress(seed, capsys):
    ec2_client().revoke_security_group_egress(
        GroupId=seed.api.group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )

    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--port", "22")

    assert code == 2
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", seed.api.group)]
    assert doc["fixes"] == [
        f"aws ec2 authorize-security-group-egress --group-id {seed.api.group} "
        f"--ip-permissions 'IpProtocol=6,FromPort=22,ToPort=22,IpRanges=[{{CidrIp={seed.web.cidr}}}]' --region {REGION}"
    ]
    capsys.readouterr()
    app.main(["why", seed.api.instance, seed.web.instance, "--port", "22"])
    assert doc["fixes"][0] in capsys.readouterr().out  # on the terminal too, brackets and all (not read as markup)


def test_protocol_all_needs_a_rule_for_all_traffic(seed, capsys):
    code, doc = why(capsys, seed.api.instance, seed.web.instance, "--protocol", "all")
    assert code == 2
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", seed.web.group)]
    ec2_client().authorize_security_group_ingress(
        GroupId=seed.web.group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": seed.api.cidr}]}]
    )
    assert why(capsys, seed.api.instance, seed.web.instance, "--protocol", "all")[0] == 0


# -- a DNS name through a private zone to an internal load balancer ---------------------------
def listen(lb: Any, vpc: str, *ports: int, region: str = REGION) -> None:
    """Listeners on ``ports`` (HTTP for an ALB, TCP for an NLB), forwarding to one target group."""
    elbv2: Any = boto3.client("elbv2", region_name=region)
    protocol = "HTTP" if lb.get("Type", "application") == "application" else "TCP"
    name = f"tg-{lb['LoadBalancerName']}"[:32]
    group = elbv2.create_target_group(Name=name, Protocol=protocol, Port=8080, VpcId=vpc)["TargetGroups"][0]
    for port in ports:
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol=protocol,
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )


def test_a_private_name_through_a_cname_to_an_internal_load_balancer(seed, capsys):
    api, web = seed.api, seed.web
    ec2 = ec2_client()
    subnets = [
        ec2.create_subnet(VpcId=web.vpc, CidrBlock=f"10.0.{10 + i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    lb_group = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=web.vpc)["GroupId"]
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": api.cidr}]}
    ec2.authorize_security_group_ingress(GroupId=lb_group, IpPermissions=[https])
    lb = boto3.client("elbv2", region_name=REGION).create_load_balancer(
        Name="api-elb", Subnets=subnets, SecurityGroups=[lb_group], Scheme="internal", Type="application"
    )["LoadBalancers"][0]
    listen(lb, web.vpc, 443)
    # the load balancer's subnets use web-vpc's main table: it needs the route back too
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [web.vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    route53: Any = boto3.client("route53", region_name=REGION)
    zone = route53.create_hosted_zone(
        Name="elb.lab.private",
        CallerReference="why-test",
        VPC={"VPCRegion": REGION, "VPCId": api.vpc},
        HostedZoneConfig={"Comment": "", "PrivateZone": True},
    )["HostedZone"]["Id"]
    cname = {"Name": "api.elb.lab.private", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": lb["DNSName"]}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": cname}]}
    )

    code, doc = why(capsys, api.instance, "api.elb.lab.private", "--port", "443")

    assert code == 2
    assert codes(doc) == [("NO_ROUTE_TO_DESTINATION", "return", main)]
    destination = doc["destination"]
    assert destination["kind"] == "dns-name"
    assert destination["resolution"] == [f"api.elb.lab.private CNAME {lb['DNSName'].lower()}"]
    assert destination["load_balancer"]["name"] == "api-elb"
    assert sorted(node["subnet"] for node in destination["nodes"]) == sorted(subnets)
    assert [node["address_range"] for node in destination["nodes"]] == ["10.0.10.0/24", "10.0.11.0/24"]

    ec2.create_route(RouteTableId=main, DestinationCidrBlock=api.cidr, VpcPeeringConnectionId=seed.pcx)
    assert why(capsys, api.instance, "api.elb.lab.private", "--port", "443")[0] == 0

    code, doc = why(capsys, api.instance, "api.elb.lab.private", "--port", "80")
    assert code == 2
    assert codes(doc) == [
        ("ENI_SG_RULES_MISMATCH", "forward", lb_group),
        ("ELB_LISTENERS_MISMATCH", "forward", lb["LoadBalancerArn"]),
    ]

    # the load balancer's own name needs no zone; a name with an A record leads to the interface holding it
    code, doc = why(capsys, api.instance, lb["DNSName"], "--port", "443")
    assert (code, doc["destination"]["load_balancer"]["name"]) == (0, "api-elb")
    address = {"Name": "db.elb.lab.private", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": web.ip}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": address}]}
    )
    code, doc = why(capsys, api.instance, "db.elb.lab.private", "--port", "22")
    assert code == 0
    assert doc["destination"]["resolution"] == [f"db.elb.lab.private A {web.ip}"]
    assert [node["interface"] for node in doc["destination"]["nodes"]] == [web.eni]


# -- across regions and in IPv6 ---------------------------------------------------------------
def test_a_cross_region_peering(aws, capsys):
    api = build_side(ec2_client(), "10.1.0.0/16", "api")
    web = build_side(ec2_client(OTHER_REGION), "10.0.0.0/16", "web")
    pcx = peer(ec2_client(), api, web)
    regions = ("--region", REGION, "--region", OTHER_REGION)

    code, doc = why(capsys, api.instance, web.instance, "--protocol", "icmp", *regions)

    assert code == 2
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", web.group)]
    assert doc["fixes"][0].endswith(f"--cidr {api.cidr} --region {OTHER_REGION}")
    peering = next(hop for hop in doc["paths"][0]["forward"] if hop["step"] == "peering")
    assert (peering["component"], peering["ok"]) == (pcx, True)
    assert f"({REGION})" in peering["detail"]
    assert f"({OTHER_REGION})" in peering["detail"]

    allow(web, "icmp", -1, api.cidr)
    assert why(capsys, api.instance, web.instance, "--protocol", "icmp", *regions)[0] == 0
    assert why(capsys, web.ip, api.ip, "--protocol", "icmp", "--region", OTHER_REGION, "--region", REGION)[0] == 2


@pytest.fixture
def ipv6_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto lacks DescribeNetworkInterfaces' ``ipv6-addresses.ipv6-address`` filter; AWS has it."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    original = NetworkInterface.get_filter_value

    def get_filter_value(self: Any, filter_name: str, method_name: str | None = None) -> Any:
        if filter_name == "ipv6-addresses.ipv6-address":
            return [str(address) for address in self.ipv6_addresses]
        return original(self, filter_name, method_name)

    monkeypatch.setattr(NetworkInterface, "get_filter_value", get_filter_value)


def test_ipv6(aws, ipv6_filter, capsys):
    ec2 = ec2_client()
    api = build_side(ec2, "10.1.0.0/16", "api", ipv6=True)
    web = build_side(ec2, "10.0.0.0/16", "web", ipv6=True)
    peer(ec2, api, web)
    for side in (api, web):  # AWS adds these to a VPC's default ACL with its IPv6 block; moto does not
        acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [side.vpc]}])["NetworkAcls"][0]
        for egress in (True, False):
            ec2.create_network_acl_entry(
                NetworkAclId=acl["NetworkAclId"], RuleNumber=101, Protocol="-1", RuleAction="allow",
                Egress=egress, Ipv6CidrBlock="::/0",
            )  # fmt: skip

    code, doc = why(capsys, api.instance, web.ipv6, "--protocol", "icmp")

    assert code == 2
    assert doc["source"]["address"] == ipaddress.ip_address(api.ipv6).compressed
    assert codes(doc) == [("ENI_SG_RULES_MISMATCH", "forward", web.group)]
    assert doc["fixes"] == [
        f"aws ec2 authorize-security-group-ingress --group-id {web.group} "
        "--ip-permissions 'IpProtocol=58,FromPort=-1,ToPort=-1,"
        f"Ipv6Ranges=[{{CidrIpv6={api.ipv6_cidr}}}]' --region {REGION}"
    ]
    route = next(hop for hop in doc["paths"][0]["forward"] if hop["step"] == "route table")
    assert route["ok"]
    assert route["detail"].startswith(f"{web.ipv6_cidr} → ")

    ec2.authorize_security_group_ingress(
        GroupId=web.group,
        IpPermissions=[{"IpProtocol": "58", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": api.ipv6_cidr}]}],
    )
    assert why(capsys, api.instance, web.ipv6, "--protocol", "icmp")[0] == 0
    assert why(capsys, api.instance, web.instance, "--protocol", "icmp")[0] == 2  # IPv4 is not allowed


# -- only reads, and few ----------------------------------------------------------------------
@pytest.fixture
def recorded() -> tuple[Clients, CallRecorder]:
    recorder = CallRecorder()
    session = boto3.Session(region_name=REGION)
    session.events.register("before-call", recorder)
    return Clients(session), recorder


def test_why_makes_no_mutating_call_and_a_same_region_question_takes_at_most_10_reads(seed, recorded):
    clients, recorder = recorded
    ec2_client().delete_route(RouteTableId=seed.web.table, DestinationCidrBlock=seed.api.cidr)
    questions: list[Callable[[], command.Answer]] = [
        lambda: command.why(clients, [REGION], seed.api.instance, seed.web.instance, command.traffic_of("icmp", None)),
        lambda: command.why(clients, [REGION], seed.api.ip, seed.web.eni, command.traffic_of("tcp", "22")),
    ]
    network = [
        "DescribeVpcs",
        "DescribeRouteTables",
        "DescribeNetworkAcls",
        "DescribeSecurityGroups",
        "DescribeVpcPeeringConnections",
    ]
    expected = [
        # both instances, their interfaces and their states in one DescribeInstances
        ["DescribeInstances", *network],
        # an address and an interface (EC2 ANDs filter names: two calls), then the instances' states in one
        ["DescribeNetworkInterfaces", "DescribeNetworkInterfaces", "DescribeInstances", *network],
    ]
    for question, operations in zip(questions, expected, strict=True):
        recorder.clear()
        answer = question()
        assert not answer.reachable
        assert recorder.mutating == []
        assert len(recorder.operations) <= 10, recorder.operations
        assert len(recorder.operations) == sum(answer.reads.values())
        assert recorder.operations == operations


# -- a person's mistakes: one line, exit 1 ----------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["i-0123456789abcdef0", "WEB"], "unknown instance i-0123456789abcdef0 in us-east-1"),
        (["API", "eni-0123456789abcdef0"], "unknown network interface eni-0123456789abcdef0"),
        (["API", "10.0.9.9"], "no network interface holds DESTINATION address 10.0.9.9; VPCs searched: "),
        (["API", "db.elb.lab.private"], "no private hosted zone associated with"),
        (["API", "WEB", "--port", "70000"], "--port 70000 is outside 0-65535"),
        (["API", "WEB", "--port", "-1"], "--port -1 is outside 0-65535"),
        (["API", "WEB", "--protocol", "icmp", "--port", "22"], "--port applies to tcp and udp only"),
        (["API", "WEB", "--protocol", "gre"], "--protocol 'gre' is not one of tcp, udp, icmp, all"),
        (["API", "not an id"], "DESTINATION 'not an id' is not an instance ID"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(seed, capsys, args, message):
    names = {"API": seed.api.instance, "WEB": seed.web.instance}
    code = app.main(["why", *(names.get(a, a) for a in args)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("peerkeeper: error: ")
    assert message in err
    assert err.count("\n") == 1
    if "10.0.9.9" in message:
        assert seed.web.vpc in err
        assert seed.api.vpc in err


def test_a_usage_mistake_exits_1_not_2(capsys):
    with pytest.raises(SystemExit) as raised:
        app.main(["why", "i-0123456789abcdef0"])
    assert raised.value.code == 1
    assert "DESTINATION" in capsys.readouterr().err


def test_the_terminal_answer_reads_as_a_path(seed, capsys):
    capsys.readouterr()
    code = app.main(["why", seed.api.instance, seed.web.instance, "--protocol", "icmp"])
    out = capsys.readouterr().out
    assert code == 2
    lines = [line.strip() for line in out.splitlines()]
    names = ("sg egress", "acl out", "route table", "peering", "acl in", "sg ingress")
    found = [next((n for n in names if line[1:].strip().startswith(n)), "") for line in lines if line[:1] in "✔✘"]
    steps = [step for step in found if step]
    assert steps == [*names, "acl out", "route table", "peering", "acl in"]
    assert any(line.split()[:3] == ["✘", "sg", "ingress"] and "ENI_SG_RULES_MISMATCH" in line for line in lines)
    assert "✘ not reachable" in out
    assert f"$ aws ec2 authorize-security-group-ingress --group-id {seed.web.group}" in out
    assert [line.split()[1] for line in lines if line.startswith("●")] == [
        seed.api.instance,
        seed.web.instance,
        seed.web.instance,
        seed.api.instance,
    ]
