"""Scoping a deployment in the template (issue 22): Concerns, FlowLogDestination, organization.

Each deployment is evaluated the way CloudFormation would (``Stack`` of test_security: conditions,
``!If``, ``!Sub``), then IAM's verdict is asked of the roles it creates (``allowed``).
"""

from __future__ import annotations

from typing import Any

import pytest

from peerkeeper.cli.demo.rules import load_template
from tests.infrastructure.test_security import (
    ACCOUNT,
    OWN_VPC,
    PARTNER_VPC,
    PCX,
    STRANGER_VPC,
    TEMPLATE,
    Stack,
    allowed,
)

CONCERNS = {
    "accept_peering": ("AcceptPeeringFunction", "AcceptPeeringPolicy", "AcceptPeeringErrorsAlarm"),
    "repair_routes": ("RepairRoutesFunction", "RepairRoutesPolicy", "RepairRoutesErrorsAlarm"),
    "sync_dns": ("SyncDnsFunction", "SyncDnsPolicy", "SyncDnsErrorsAlarm", "SyncDnsRoute53Rule"),
    "enable_flow_logs": ("EnableFlowLogsFunction", "EnableFlowLogsPolicy", "EnableFlowLogsErrorsAlarm"),
}
ALL = ",".join(CONCERNS)
ORG = "o-a1b2c3d4e5"
OWN_TABLE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:route-table/rtb-0a1b2c3d4e5f60004"
OWN_FLOW_VPC = f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-0a1b2c3d4e5f60001"
FLOW_LOG_ROLE = f"arn:aws:iam::{ACCOUNT}:role/flow-log-role"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def actions_of(stack: Stack, role: str) -> set[str]:
    """What a role is allowed (the ignore-tag guard's Deny lists writes too)."""
    statements = [s for s in stack.role_statements(role) if s["Effect"] == "Allow"]
    return {action for statement in statements for action in _list(statement["Action"])}


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


# -- Concerns -------------------------------------------------------------------------------------
def test_the_default_deploys_all_four_concerns(template):
    assert template["Parameters"]["Concerns"]["Default"] == ALL
    stack = Stack(template)
    for resources in CONCERNS.values():
        assert all(stack.exists(name) for name in resources)


@pytest.mark.parametrize("left_out", sorted(CONCERNS))
def test_a_left_out_concern_deploys_no_function_rule_alarm_or_policy(template, left_out):
    stack = Stack(template, Concerns=",".join(name for name in CONCERNS if name != left_out))

    for name in CONCERNS[left_out]:
        assert not stack.exists(name), name
    for concern, resources in CONCERNS.items():
        if concern != left_out:
            assert all(stack.exists(name) for name in resources), concern
    assert stack.exists("SweepFunction")
    # SAM gives a function's condition to the rules and permissions it generates from its Events;
    # the dead-letter queue's policy names no rule that is not deployed.
    queue = stack.resource("DeadLetterQueuePolicy")["Properties"]["PolicyDocument"]["Statement"][0]
    sources = queue["Condition"]["ArnEquals"]["aws:SourceArn"]
    prefix = {"accept_peering": "AcceptPeering", "repair_routes": "RepairRoutes", "sync_dns": "SyncDns"}
    gone = prefix.get(left_out, "EnableFlowLogs")
    assert not [arn for arn in sources if gone in arn], sources


def test_the_sweep_gets_only_the_permissions_of_the_concerns_left_in(template):
    everything = actions_of(Stack(template), "SweepRole")
    only_peering = actions_of(Stack(template, Concerns="accept_peering,repair_routes"), "SweepRole")
    only_flow_logs = actions_of(Stack(template, Concerns="enable_flow_logs"), "SweepRole")

    assert {"ec2:CreateFlowLogs", "route53:ListHostedZonesByName", "ec2:CreateRoute"} <= everything
    assert "ec2:AcceptVpcPeeringConnection" in only_peering
    assert not {"ec2:CreateFlowLogs", "ec2:DescribeFlowLogs", "iam:PassRole"} & only_peering
    assert not {a for a in only_peering if a.startswith(("route53:", "elasticloadbalancing:"))}
    assert "ec2:CreateFlowLogs" in only_flow_logs
    assert (
        not {
            "ec2:AcceptVpcPeeringConnection",
            "ec2:CreateRoute",
            "ec2:DescribeRouteTables",
            "ec2:DescribeVpcPeeringConnections",
        }
        & only_flow_logs
    )


def test_accepting_without_repair_routes_grants_no_route_write(template):
    stack = Stack(template, Concerns="accept_peering")

    accept = stack.role_statements("AcceptPeeringRole")
    assert allowed(
        accept,
        "ec2:AcceptVpcPeeringConnection",
        PCX,
        ec2__RequesterVpc=OWN_VPC,
        ec2__AccepterVpc=OWN_VPC,
    )
    assert not allowed(accept, "ec2:CreateRoute", OWN_TABLE)
    assert not {"ec2:DescribeRouteTables", "ec2:GetManagedPrefixListEntries"} & actions_of(stack, "AcceptPeeringRole")
    assert allowed(Stack(template).role_statements("AcceptPeeringRole"), "ec2:CreateRoute", OWN_TABLE)


def test_the_functions_are_told_their_concerns(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["CONCERNS"] == {"Ref": "Concerns"}


def test_no_concern_name_is_a_part_of_another():
    """The conditions find a name in the list by splitting at it: that needs no name inside another."""
    for name in CONCERNS:
        assert [other for other in CONCERNS if name in other] == [name]


# -- FlowLogDestination -------------------------------------------------------------------------------
def environment(stack: Stack) -> dict[str, Any]:
    return dict(stack.value(stack.template["Globals"]["Function"]["Environment"]["Variables"]))


def test_by_default_flow_logs_go_to_the_stacks_log_group_through_its_role(template):
    stack = Stack(template)
    env = environment(stack)

    assert env["FLOW_LOG_DESTINATION"] == env["FLOW_LOG_GROUP"] == "flow-logs-group"
    assert (
        env["FLOW_LOG_ROLE_ARN"].endswith(":role/peerkeeper-FlowLogRole") or "FlowLogRole" in env["FLOW_LOG_ROLE_ARN"]
    )
    assert stack.exists("FlowLogGroup")
    assert stack.exists("FlowLogRole")
    flow = stack.role_statements("EnableFlowLogsRole")
    assert allowed(
        flow,
        "iam:PassRole",
        FLOW_LOG_ROLE,
        iam__PassedToService="vpc-flow-logs.amazonaws.com",
    )
    assert not allowed(flow, "logs:CreateLogDelivery", "*")


def test_an_s3_destination_creates_no_group_and_no_role_and_grants_log_delivery(template):
    bucket = "arn:aws:s3:::org-flow-logs/vpc"
    stack = Stack(template, FlowLogDestination=bucket)
    env = environment(stack)

    assert env["FLOW_LOG_DESTINATION"] == bucket
    assert "FLOW_LOG_GROUP" not in env  # the older name of a log-group destination: not set
    assert "FLOW_LOG_ROLE_ARN" not in env
    assert not stack.exists("FlowLogGroup")
    assert not stack.exists("FlowLogRole")
    flow = stack.role_statements("EnableFlowLogsRole")
    assert allowed(flow, "logs:CreateLogDelivery", "*")
    assert allowed(flow, "logs:DeleteLogDelivery", "*")
    assert allowed(flow, "ec2:CreateFlowLogs", OWN_FLOW_VPC)
    assert not allowed(
        flow,
        "iam:PassRole",
        FLOW_LOG_ROLE,
        iam__PassedToService="vpc-flow-logs.amazonaws.com",
    )
    assert not {"s3:PutBucketPolicy", "s3:GetBucketPolicy"} & actions_of(stack, "EnableFlowLogsRole")


def test_without_enable_flow_logs_no_flow_log_resource_exists(template):
    for destination in ("", "arn:aws:s3:::org-flow-logs"):
        stack = Stack(template, Concerns="accept_peering,repair_routes,sync_dns", FlowLogDestination=destination)
        assert not stack.exists("FlowLogGroup")
        assert not stack.exists("FlowLogRole")
        assert not stack.exists("EnableFlowLogsPolicy")


# -- AllowedPeerAccounts=organization --------------------------------------------------------------
def accepts(stack: Stack, requester_vpc: str, **context: str) -> bool:
    return allowed(
        stack.role_statements("AcceptPeeringRole"),
        "ec2:AcceptVpcPeeringConnection",
        PCX,
        ec2__RequesterVpc=requester_vpc,
        ec2__AccepterVpc=OWN_VPC,
        aws__PrincipalOrgID=ORG,
        **context,
    )


def test_organization_reads_the_accounts_and_accepts_into_own_vpcs_only(template):
    stack = Stack(template, AllowedPeerAccounts="organization")

    for role in ("AcceptPeeringRole", "RepairRoutesRole", "SweepRole"):
        assert allowed(stack.role_statements(role), "organizations:ListAccounts", "*"), role
    for role in ("SyncDnsRole", "EnableFlowLogsRole"):
        assert not allowed(stack.role_statements(role), "organizations:ListAccounts", "*"), role
    # A member's request, judged where IAM has the organisation of the resource's owner.
    assert accepts(stack, PARTNER_VPC, aws__ResourceOrgID=ORG)
    # A stranger's request, where the key says so: refused by IAM as well as by the code.
    assert not accepts(stack, STRANGER_VPC, aws__ResourceOrgID="o-zzzzzzzzzz")
    # Where AWS leaves the key out, IAM cannot tell: the code's ListAccounts check decides.
    assert accepts(stack, STRANGER_VPC)
    # Never into another account's VPC.
    assert not allowed(
        stack.role_statements("AcceptPeeringRole"),
        "ec2:AcceptVpcPeeringConnection",
        PCX,
        ec2__RequesterVpc=PARTNER_VPC,
        ec2__AccepterVpc=STRANGER_VPC,
        aws__PrincipalOrgID=ORG,
        aws__ResourceOrgID=ORG,
    )


def test_an_account_list_keeps_the_list_condition_and_reads_no_organization(template):
    stack = Stack(template, AllowedPeerAccounts="444455556666")

    assert accepts(stack, PARTNER_VPC)
    assert not accepts(stack, STRANGER_VPC, aws__ResourceOrgID=ORG)  # the list, not the organisation
    assert not allowed(stack.role_statements("SweepRole"), "organizations:ListAccounts", "*")


def test_organization_passes_to_the_functions_as_is(template):
    env = environment(Stack(template, AllowedPeerAccounts="organization"))
    assert env["ALLOWED_PEER_ACCOUNTS"] == "organization"


def test_a_member_account_reads_the_organization_through_the_named_role_only(template):
    reader = f"arn:aws:iam::{'999988887777'}:role/peerkeeper-organization-reader"
    stack = Stack(template, AllowedPeerAccounts="organization", OrganizationRoleArn=reader)

    assert environment(stack)["ORGANIZATION_ROLE_ARN"] == reader
    for role in ("AcceptPeeringRole", "RepairRoutesRole", "SweepRole"):
        statements = stack.role_statements(role)
        assert allowed(statements, "sts:AssumeRole", reader), role
        assert not allowed(statements, "sts:AssumeRole", "arn:aws:iam::999988887777:role/other"), role
        assert not allowed(statements, "organizations:ListAccounts", "*"), role  # read through the role
    # Without organization, the role is neither passed nor assumable.
    listed = Stack(template, AllowedPeerAccounts="444455556666", OrganizationRoleArn=reader)
    assert "ORGANIZATION_ROLE_ARN" not in environment(listed)
    assert not allowed(listed.role_statements("SweepRole"), "sts:AssumeRole", reader)
