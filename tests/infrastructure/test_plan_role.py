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
from tests.iam import Recorder, World, refused, stack_for
from tests.integration.test_fleet import in_account
from tests.integration.test_why import allow, build_side, peer
from tests.support import ACCOUNT, ROOT, ec2_client, hook_sessions

ROLE = "peerkeeper-plan"
MEMBER = "777788889999"
# What only 'why' reads (test_the_plan_role_allows_every_read_of_why); the rest is plan's.
WHY_ONLY = {
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeSecurityGroups",
    "route53:ListHostedZonesByVPC",
}


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
    assert role_calls.actions == policy_actions(plan_role) - WHY_ONLY
    assert not any(
        action.split(":")[1].startswith(("Create", "Replace", "Accept", "Reject", "Change", "Delete"))
        for action in policy_actions(plan_role)
    )


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


def test_the_plan_role_allows_every_read_of_why(aws, template, capsys, monkeypatch):
    """``why`` in one account (it has no ``--account`` yet): each of its calls, over questions that take
    its paths (instance, address, interface, a blocked and an open port), is granted by the plan role,
    and what the role grants beyond plan's reads is what why reads."""
    ec2 = ec2_client()
    api, web = build_side(ec2, "10.1.0.0/16", "api"), build_side(ec2, "10.0.0.0/16", "web")
    peer(ec2, api, web)
    allow(web, "tcp", 22, api.cidr)
    recorder = Recorder()
    hook_sessions(monkeypatch, "before-parameter-build", recorder)
    questions = [
        [api.instance, web.instance, "--port", "22"],
        [api.ip, web.eni, "--protocol", "icmp"],
        [api.eni, web.ip, "--protocol", "udp", "--port", "53"],
    ]

    recorder.recording = True
    for question in questions:
        assert app.main(["why", *question, "--json"]) in (0, 2), capsys.readouterr().err
    recorder.recording = False

    statements = stack_for(template, ACCOUNT, PlanPrincipalArn="arn:aws:iam::111122223333:role/ops").role_statements(
        "PlanRole"
    )
    assert refused(recorder.calls, statements, World(ACCOUNT, ec2_client)) == []
    assert recorder.actions - WHY_ONLY <= policy_actions(template["Resources"]["PlanRole"]) - WHY_ONLY
    assert {
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeSecurityGroups",
    } <= recorder.actions
