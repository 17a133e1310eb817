"""Scoping a deployment (issue 22): CONCERNS, FLOW_LOG_DESTINATION, ALLOWED_PEER_ACCOUNTS=organization.

The real sweep handler against moto; the calls peerkeeper makes are recorded with a botocore
``before-call`` hook on the functions' own clients, so "no call" is asserted, not inferred.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from peerkeeper.clients import default_clients
from peerkeeper.reconcile import ReconcileError
from tests.support import (
    ACCOUNT,
    REGION,
    CallRecorder,
    build_vpc,
    ec2_client,
    handler,
    load_event,
    other_account_client,
    peering_status,
    request_peering,
    routes_of,
)

sweep = handler("sweep")
STRANGER = "210987654321"
FLOW_LOG_CALLS = {"DescribeFlowLogs", "CreateFlowLogs"}


def listen(calls: CallRecorder) -> None:
    """configure() made new clients: record theirs (the ``calls`` fixture hooked the previous ones)."""
    default_clients().session.events.register("before-call", calls)


def scheduled() -> dict[str, Any]:
    return load_event("sweep__Scheduled")


# -- CONCERNS -----------------------------------------------------------------------------------
def test_a_sweep_without_enable_flow_logs_makes_no_flow_log_call(lab, calls, configure, lambda_context):
    configure(CONCERNS="accept_peering,repair_routes")
    listen(calls)
    pcx = request_peering(ec2_client(), lab.web_vpc, lab.api_vpc)

    summary = sweep(scheduled(), lambda_context)

    assert peering_status(ec2_client(), pcx) == "active"  # the concerns left in still run
    assert all(routes_of(ec2_client(), table)["10.1.0.0/16"] == pcx for table in lab.web_tables)
    assert not FLOW_LOG_CALLS & set(calls.operations), calls.operations
    # sync_dns is left out too: no Route 53 or load balancer call either.
    assert not [name for name in calls.operations if name.startswith(("ListHostedZones", "DescribeLoadBalancers"))]
    assert ec2_client().describe_flow_logs()["FlowLogs"] == []  # two VPCs without one, left so
    assert {action["kind"] for action in summary["actions"]} == {"accept-peering", "create-route"}


def test_with_only_enable_flow_logs_the_sweep_reads_no_peering_or_route_table(lab, calls, configure, lambda_context):
    configure(CONCERNS="enable_flow_logs")
    listen(calls)
    request_peering(ec2_client(), lab.web_vpc, lab.api_vpc)

    sweep(scheduled(), lambda_context)

    assert not {"DescribeVpcPeeringConnections", "DescribeRouteTables", "AcceptVpcPeeringConnection"} & set(
        calls.operations
    ), calls.operations
    covered = {fl["ResourceId"] for fl in ec2_client().describe_flow_logs()["FlowLogs"]}
    assert {lab.web_vpc, lab.api_vpc} <= covered


def test_an_event_function_whose_concern_is_left_out_does_nothing(lab, calls, configure, lambda_context):
    configure(CONCERNS="accept_peering")
    listen(calls)
    summary = handler("enable_flow_logs")(scheduled(), lambda_context)

    assert calls.operations == []
    assert summary["actions"] == []


# -- FLOW_LOG_DESTINATION ----------------------------------------------------------------------
def test_flow_logs_go_to_the_s3_destination_and_an_existing_one_counts(lab, calls, configure, lambda_context):
    bucket = "org-flow-logs"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    ec2 = ec2_client()
    # Someone else (an organisation's own setup) already sends web-vpc's REJECT... and ALL traffic there.
    ec2.create_flow_logs(
        ResourceIds=[lab.web_vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{bucket}",
    )
    configure(FLOW_LOG_DESTINATION=f"arn:aws:s3:::{bucket}", CONCERNS="enable_flow_logs")
    listen(calls)

    summary = sweep(scheduled(), lambda_context)

    assert calls.operations.count("CreateFlowLogs") == 1  # one batch (moto's default VPC is in it too)
    logs = ec2.describe_flow_logs()["FlowLogs"]
    assert [fl["ResourceId"] for fl in logs].count(lab.web_vpc) == 1  # the existing one counts
    (created,) = [fl for fl in logs if fl["ResourceId"] == lab.api_vpc]
    assert created["LogDestinationType"] == "s3"
    assert created["LogDestination"] == f"arn:aws:s3:::{bucket}"
    assert not created.get("DeliverLogsPermissionArn")  # no role for S3
    (action,) = summary["actions"]
    assert lab.web_vpc not in action["resource"]
    calls.calls.clear()

    again = sweep(scheduled(), lambda_context)

    assert again["actions"] == []
    assert "CreateFlowLogs" not in calls.operations


# -- ALLOWED_PEER_ACCOUNTS=organization ------------------------------------------------------------
@pytest.fixture
def organization(aws: None) -> str:
    """This account (moto's default) manages an organisation with one member; returns the member's ID."""
    orgs = boto3.client("organizations", region_name=REGION)
    orgs.create_organization(FeatureSet="ALL")
    status = orgs.create_account(AccountName="network", Email="network@example.com")["CreateAccountStatus"]
    return str(status["AccountId"])


def test_organization_accepts_a_members_request_and_refuses_a_strangers(
    lab, organization, calls, configure, lambda_context
):
    configure(ALLOWED_PEER_ACCOUNTS="organization")
    listen(calls)
    member = other_account_client("ec2", organization)
    member_vpc, _, _ = build_vpc(member, "10.5.0.0/16", "member-vpc")
    from_member = request_peering(member, member_vpc, lab.web_vpc, PeerOwnerId=ACCOUNT)
    stranger = other_account_client("ec2", STRANGER)
    stranger_vpc, _, _ = build_vpc(stranger, "10.6.0.0/16", "stranger-vpc")
    from_stranger = request_peering(stranger, stranger_vpc, lab.api_vpc, PeerOwnerId=ACCOUNT)

    summary = sweep(scheduled(), lambda_context)

    ec2 = ec2_client()
    assert peering_status(ec2, from_member) == "active"
    assert all(routes_of(ec2, table)["10.5.0.0/16"] == from_member for table in lab.web_tables)
    assert peering_status(ec2, from_stranger) == "pending-acceptance"
    (refused,) = summary["refused"]
    assert refused["resource"] == from_stranger
    assert f"requester account {STRANGER} is not an ACTIVE account of this organization" in refused["reason"]
    # Read once for the whole invocation, though both acceptance and routes judged trust.
    assert calls.operations.count("ListAccounts") == 1


def test_organization_is_read_afresh_by_each_invocation(lab, organization, calls, configure, lambda_context):
    configure(ALLOWED_PEER_ACCOUNTS="organization")
    listen(calls)
    sweep(scheduled(), lambda_context)  # a warm function: its first run read the organisation once

    # An account created in the organisation after that run; its request is judged by the next run
    # with the organisation read again (no restart, no parameter update).
    orgs = boto3.client("organizations", region_name=REGION)
    newcomer = orgs.create_account(AccountName="new", Email="new@example.com")["CreateAccountStatus"]["AccountId"]
    member = other_account_client("ec2", newcomer)
    member_vpc, _, _ = build_vpc(member, "10.7.0.0/16", "newcomer-vpc")
    pcx = request_peering(member, member_vpc, lab.web_vpc, PeerOwnerId=ACCOUNT)

    sweep(scheduled(), lambda_context)

    assert peering_status(ec2_client(), pcx) == "active"
    assert calls.operations.count("ListAccounts") == 1  # the first run had nothing to judge


def test_without_pending_requests_or_peered_tables_the_organization_is_not_read(
    lab, organization, calls, configure, lambda_context
):
    configure(ALLOWED_PEER_ACCOUNTS="organization")
    listen(calls)

    sweep(scheduled(), lambda_context)

    assert "ListAccounts" not in calls.operations


def refuse_list_accounts() -> None:
    """Answer ListAccounts as AWS does in a member account without delegation (moto answers it anywhere)."""
    organizations: Any = default_clients().organizations(REGION)

    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        error: Any = {
            "Error": {"Code": "AccessDeniedException", "Message": "You don't have permissions to access this resource."}
        }
        raise ClientError(error, operation)

    organizations._make_api_call = call


def test_an_organization_that_cannot_be_read_accepts_nothing_and_fails_loudly(
    lab, organization, calls, configure, lambda_context
):
    configure(ALLOWED_PEER_ACCOUNTS="organization")
    listen(calls)
    refuse_list_accounts()
    member = other_account_client("ec2", organization)
    member_vpc, _, _ = build_vpc(member, "10.5.0.0/16", "member-vpc")
    pcx = request_peering(member, member_vpc, lab.web_vpc, PeerOwnerId=ACCOUNT)

    with pytest.raises(ReconcileError, match="AccessDeniedException"):
        sweep(scheduled(), lambda_context)

    assert peering_status(ec2_client(), pcx) == "pending-acceptance"
    assert "AcceptVpcPeeringConnection" not in calls.operations


def test_a_member_account_reads_the_organization_through_a_reader_role(lab, calls, configure, lambda_context):
    """This account is a member: ListAccounts is read through a role in the management account."""
    management = "999988887777"
    orgs = other_account_client("organizations", management)
    orgs.create_organization(FeatureSet="ALL")
    colleague = orgs.create_account(AccountName="network", Email="n@example.com")["CreateAccountStatus"]["AccountId"]
    reader = f"arn:aws:iam::{management}:role/peerkeeper-organization-reader"
    configure(ALLOWED_PEER_ACCOUNTS="organization", ORGANIZATION_ROLE_ARN=reader)
    listen(calls)
    member = other_account_client("ec2", colleague)
    member_vpc, _, _ = build_vpc(member, "10.5.0.0/16", "member-vpc")
    pcx = request_peering(member, member_vpc, lab.web_vpc, PeerOwnerId=ACCOUNT)

    sweep(scheduled(), lambda_context)

    assert peering_status(ec2_client(), pcx) == "active"
    assert calls.operations.count("AssumeRole") == 1
    (assumed,) = [params for name, params in calls.calls if name == "AssumeRole"]
    assert "peerkeeper-organization-reader" in str(assumed)
