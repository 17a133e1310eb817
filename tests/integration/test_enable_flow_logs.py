"""enable_flow_logs end to end: the real lambda_handler, events/ files, moto as AWS.

The last section uses botocore's Stubber instead of moto: moto never answers CreateFlowLogs with a
partly failed batch (``Unsuccessful`` items next to created flow logs) nor throttles, and those are
the paths that decide whether an event is retried.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from peerkeeper import flow_logs
from peerkeeper.clients import default_clients
from peerkeeper.events import Scope
from peerkeeper.reconcile import ReconcileError
from peerkeeper.service import env_for, reconcile
from peerkeeper.settings import get_settings
from tests.support import ACCOUNT, REGION, ec2_client, handler, load_event

enable = handler("enable_flow_logs")
CREATE_VPC = "enable_flow_logs__CreateVpc"
DELETE_FLOW_LOGS = "enable_flow_logs__DeleteFlowLogs"
GROUP = "flow-logs-group"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/flow-log-role"


def new_vpc(ec2: Any, *, ignored: bool = False) -> str:
    tags = [{"Key": "Name", "Value": "new-vpc"}] + ([{"Key": "peerkeeper:ignore", "Value": "true"}] if ignored else [])
    return ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])["Vpc"][
        "VpcId"
    ]


def flow_logs_of(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    return ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]


def ours(ec2: Any, vpc_id: str, group: str = GROUP, role: str = ROLE, traffic: str = "ALL") -> list[dict[str, Any]]:
    return [
        log
        for log in flow_logs_of(ec2, vpc_id)
        if (log.get("LogGroupName"), log.get("DeliverLogsPermissionArn"), log["TrafficType"], log["LogDestinationType"])
        == (group, role, traffic, "cloud-watch-logs")
    ]


def all_vpc_ids(ec2: Any) -> list[str]:
    return [vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"]]


@pytest.fixture
def log_group(aws: None) -> str:
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=GROUP)
    return GROUP


def test_new_vpc_gets_its_flow_log(lab, log_group, lambda_context):
    ec2 = ec2_client()
    vpc = new_vpc(ec2)

    summary = enable(load_event(CREATE_VPC, new_vpc=vpc), lambda_context)

    (log,) = flow_logs_of(ec2, vpc)
    assert log["LogGroupName"] == GROUP
    assert log["DeliverLogsPermissionArn"] == ROLE
    assert log["TrafficType"] == "ALL"
    assert log["LogDestinationType"] == "cloud-watch-logs"
    assert [(a["kind"], a["resource"], a["outcome"]) for a in summary["actions"]] == [("create-flow-logs", vpc, "done")]
    # The event names one VPC: the others are the DeleteFlowLogs rule's and the sweep's business.
    assert flow_logs_of(ec2, lab.web_vpc) == []


def test_configured_group_role_and_traffic_type(aws, configure, lambda_context):
    role = f"arn:aws:iam::{ACCOUNT}:role/custom-delivery"
    configure(FLOW_LOG_GROUP="vpc/flow", FLOW_LOG_ROLE_ARN=role, FLOW_LOG_TRAFFIC_TYPE="REJECT")
    ec2 = ec2_client()
    vpc = new_vpc(ec2)

    enable(load_event(CREATE_VPC, new_vpc=vpc), lambda_context)

    assert len(ours(ec2, vpc, group="vpc/flow", role=role, traffic="REJECT")) == 1


def test_deleted_flow_log_comes_back(lab, log_group, lambda_context):
    ec2 = ec2_client()
    enable(load_event(DELETE_FLOW_LOGS), lambda_context)  # the whole region gets its flow logs
    assert all(len(ours(ec2, vpc)) == 1 for vpc in all_vpc_ids(ec2))
    (deleted,) = flow_logs_of(ec2, lab.web_vpc)
    ec2.delete_flow_logs(FlowLogIds=[deleted["FlowLogId"]])

    summary = enable(load_event(DELETE_FLOW_LOGS, flow_log=deleted["FlowLogId"]), lambda_context)

    assert len(ours(ec2, lab.web_vpc)) == 1
    assert [(a["resource"], a["outcome"]) for a in summary["actions"]] == [(lab.web_vpc, "done")]


@pytest.mark.parametrize("event_name", [CREATE_VPC, DELETE_FLOW_LOGS])
def test_replay_makes_no_mutating_call(event_name, lab, log_group, calls, lambda_context):
    event = load_event(event_name, new_vpc=new_vpc(ec2_client()))
    enable(event, lambda_context)
    assert "CreateFlowLogs" in calls.mutating
    calls.clear()

    summary = enable(event, lambda_context)

    assert calls.mutating == []
    assert summary["actions"] == []


def test_dry_run_makes_no_mutating_call_and_returns_the_plan(lab, calls, configure, lambda_context):
    configure(PEERKEEPER_MODE="dry-run")
    ec2 = ec2_client()
    vpc = new_vpc(ec2)

    summary = enable(load_event(CREATE_VPC, new_vpc=vpc), lambda_context)

    assert calls.mutating == []
    assert flow_logs_of(ec2, vpc) == []
    assert summary["mode"] == "dry-run"
    assert [(a["kind"], a["resource"], a["outcome"]) for a in summary["actions"]] == [
        ("create-flow-logs", vpc, "planned")
    ]


def test_ignored_vpc_gets_no_flow_log(lab, log_group, lambda_context):
    ec2 = ec2_client()
    vpc = new_vpc(ec2, ignored=True)

    by_event = enable(load_event(CREATE_VPC, new_vpc=vpc), lambda_context)
    by_region = enable(load_event(DELETE_FLOW_LOGS), lambda_context)

    assert by_event["actions"] == []
    assert flow_logs_of(ec2, vpc) == []
    assert vpc not in {a["resource"] for a in by_region["actions"]}
    assert len(ours(ec2, lab.web_vpc)) == 1


def test_other_destinations_are_left_alone_and_do_not_count(lab, log_group, lambda_context):
    ec2 = ec2_client()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="org-flow-logs")
    foreign = [
        {"LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::org-flow-logs", "TrafficType": "ALL"},
        {"LogGroupName": "org-telemetry", "DeliverLogsPermissionArn": ROLE, "TrafficType": "ALL"},
        {"LogGroupName": "org-audit", "DeliverLogsPermissionArn": ROLE, "TrafficType": "REJECT"},
    ]
    for params in foreign:
        ec2.create_flow_logs(ResourceIds=[lab.web_vpc], ResourceType="VPC", **params)
    before = {log["FlowLogId"]: log for log in flow_logs_of(ec2, lab.web_vpc)}

    enable(load_event(DELETE_FLOW_LOGS), lambda_context)

    after = {log["FlowLogId"]: log for log in flow_logs_of(ec2, lab.web_vpc)}
    assert {key: after[key] for key in before} == before
    assert len(after) == len(before) + 1
    assert len(ours(ec2, lab.web_vpc)) == 1


def test_event_for_a_vpc_that_is_gone_is_answered_quietly(aws, calls, lambda_context):
    summary = enable(load_event(CREATE_VPC), lambda_context)  # the sample VPC id does not exist

    assert summary["actions"] == []
    assert calls.mutating == []


# -- Stubber: what moto cannot do ---------------------------------------------------------------
A, B, C = "vpc-0000000000000000a", "vpc-0000000000000000b", "vpc-0000000000000000c"


def vpcs_response(*ids: str) -> dict[str, Any]:
    return {
        "Vpcs": [
            {
                "VpcId": vpc_id,
                "OwnerId": ACCOUNT,
                "CidrBlock": "10.0.0.0/16",
                "CidrBlockAssociationSet": [
                    {
                        "AssociationId": f"vpc-cidr-assoc-{vpc_id[-1]}",
                        "CidrBlock": "10.0.0.0/16",
                        "CidrBlockState": {"State": "associated"},
                    }
                ],
                "State": "available",
                "Tags": [],
            }
            for vpc_id in ids
        ]
    }


def create_params(*ids: str) -> dict[str, Any]:
    return {
        "ResourceIds": list(ids),
        "ResourceType": "VPC",
        "TrafficType": "ALL",
        "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": GROUP,
        "DeliverLogsPermissionArn": ROLE,
        "ClientToken": ANY,
    }


def unsuccessful(vpc_id: str, code: str, message: str) -> dict[str, Any]:
    return {"ResourceId": vpc_id, "Error": {"Code": code, "Message": message}}


@pytest.fixture
def stubbed_ec2():
    with Stubber(default_clients().ec2(REGION)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def observe_three_vpcs(stubber: Stubber) -> None:
    stubber.add_response(
        "describe_vpcs", vpcs_response(A, B, C), {"Filters": [{"Name": "vpc-id", "Values": [A, B, C]}]}
    )
    stubber.add_response(
        "describe_flow_logs", {"FlowLogs": []}, {"Filters": [{"Name": "resource-id", "Values": [A, B, C]}]}
    )


def test_partly_failed_batch_reports_each_vpc_and_is_retried(stubbed_ec2):
    observe_three_vpcs(stubbed_ec2)
    stubbed_ec2.add_response(
        "create_flow_logs",
        {
            "ClientToken": "peerkeeper-x",
            "FlowLogIds": ["fl-0000000000000000a"],
            "Unsuccessful": [
                unsuccessful(B, "FlowLogAlreadyExists", "There is an existing Flow Log with the same configuration"),
                unsuccessful(C, "Client.RequestLimitExceeded", "Request limit exceeded."),
            ],
        },
        create_params(A, B, C),
    )
    env = env_for(get_settings(), default_clients(), ACCOUNT)

    report = reconcile(env, Scope(REGION, vpc_ids=frozenset({A, B, C})), [flow_logs.CONCERN])

    (action,) = report.to_dict()["actions"]
    assert action["outcome"] == "failed"
    assert action["resource"] == f"{A},{B},{C}"
    assert action["resources"] == [
        {"resource": B, "outcome": "converged", "error": ANY},
        {"resource": C, "outcome": "failed", "error": "Client.RequestLimitExceeded: Request limit exceeded."},
    ]
    assert report.outcomes[0].count("done") == 1
    with pytest.raises(ReconcileError, match=f"{C}: Client.RequestLimitExceeded") as raised:
        report.raise_if_failed()
    assert B not in str(raised.value).split(":", 1)[1].replace(f"{A},{B},{C}", "")


def test_batch_whose_failures_are_all_converged_succeeds(stubbed_ec2):
    observe_three_vpcs(stubbed_ec2)
    stubbed_ec2.add_response(
        "create_flow_logs",
        {"FlowLogIds": ["fl-0000000000000000a"], "Unsuccessful": [unsuccessful(B, "FlowLogAlreadyExists", "exists")]},
        create_params(A, B, C),
    )
    env = env_for(get_settings(), default_clients(), ACCOUNT)

    report = reconcile(env, Scope(REGION, vpc_ids=frozenset({A, B, C})), [flow_logs.CONCERN])

    assert [o.status for o in report.outcomes] == ["done"]
    assert report.outcomes[0].count("done") == 2
    report.raise_if_failed()


def test_handler_raises_after_a_retryable_per_vpc_failure(stubbed_ec2, lambda_context):
    stubbed_ec2.add_response("describe_vpcs", vpcs_response(A), {"Filters": [{"Name": "vpc-id", "Values": [A]}]})
    stubbed_ec2.add_response(
        "describe_flow_logs", {"FlowLogs": []}, {"Filters": [{"Name": "resource-id", "Values": [A]}]}
    )
    stubbed_ec2.add_response(
        "create_flow_logs",
        {"FlowLogIds": [], "Unsuccessful": [unsuccessful(A, "AccessDenied", "not authorized to pass the role")]},
        create_params(A),
    )

    with pytest.raises(ReconcileError, match=f"{A}: AccessDenied: not authorized"):
        enable(load_event(CREATE_VPC, new_vpc=A), lambda_context)


def test_whole_batch_refused_as_already_existing_is_retried_one_vpc_at_a_time(stubbed_ec2):
    # Which VPC already had the flow log, the error does not say: each VPC is asked on its own.
    observe_three_vpcs(stubbed_ec2)
    stubbed_ec2.add_client_error("create_flow_logs", "FlowLogAlreadyExists", expected_params=create_params(A, B, C))
    stubbed_ec2.add_response("create_flow_logs", {"FlowLogIds": ["fl-0000000000000000a"]}, create_params(A))
    stubbed_ec2.add_client_error("create_flow_logs", "FlowLogAlreadyExists", expected_params=create_params(B))
    stubbed_ec2.add_response("create_flow_logs", {"FlowLogIds": ["fl-0000000000000000c"]}, create_params(C))
    env = env_for(get_settings(), default_clients(), ACCOUNT)

    report = reconcile(env, Scope(REGION, vpc_ids=frozenset({A, B, C})), [flow_logs.CONCERN])

    (outcome,) = report.outcomes
    assert outcome.status == "done"
    assert [(r.resource, r.status) for r in outcome.resources] == [(A, "done"), (B, "converged"), (C, "done")]
