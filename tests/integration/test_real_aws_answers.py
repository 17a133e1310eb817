"""What real AWS answers and moto never does: quotas, lost races, connections still being created.

moto raises no quota error, never loses a race for us, and shows a same-account request as
``pending-acceptance`` at once. These tests make AWS's answers through botocore's own hooks on
peerkeeper's session (see shared/reference/moto-gaps.md), and say so where they do:

- ``before-send`` with ``tests.reliability.faults.FailOnce``: EC2's error response for one call,
  the request never reaching moto (as the reliability tests do for throttling);
- ``before-parameter-build``: another writer's change made right before peerkeeper's call;
- ``after-call``: the parsed describe answer rewritten (a connection still ``initiating-request``,
  or not yet visible in the accepter's region).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from peerkeeper.clients import default_clients
from peerkeeper.reconcile import ReconcileError
from tests.reliability.faults import FailOnce
from tests.support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    REGION,
    build_vpc,
    ec2_client,
    handler,
    load_event,
    other_account_client,
    peering_status,
    request_peering,
    routes_of,
)

accept, repair, sweep = handler("accept_peering"), handler("repair_routes"), handler("sweep")
CREATE_EVENT = "accept_peering__CreateVpcPeeringConnection"


def register(event: str, function: Any) -> None:
    """First on peerkeeper's session, ahead of moto's own ``before-send`` (clients are made later)."""
    default_clients().session.events.register_first(event, function)


def lab_event(lab: Any, name: str, pcx: str) -> dict[str, Any]:
    return load_event(name, web_vpc=lab.web_vpc, api_vpc=lab.api_vpc, peering=pcx, route_table=lab.web_tables[-1])


@pytest.fixture
def peered(lab):
    ec2 = ec2_client()
    lab.pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    return lab


def emf_metrics(output: str) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], []).extend(record[metric["Name"]])
    return found


# -- quotas -------------------------------------------------------------------------------------
def create_route_in(table: str):
    def matches(operation: str, request: Any) -> bool:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        return operation == "CreateRoute" and parse_qs(body).get("RouteTableId") == [table]

    return matches


def test_route_quota_on_one_table_is_reported_and_the_other_tables_are_repaired(peered, lambda_context, capsys):
    full = peered.web_tables[-1]
    # AWS's answer at 500 (or the raised quota) routes in a table; moto has no such limit.
    quota = FailOnce(
        create_route_in(full),
        code="RouteLimitExceeded",
        message="The maximum number of routes has been reached.",
        status=400,
    )
    register("before-send", quota)

    summary = repair(lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx), lambda_context)

    ec2 = ec2_client()
    assert quota.hits == 1  # terminal: neither botocore nor peerkeeper retries it
    assert "10.1.0.0/16" not in routes_of(ec2, full)
    for table in peered.tables:
        if table != full:
            expected = "10.1.0.0/16" if table in peered.web_tables else "10.0.0.0/16"
            assert routes_of(ec2, table)[expected] == peered.pcx, table
    (problem,) = summary["problems"]
    assert problem["resource"] == full
    assert problem["quota"] == "Routes per route table"
    assert problem["quota_code"] == "L-93826ACB"
    assert "Routes per route table (Service Quotas vpc/L-93826ACB)" in problem["reason"]
    assert [a["outcome"] for a in summary["actions"] if a["resource"] == full] == ["terminal"]
    assert "failed" not in summary
    assert emf_metrics(capsys.readouterr().out)["QuotaExceeded"] == [1.0]


def test_unsupported_route_target_is_a_problem_not_a_retry(peered, lambda_context):
    table = peered.web_tables[0]
    # The message AWS gives when a table cannot take the target (hashicorp/terraform#26018).
    refusal = FailOnce(
        create_route_in(table),
        code="InvalidParameterValue",
        message="Route target is not supported. This route only supports interface and instance targets.",
        status=400,
    )
    register("before-send", refusal)

    summary = repair(lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx), lambda_context)

    (problem,) = summary["problems"]
    assert problem["resource"] == table
    assert "the target is not supported there" in problem["reason"]
    assert "failed" not in summary


def test_peering_quota_at_acceptance_is_reported_and_not_retried(lab, lambda_context):
    pcx = request_peering(ec2_client(), lab.api_vpc, lab.web_vpc)
    quota = FailOnce(
        lambda operation, _request: operation == "AcceptVpcPeeringConnection",
        code="ActiveVpcPeeringConnectionPerVpcLimitExceeded",
        message="The maximum number of active VPC peering connections has been reached.",
        status=400,
    )
    register("before-send", quota)

    summary = accept(lab_event(lab, CREATE_EVENT, pcx), lambda_context)

    assert peering_status(ec2_client(), pcx) == "pending-acceptance"
    (problem,) = summary["problems"]
    assert problem["resource"] == pcx
    assert problem["quota_code"] == "L-7E9ECCDB"
    assert "failed" not in summary


# -- lost races -----------------------------------------------------------------------------------
def before_first(operation: str, table: str, do: Any) -> Any:
    """A ``before-parameter-build`` hook (it sees the API parameters): ``do()`` once, right before
    peerkeeper's ``operation`` on ``table``."""
    state = {"done": False}

    def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == operation and params.get("RouteTableId") == table and not state["done"]:
            state["done"] = True
            do()

    return hook


def test_lost_race_to_another_target_is_a_conflict_in_the_same_run(peered, calls, lambda_context):
    ec2 = ec2_client()
    table = peered.web_tables[-1]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=peered.web_vpc)

    def someone_else_routes_it() -> None:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.1.0.0/16", GatewayId=igw)

    register("before-parameter-build.ec2.CreateRoute", before_first("CreateRoute", table, someone_else_routes_it))

    summary = repair(lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx), lambda_context)

    assert routes_of(ec2, table)["10.1.0.0/16"] == igw  # theirs, untouched
    (conflict,) = [c for c in summary["conflicts"] if c["resource"] == table]
    assert conflict["cause"] == "lost-race"
    assert conflict["target"] == igw
    assert f"the table now routes it to {igw}, not {peered.pcx}" in conflict["reason"]
    assert [a["outcome"] for a in summary["actions"] if a["resource"] == table] == ["terminal"]
    # One describe of that table, right after RouteAlreadyExists.
    rereads = [
        p for name, p in calls.calls if name == "DescribeRouteTables" and p["body"].get("RouteTableId.1") == table
    ]
    assert len(rereads) == 1
    assert routes_of(ec2, peered.web_tables[0])["10.1.0.0/16"] == peered.pcx


def test_lost_race_to_the_same_connection_counts_as_converged(peered, lambda_context):
    ec2 = ec2_client()
    table = peered.web_tables[-1]

    def someone_else_routes_it_the_same_way() -> None:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=peered.pcx)

    register(
        "before-parameter-build.ec2.CreateRoute",
        before_first("CreateRoute", table, someone_else_routes_it_the_same_way),
    )

    summary = repair(lab_event(peered, "repair_routes__AcceptVpcPeeringConnection", peered.pcx), lambda_context)

    assert [a["outcome"] for a in summary["actions"] if a["resource"] == table] == ["converged"]
    assert "conflicts" not in summary


# -- connections still being created --------------------------------------------------------------
def peering_answer(*, status: str | None = None, hide_in: str | None = None):
    """An ``after-call`` hook on DescribeVpcPeeringConnections: every connection reads ``status``,
    or none is visible from ``hide_in`` (a cross-region request not there yet)."""

    def rewrite(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if hide_in is not None and context.get("client_region") == hide_in:
            parsed["VpcPeeringConnections"] = []
        if status is not None:
            for connection in parsed.get("VpcPeeringConnections", []):
                connection["Status"] = {"Code": status, "Message": "Initiating Request"}

    return rewrite


def test_initiating_request_raises_for_a_retry_and_changes_nothing(lab, calls, lambda_context):
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    # AWS shows a new request as initiating-request for a moment; moto shows pending-acceptance at once.
    register("after-call.ec2.DescribeVpcPeeringConnections", peering_answer(status="initiating-request"))
    calls.clear()

    with pytest.raises(ReconcileError, match=f"{pcx}: still initiating-request"):
        accept(lab_event(lab, CREATE_EVENT, pcx), lambda_context)

    assert calls.mutating == []
    assert peering_status(ec2, pcx) == "pending-acceptance"


def test_the_retry_of_an_initiating_request_accepts_it_once_it_is_pending(lab, lambda_context):
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    rewrite, seen = peering_answer(status="initiating-request"), {"deliveries": 0}

    def only_during_the_first_delivery(parsed: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        if seen["deliveries"] == 0:
            rewrite(parsed=parsed, context=context, **kwargs)

    register("after-call.ec2.DescribeVpcPeeringConnections", only_during_the_first_delivery)
    event = lab_event(lab, CREATE_EVENT, pcx)
    with pytest.raises(ReconcileError):
        accept(event, lambda_context)
    seen["deliveries"] += 1

    retried = accept(event, lambda_context)  # Lambda's asynchronous retry of the same event

    assert peering_status(ec2, pcx) == "active"
    assert retried["actions"][0]["kind"] == "accept-peering"
    assert all(routes_of(ec2, t)["10.1.0.0/16"] == pcx for t in lab.web_tables)


def test_initiating_request_on_the_sweep_is_left_for_later(lab, configure, lambda_context):
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName="flow-logs-group")
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    register("after-call.ec2.DescribeVpcPeeringConnections", peering_answer(status="initiating-request"))

    summary = sweep(load_event("sweep__Scheduled"), lambda_context)  # returns: no raise

    assert pcx not in {f["resource"] for f in summary.get("refused", [])}
    assert pcx not in {a["resource"] for a in summary["actions"]}
    assert peering_status(ec2, pcx) == "pending-acceptance"


def test_cross_region_request_not_yet_visible_in_the_accepter_region_is_retried(aws, calls, lambda_context):
    east, west = ec2_client("us-east-1"), ec2_client("us-west-2")
    api_vpc, _, _ = build_vpc(east, "10.1.0.0/16", "api-vpc")
    web_vpc, _, _ = build_vpc(west, "10.0.0.0/16", "web-vpc")
    pcx = request_peering(east, api_vpc, web_vpc, PeerRegion="us-west-2")
    event = load_event(f"{CREATE_EVENT}_cross_region", web_vpc=web_vpc, api_vpc=api_vpc, peering=pcx)
    # Cross-region requests take seconds to appear in the accepter's region; moto shows them at once.
    register("after-call.ec2.DescribeVpcPeeringConnections", peering_answer(hide_in="us-west-2"))
    calls.clear()

    with pytest.raises(ReconcileError, match="not yet visible in the accepter's region us-west-2"):
        accept(event, lambda_context)

    assert calls.mutating == []
    assert peering_status(west, pcx) == "pending-acceptance"


def test_a_vanished_connection_is_not_retried(lab, calls, lambda_context):
    """Not visible anywhere (deleted, or a bogus id): terminal, as before."""
    summary = accept(lab_event(lab, CREATE_EVENT, "pcx-0000000000000dead"), lambda_context)

    assert summary["actions"] == []
    assert calls.mutating == []


# -- outgoing requests ----------------------------------------------------------------------------
def test_pending_outgoing_cross_account_request_is_not_refused(lab, lambda_context):
    """This account asked a vendor's account to peer; the request waits there: nothing to report."""
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName="flow-logs-group")
    partner = other_account_client("ec2")
    vendor_vpc, _, _ = build_vpc(partner, "10.5.0.0/16", "vendor-vpc")
    pcx = request_peering(ec2_client(), lab.api_vpc, vendor_vpc, PeerOwnerId=OTHER_ACCOUNT)
    event = load_event(CREATE_EVENT, web_vpc=vendor_vpc, api_vpc=lab.api_vpc, peering=pcx)
    event["detail"]["requestParameters"]["peerOwnerId"] = OTHER_ACCOUNT

    on_event = accept(event, lambda_context)
    on_sweep = sweep(load_event("sweep__Scheduled"), lambda_context)

    for summary in (on_event, on_sweep):
        assert pcx not in {f["resource"] for f in summary.get("refused", [])}
        assert pcx not in {a["resource"] for a in summary["actions"]}
    assert peering_status(ec2_client(), pcx) == "pending-acceptance"
    assert ACCOUNT != OTHER_ACCOUNT
