"""How an AWS error code is classified: quota and unsupported-target errors are terminal problems.

Codes from the EC2 API Reference ("Error codes for the Amazon EC2 API"); the unsupported-target
message is the one AWS returns for a gateway route table (hashicorp/terraform#26018).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from peerkeeper.model import Action
from peerkeeper.reconcile import (
    CONVERGED,
    FAILED,
    QUOTA_CODES,
    TERMINAL,
    ResourceResult,
    batch_outcome,
    classify_code,
    error_outcome,
)

ROUTE = Action("create-route", "rtb-1", "us-east-1", "why", {"RouteTableId": "rtb-1"})
FLOW_LOGS = Action("create-flow-logs", "vpc-1,vpc-2", "us-east-1", "why")
UNSUPPORTED = "Route target is not supported. This route only supports interface and instance targets."

QUOTAS = [
    ("RouteLimitExceeded", "Routes per route table", "L-93826ACB"),
    ("ActiveVpcPeeringConnectionPerVpcLimitExceeded", "Active VPC peering connections per VPC", "L-7E9ECCDB"),
    ("VpcPeeringConnectionsPerVpcLimitExceeded", "Active VPC peering connections per VPC", "L-7E9ECCDB"),
    ("VpcPeeringConnectionLimitExceeded", "Active VPC peering connections per VPC", "L-7E9ECCDB"),
    ("OutstandingVpcPeeringConnectionLimitExceeded", "Outstanding VPC peering connection requests", "L-DC9F7029"),
    ("FlowLogsLimitExceeded", "Flow logs per single network interface, subnet, or VPC", ""),
]


def client_error(code: str, message: str, operation: str = "CreateRoute") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(("code", "name", "quota_code"), QUOTAS, ids=[q[0] for q in QUOTAS])
def test_a_quota_error_is_a_terminal_problem_naming_the_quota(code, name, quota_code):
    outcome = error_outcome(ROUTE, client_error(code, "limit reached"))

    assert outcome.status == TERMINAL
    (problem,) = outcome.problems
    assert problem.resource == "rtb-1"
    assert problem.detail["quota"] == name
    assert problem.detail["quota_code"] == quota_code
    assert name in problem.reason
    assert code in problem.reason


def test_every_quota_code_is_terminal_with_or_without_the_client_prefix():
    for code in QUOTA_CODES:
        assert classify_code(code, "", "create-route")[0] == TERMINAL
        assert classify_code(f"Client.{code}", "", "create-route")[0] == TERMINAL


def test_unsupported_route_target_is_a_terminal_problem():
    outcome = error_outcome(ROUTE, client_error("InvalidParameterValue", UNSUPPORTED))

    assert outcome.status == TERMINAL
    assert "the target is not supported there" in outcome.problems[0].reason


def test_other_invalid_parameter_errors_still_fail_and_are_retried():
    outcome = error_outcome(ROUTE, client_error("InvalidParameterValue", "Value (x) for parameter cidr is invalid"))

    assert outcome.status == FAILED
    assert outcome.problems == ()


def test_route_already_exists_is_converged_for_a_create():
    assert classify_code("RouteAlreadyExists", "", "create-route")[0] == CONVERGED


def test_flow_log_quota_in_a_batch_answer_is_a_problem_for_that_vpc():
    results = [ResourceResult("vpc-1"), ResourceResult("vpc-2", "Client.FlowLogsLimitExceeded", "too many")]

    outcome = batch_outcome(FLOW_LOGS, results)

    assert outcome.status == TERMINAL
    (problem,) = outcome.problems
    assert problem.resource == "vpc-2"
    assert problem.detail["quota"] == "Flow logs per single network interface, subnet, or VPC"
