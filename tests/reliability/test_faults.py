"""Vanishing resources and partial failure: a terminal outcome is logged and answered normally; a
retryable one still lets the rest of the plan run, then fails the invocation (retry, then the DLQ)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from peerkeeper.reconcile import ReconcileError
from tests.reliability.conftest import LOG_GROUP, RECORD, record_sets
from tests.reliability.faults import FailOnce
from tests.support import ec2_client, handler, load_event, peering_status, routes_of

sweep, accept, repair, sync_dns = (handler(f) for f in ("sweep", "accept_peering", "repair_routes", "sync_dns"))


def before_first(operation: str, do: Any) -> Any:
    """A ``before-call`` hook that runs ``do(params)`` once, right before the first ``operation``."""
    state = {"done": False}

    def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == operation and not state["done"]:
            state["done"] = True
            do(params)

    return hook


def give_flow_logs(*vpcs: str) -> None:
    ec2_client().create_flow_logs(
        ResourceIds=list(vpcs),
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=LOG_GROUP,
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-log-role",
    )


def attempts_of(calls, operation: str) -> int:
    return calls.operations.count(operation)


def test_connection_deleted_before_accept_is_terminal_and_the_rest_is_applied(
    world, hook, calls, caplog, lambda_context
):
    ec2 = ec2_client()
    hook(
        "before-call",
        before_first(
            "AcceptVpcPeeringConnection", lambda _: ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=world.pcx)
        ),
    )

    summary = sweep(load_event("sweep__Scheduled"), lambda_context)  # returns: no retry storm

    accepted = [a for a in summary["actions"] if a["kind"] == "accept-peering"]
    assert [a["outcome"] for a in accepted] == ["terminal"]
    assert "failed" not in summary
    assert attempts_of(calls, "AcceptVpcPeeringConnection") == 1
    assert peering_status(ec2, world.pcx) == "deleted"
    for table in world.lab.web_tables:  # the rest of the plan: the other connection is routed
        assert routes_of(ec2, table)["10.2.0.0/16"] == world.db_pcx
        assert "10.1.0.0/16" not in routes_of(ec2, table)  # never routed to the vanished connection
    assert any("action terminal" in r.getMessage() for r in caplog.records)


def test_route_table_deleted_before_its_route_is_terminal_and_other_tables_are_routed(
    world, hook, calls, lambda_context
):
    ec2 = ec2_client()
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=world.pcx)
    doomed = world.lab.api_tables[-1]

    def delete_table(_: dict[str, Any]) -> None:
        table = ec2.describe_route_tables(RouteTableIds=[doomed])["RouteTables"][0]
        for association in table["Associations"]:
            ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=doomed)

    hook("before-call", before_first("CreateRoute", delete_table))

    summary = repair(world.event("repair_routes__AcceptVpcPeeringConnection"), lambda_context)

    outcomes = {(a["resource"], a["outcome"]) for a in summary["actions"]}
    terminal = [a for a in summary["actions"] if a["outcome"] == "terminal"]
    assert len(terminal) == 1
    assert "NotFound" in terminal[0]["error"]
    assert "failed" not in summary
    for table in world.lab.tables:
        if (table, "terminal") not in outcomes and table != doomed:
            assert world.pcx in routes_of(ec2, table).values(), table


def test_vpc_deleted_before_its_flow_log_is_terminal_and_the_rest_is_applied(world, hook, lambda_context):
    ec2 = ec2_client()
    give_flow_logs(world.lab.web_vpc, world.lab.api_vpc, world.db_vpc)
    others = {vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"]} - {world.new_vpc}
    give_flow_logs(*sorted(others - {world.lab.web_vpc, world.lab.api_vpc, world.db_vpc}))
    hook("before-call", before_first("CreateFlowLogs", lambda p: ec2.delete_vpc(VpcId=world.new_vpc)))

    summary = sweep(load_event("sweep__Scheduled"), lambda_context)

    by_kind = {a["kind"]: a for a in summary["actions"]}
    assert by_kind["create-flow-logs"]["outcome"] == "terminal"
    assert "failed" not in summary
    assert peering_status(ec2, world.pcx) == "active"  # the rest of the plan
    assert by_kind["upsert-record"]["outcome"] == "done"


def test_load_balancer_deleted_after_observe_leaves_a_record_that_the_next_event_keeps(world, hook, lambda_context):
    """Route 53 accepts the UPSERT (it does not check the target); the DeleteLoadBalancer event that
    follows finds no load balancer and, per the contract, leaves the record as it is."""
    elbv2 = boto3.client("elbv2", region_name="us-east-1")
    arn = elbv2.describe_load_balancers(Names=["api-elb"])["LoadBalancers"][0]["LoadBalancerArn"]
    hook(
        "before-call",
        before_first("ChangeResourceRecordSets", lambda _: elbv2.delete_load_balancer(LoadBalancerArn=arn)),
    )

    first = sync_dns(world.event("sync_dns__CreateLoadBalancer_v2"), lambda_context)
    then = sync_dns(world.event("sync_dns__DeleteLoadBalancer_v2"), lambda_context)

    assert [a["outcome"] for a in first["actions"]] == ["done"]
    assert then["actions"] == []
    assert "not found" in then["problems"][0]["reason"]
    assert [v for n, k, v in record_sets(world.zone_id) if n == RECORD] == [(world.dns_name,)]


def test_one_unauthorized_route_table_does_not_stop_the_others_and_fails_the_invocation(
    world, hook, calls, lambda_context
):
    ec2 = ec2_client()
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=world.pcx)
    denied = world.lab.web_tables[-1]

    def is_denied(operation: str, request: Any) -> bool:
        body = request.body if isinstance(request.body, str) else (request.body or b"").decode()
        return operation == "CreateRoute" and parse_qs(body).get("RouteTableId") == [denied]

    # EC2 says UnauthorizedOperation (HTTP 403) where other services say AccessDenied.
    failure = FailOnce(is_denied)
    hook("before-send", failure)

    with pytest.raises(ReconcileError, match=denied):
        repair(world.event("repair_routes__AcceptVpcPeeringConnection"), lambda_context)

    assert failure.hits == 1  # not retried by botocore: not a transient error
    for table in world.lab.tables:
        if table != denied:
            assert (
                routes_of(ec2, table).get("10.1.0.0/16" if table in world.lab.web_tables else "10.0.0.0/16")
                == world.pcx
            )
    assert "10.1.0.0/16" not in routes_of(ec2, denied), (routes_of(ec2, denied)["10.1.0.0/16"], calls.mutating)


def test_the_failed_invocation_is_retried_by_eventbridge_then_kept_in_a_dead_letter_queue():
    """What raising buys: the template gives every CloudTrail rule a retry policy and a DLQ, and
    every function an on-failure destination (checked here so the two halves cannot drift)."""
    from peerkeeper.cli.demo.rules import load_template

    template = load_template("template.yaml")
    resources, globals_ = template["Resources"], template.get("Globals", {}).get("Function", {})
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    for name, function in functions.items():
        properties = function["Properties"]
        for event_id, event in (properties.get("Events") or {}).items():
            if event["Type"] in ("EventBridgeRule", "Schedule"):
                assert "DeadLetterConfig" in event["Properties"], (name, event_id)
                assert "RetryPolicy" in event["Properties"], (name, event_id)
        invoke_config = properties.get("EventInvokeConfig") or globals_.get("EventInvokeConfig", {})
        assert invoke_config.get("DestinationConfig", {}).get("OnFailure"), name
