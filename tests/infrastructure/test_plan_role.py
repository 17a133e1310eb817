"""The StackSet's optional read-only role holds exactly the reads ``plan`` makes, nothing else.

The reads are recorded, not listed by hand: ``peerkeeper plan --account <member> --role-name ...``
runs against moto's server over a world that takes every read path (a pending and an active
peering, a cross-region peer, DNS records for a v2 load balancer and for a name only the classic
API can answer, two private zones of one name, VPCs without flow logs), and every call made with the
role's credentials is turned into its IAM action. That set must equal the role's policy. The trust
policy and the creation condition (a trusted account set, one region per account since IAM is
global) are checked on the template.
"""

from __future__ import annotations

from typing import Any

import pytest

# Powertools' logger keeps the sys.stdout of its import: import it outside any captured test.
import peerkeeper.observability  # noqa: F401
from peerkeeper.cli import app, common
from peerkeeper.cli.demo import lab as demo_lab
from peerkeeper.cli.demo.rules import load_template
from tests.integration.test_fleet import in_account
from tests.support import ROOT, hook_sessions

ROLE = "peerkeeper-plan"
MEMBER = "777788889999"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def plan_role(template: dict[str, Any]) -> dict[str, Any]:
    role: dict[str, Any] = template["Resources"]["PlanRole"]
    return role


def policy_actions(role: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            listed = statement["Action"]
            actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


class RoleCalls:
    """IAM actions of the calls made with assumed-role sessions (the fleet's, made from a botocore session)."""

    def __init__(self) -> None:
        self.actions: set[str] = set()
        self.recording = False  # only while the command runs (the test's own setup makes sessions too)

    def __call__(self, model: Any, **_: Any) -> None:
        if not self.recording:
            return
        service = model.service_model
        prefix = service.signing_name or service.endpoint_prefix
        self.actions.add(f"{prefix}:{model.name}")


@pytest.fixture
def role_calls(monkeypatch: pytest.MonkeyPatch) -> RoleCalls:
    recorder = RoleCalls()
    # fleet.assume makes the role's session from a botocore session: only those are recorded.
    hook_sessions(monkeypatch, "before-call", recorder, only=lambda kwargs: "botocore_session" in kwargs)
    return recorder


def build_member_world(endpoint: str) -> str:
    clients = in_account(endpoint, MEMBER)
    lab = demo_lab.build_lab(clients, endpoint)
    ec2 = clients.ec2("us-east-1")
    # pending (peering concern) and active with missing routes (routes concern)
    ec2.create_vpc_peering_connection(VpcId=lab.api.vpc, PeerVpcId=lab.web.vpc)
    west = clients.ec2("us-west-2").create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=lab.web.vpc, PeerVpcId=west, PeerRegion="us-west-2")
    clients.ec2("us-west-2").accept_vpc_peering_connection(
        VpcPeeringConnectionId=pcx["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    )
    # a route table sending a managed prefix list to a transit gateway: plan reads the list's entries
    listed = ec2.create_managed_prefix_list(
        PrefixListName="corporate", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "172.16.0.0/12"}]
    )["PrefixList"]["PrefixListId"]
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    ec2.create_route(RouteTableId=lab.web.tables[-1], DestinationPrefixListId=listed, TransitGatewayId=tgw)
    # a second private zone of the same name (on the other VPC): plan reads both zones' VPCs
    clients.route53().create_hosted_zone(
        Name=demo_lab.ZONE_NAME,
        CallerReference="namesake",
        VPC={"VPCRegion": "us-east-1", "VPCId": lab.api.vpc},
        HostedZoneConfig={"Comment": "namesake", "PrivateZone": True},
    )
    clients.route53().create_hosted_zone(
        Name="other.lab.private",
        CallerReference="other",
        VPC={"VPCRegion": "us-east-1", "VPCId": lab.web.vpc},
        HostedZoneConfig={"Comment": "other", "PrivateZone": True},
    )
    return (
        f"api.{demo_lab.ZONE_NAME}=api-elb,api.other.lab.private=api-elb,web.other.lab.private=classic-only@us-west-2"
    )


def test_the_plan_role_allows_exactly_the_reads_of_plan(endpoint, plan_role, role_calls, capsys):
    records = build_member_world(endpoint)
    args = ["plan", "--endpoint-url", endpoint, "--account", MEMBER, "--role-name", ROLE, "--dns-records", records]

    role_calls.recording = True
    code = app.main([*args, "--json", "--allowed-accounts", MEMBER])
    graphed = app.main(["graph", *args[1:], "--allowed-accounts", MEMBER])  # the same reads, drawn
    role_calls.recording = False

    assert code == common.EXIT_DRIFT, capsys.readouterr().err
    assert graphed == common.EXIT_OK, capsys.readouterr().err
    assert "elasticloadbalancing:DescribeLoadBalancers" in role_calls.actions  # the DNS paths ran
    assert "route53:ListResourceRecordSets" in role_calls.actions
    assert "cloudformation:DescribeStacks" in role_calls.actions  # each account's own policy
    assert role_calls.actions == policy_actions(plan_role) - why_only_actions(plan_role)
    assert not any(
        action.split(":")[1].startswith(("Create", "Replace", "Accept", "Reject", "Change", "Delete"))
        for action in policy_actions(plan_role)
    )


# -- `why --account ID --role-name <the plan role>` (issue 22) ---------------------------------
WHY_MEMBER = "777788880000"


def why_only_actions(role: dict[str, Any]) -> set[str]:
    """The actions of the role's ``WhyReads`` statement: what ``why`` reads beyond ``plan``."""
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "WhyReads":
                return set(statement["Action"])
    return set()


def build_why_world(endpoint: str) -> dict[str, str]:
    """Two peered VPCs in WHY_MEMBER, an instance in each; a prefix-list route; api's way to the internet
    through a NAT gateway; an internet-facing load balancer (one listener) behind a private name."""
    clients = in_account(endpoint, WHY_MEMBER)
    ec2, region = clients.ec2("us-east-1"), "us-east-1"
    ends: dict[str, str] = {}
    vpcs, tables, subnets = {}, {}, {}
    for name, cidr in (("api", "10.61.0.0/16"), ("web", "10.60.0.0/16")):
        vpc = vpcs[name] = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        prefix = cidr.rsplit(".", 2)[0]
        subnet = subnets[name] = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"{prefix}.1.0/24", AvailabilityZone=f"{region}a"
        )["Subnet"]["SubnetId"]
        tables[name] = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=tables[name], SubnetId=subnet)
        group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        instance = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[group]
        )["Instances"][0]
        ends[name] = instance["InstanceId"]
        ends[f"{name}-ip"] = instance["PrivateIpAddress"]
        ends[f"{name}-eni"] = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        public = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.200.0/24", AvailabilityZone=f"{region}b")
        ends[f"{name}-public"] = public["Subnet"]["SubnetId"]
        ec2.create_route(RouteTableId=_main(ec2, vpc), DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    pcx = ec2.create_vpc_peering_connection(VpcId=vpcs["api"], PeerVpcId=vpcs["web"])["VpcPeeringConnection"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"])
    web_list = ec2.create_managed_prefix_list(
        PrefixListName="web", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "10.60.0.0/16"}]
    )["PrefixList"]["PrefixListId"]
    ec2.create_route(
        RouteTableId=tables["api"],
        DestinationPrefixListId=web_list,
        VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"],
    )
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=ends["api-public"], AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    ec2.create_route(RouteTableId=tables["api"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    elbv2 = clients.elbv2(region)
    lb = elbv2.create_load_balancer(
        Name="why-www", Subnets=[subnets["web"], ends["web-public"]], Scheme="internet-facing"
    )
    arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    target_group = elbv2.create_target_group(Name="why-www", Protocol="HTTP", Port=80, VpcId=vpcs["web"])
    forward: Any = [{"Type": "forward", "TargetGroupArn": target_group["TargetGroups"][0]["TargetGroupArn"]}]
    elbv2.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=443, DefaultActions=forward)
    elbv2.register_targets(TargetGroupArn=forward[0]["TargetGroupArn"], Targets=[{"Id": ends["web"]}])
    zone = clients.route53().create_hosted_zone(
        Name="why.private",
        CallerReference="why",
        VPC={"VPCRegion": "us-east-1", "VPCId": vpcs["api"]},
        HostedZoneConfig={"Comment": "why", "PrivateZone": True},
    )["HostedZone"]["Id"]
    record = {"Name": "www.why.private", "Type": "CNAME", "TTL": 300,
              "ResourceRecords": [{"Value": lb["LoadBalancers"][0]["DNSName"]}]}  # fmt: skip
    clients.route53().change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},  # type: ignore[typeddict-item]
    )
    return ends


def _main(ec2: Any, vpc: str) -> str:
    found = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )
    return str(found["RouteTables"][0]["RouteTableId"])


def test_the_plan_role_allows_the_reads_of_why_in_its_account(endpoint, plan_role, role_calls, capsys):
    ends = build_why_world(endpoint)
    options = ["--endpoint-url", endpoint, "--account", WHY_MEMBER, "--role-name", ROLE, "--json"]
    questions = [
        [ends["api"], ends["web"], "--port", "22"],  # instances: DescribeInstances; a prefix-list route
        [ends["api-ip"], ends["web-eni"], "--port", "22"],  # an address and an interface
        [ends["api"], "www.why.private", "--port", "443"],  # a private name, a load balancer, a NAT gateway
        [ends["api"], "www.why.private", "--port", "443", "--to-targets"],  # its target group and targets
    ]

    role_calls.recording = True
    for question in questions:
        code = app.main(["why", *question, *options])
        assert code in (0, 2), capsys.readouterr().err
    role_calls.recording = False

    granted = policy_actions(plan_role)
    assert role_calls.actions <= granted, role_calls.actions - granted
    assert why_only_actions(plan_role) <= role_calls.actions  # every grant for why is used by why
    assert {"ec2:DescribeNatGateways", "elasticloadbalancing:DescribeListeners"} <= role_calls.actions
    assert not any(action.split(":")[1].startswith(("Create", "Replace", "Accept", "Modify", "Delete"))
                   for action in why_only_actions(plan_role))  # fmt: skip


def test_the_plan_role_trusts_only_the_named_principal_and_is_made_once_per_account(template, plan_role):
    assert plan_role["Condition"] == "CreatePlanRole"
    condition = template["Conditions"]["CreatePlanRole"]
    assert condition == {
        "Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "PlanPrincipalArn"}, ""]}]},
            {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "PlanRoleRegion"}]},
        ]
    }
    # One named principal (never an account's root), which must say who it is (SourceIdentity).
    assume, set_identity = plan_role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert assume["Principal"] == set_identity["Principal"] == {"AWS": {"Ref": "PlanPrincipalArn"}}
    assert (assume["Action"], set_identity["Action"]) == ("sts:AssumeRole", "sts:SetSourceIdentity")
    assert assume["Condition"] == {"Null": {"sts:SourceIdentity": "false"}}
    assert plan_role["Properties"]["RoleName"] == {"Ref": "PlanRoleName"}
    parameters = template["Parameters"]
    assert parameters["PlanPrincipalArn"]["Default"] == ""
    assert parameters["PlanRoleName"]["Default"] == ROLE
