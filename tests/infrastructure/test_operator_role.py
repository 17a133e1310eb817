"""The optional ``OperatorRole`` holds exactly what ``apply`` calls, under the functions' conditions.

``peerkeeper apply --account <member> --role-name peerkeeper-operator`` runs against moto's server
over a member world that takes every write path (a request to accept, an unlisted one to reject
under the member stack's ``RejectUnlisted=true``, missing routes, a dead route to replace, records
to write, VPCs without flow logs) and reads the member's deployed StackSet instance (moto
CloudFormation: found by listing, then its policy parameters). Every call made with the role's
credentials is recorded (tests/iam.py): the set of their IAM actions must equal the role's Allow
actions, and each call must pass the role's statements with their resources and conditions (the
allowlist on accept, CNAME-only DNS writes, PassRole of the flow-log role only, the ignore-tag
deny). The trust policy is checked on the template.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import peerkeeper.observability  # noqa: F401  (Powertools keeps the stdout of its import)
from peerkeeper.cli import app, common
from peerkeeper.cli.demo.rules import load_template
from tests.iam import Recorder, World, refused, stack_for
from tests.infrastructure.test_plan_role import MEMBER, build_member_world
from tests.integration.test_fleet import in_account
from tests.support import ROOT, hook_sessions

ROLE = "peerkeeper-operator"
STRANGER = "210987654321"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def allow_actions(statements: list[dict[str, Any]]) -> set[str]:
    listed = [s["Action"] for s in statements if s["Effect"] == "Allow"]
    return {action for item in listed for action in ([item] if isinstance(item, str) else item)}


def deploy_policy(endpoint: str, parameters: dict[str, str]) -> None:
    """The member's StackSet instance, as far as apply reads it: its policy parameters (and its name)."""
    body = {
        "Parameters": {name: {"Type": "String"} for name in parameters},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
    in_account(endpoint, MEMBER).cloudformation(REGION).create_stack(
        StackName="StackSet-peerkeeper-8c5b9f40-1a2b-11f1-9c3d-0a1b2c3d4e5f",
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
    )


def add_write_paths(endpoint: str) -> None:
    """A dead route (to a deleted connection) where a new one must go, and an unlisted request."""
    ec2 = in_account(endpoint, MEMBER).ec2(REGION)
    web = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.0.0.0/16")
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [web]}])["RouteTables"][0]["RouteTableId"]
    spoke = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    old = ec2.create_vpc_peering_connection(VpcId=spoke, PeerVpcId=web)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=old)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.60.0.0/16", VpcPeeringConnectionId=old)
    ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=old)
    new = ec2.create_vpc_peering_connection(VpcId=spoke, PeerVpcId=web)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=new)
    stranger = in_account(endpoint, STRANGER).ec2(REGION)
    theirs = stranger.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    stranger.create_vpc_peering_connection(VpcId=theirs, PeerVpcId=web, PeerOwnerId=MEMBER)


@pytest.fixture
def role_calls(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    # fleet.assume makes the role's session from a botocore session: only those are recorded.
    hook_sessions(monkeypatch, "before-parameter-build", recorder, only=lambda kwargs: "botocore_session" in kwargs)
    return recorder


def test_the_operator_role_allows_exactly_the_calls_of_apply(endpoint, template, role_calls, capsys):
    records = build_member_world(endpoint)
    add_write_paths(endpoint)
    parameters = {"AllowedPeerAccounts": MEMBER, "RejectUnlisted": "true", "DnsRecords": records}
    deploy_policy(endpoint, parameters)
    stack = stack_for(template, MEMBER, OperatorPrincipalArn="arn:aws:iam::123456789012:role/ops", **parameters)
    statements = stack.role_statements("OperatorRole")

    role_calls.recording = True
    code = app.main(["apply", "--yes", "--endpoint-url", endpoint, "--account", MEMBER, "--role-name", ROLE])
    role_calls.recording = False

    assert code == common.EXIT_OK, capsys.readouterr()
    writes = {call.action for call in role_calls.calls if not call.operation.startswith(("Describe", "List", "Get"))}
    assert writes == {
        "ec2:AcceptVpcPeeringConnection",
        "ec2:RejectVpcPeeringConnection",
        "ec2:CreateRoute",
        "ec2:ReplaceRoute",
        "ec2:CreateFlowLogs",
        "route53:ChangeResourceRecordSets",
    }
    iam_actions = role_calls.actions | {"iam:PassRole"}  # CreateFlowLogs passes the flow-log role
    assert iam_actions == allow_actions(statements)
    world = World(MEMBER, lambda region: in_account(endpoint, MEMBER).ec2(region))
    assert refused(role_calls.calls, statements, world) == []


def test_the_operator_role_trusts_only_the_named_principal_and_asks_who_it_is(template):
    role = template["Resources"]["OperatorRole"]
    assert role["Condition"] == "CreateOperatorRole"
    assume, set_identity = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert assume["Principal"] == set_identity["Principal"] == {"AWS": {"Ref": "OperatorPrincipalArn"}}
    assert (assume["Action"], set_identity["Action"]) == ("sts:AssumeRole", "sts:SetSourceIdentity")
    assert assume["Condition"] == {"Null": {"sts:SourceIdentity": "false"}}
    assert template["Parameters"]["OperatorPrincipalArn"]["Default"] == ""
    assert template["Parameters"]["OperatorRoleName"]["Default"] == ROLE
