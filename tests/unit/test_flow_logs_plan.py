"""The flow-log planner, table-driven: which VPCs get a flow log, in which batches, with which token."""

from __future__ import annotations

from dataclasses import replace

import pytest

from peerkeeper import flow_logs
from peerkeeper.flow_logs import FlowLog, FlowLogWorld
from peerkeeper.model import Vpc
from peerkeeper.settings import Settings

ME, OTHER = "111111111111", "222222222222"
R1 = "us-east-1"
ROLE = f"arn:aws:iam::{ME}:role/flow-log-role"
SETTINGS = Settings(region=R1, flow_log_group="flow-logs-group", flow_log_traffic_type="ALL")
WEB, API = "vpc-0000000000000a001", "vpc-0000000000000a002"


def vpc(vpc_id: str, **kw: object) -> Vpc:
    return Vpc(vpc_id, ME, R1, cidrs=("10.0.0.0/16",), **kw)  # type: ignore[arg-type]


OURS = FlowLog("fl-ours", WEB, "ALL", "cloud-watch-logs", "flow-logs-group", ROLE, "ACTIVE")


def world(*logs: FlowLog, vpcs: tuple[Vpc, ...] = (vpc(WEB),)) -> FlowLogWorld:
    return FlowLogWorld(vpcs=vpcs, flow_logs=logs)


def planned_ids(plan) -> list[str]:
    return [vpc_id for action in plan.actions for vpc_id in action.params["ResourceIds"]]


CASES = [
    ("no flow log", world(), [WEB]),
    ("ours", world(OURS), []),
    ("to S3", world(replace(OURS, destination_type="s3", log_group="")), [WEB]),
    ("to another group", world(replace(OURS, log_group="org-telemetry")), [WEB]),
    # FLOW_LOG_DESTINATION: a flow log of the wanted traffic type to that destination is in sync,
    # whoever made it (another role, another tool).
    ("same group through another role", world(replace(OURS, role_arn=f"arn:aws:iam::{ME}:role/other")), []),
    ("of another traffic type, same group", world(replace(OURS, traffic_type="REJECT")), [WEB]),
    ("ours but not active", world(replace(OURS, status="INACTIVE")), [WEB]),
    ("ours on another VPC", world(replace(OURS, resource_id=API)), [WEB]),
    ("ours next to a foreign one", world(replace(OURS, id="fl-org", log_group="org"), OURS), []),
    ("ignored VPC", world(vpcs=(vpc(WEB, ignored=True),)), []),
    ("another account's VPC (shared with us)", world(vpcs=(Vpc(WEB, OTHER, R1),)), []),
    ("two VPCs, one covered", world(OURS, vpcs=(vpc(WEB), vpc(API))), [API]),
]


@pytest.mark.parametrize(("world_", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_which_vpcs_get_a_flow_log(world_: FlowLogWorld, expected: list[str]) -> None:
    assert planned_ids(flow_logs.plan(world_, SETTINGS, ME)) == expected


def test_action_carries_the_create_flow_logs_call() -> None:
    (action,) = flow_logs.plan(world(vpcs=(vpc(API), vpc(WEB))), SETTINGS, ME).actions

    assert action.kind == "create-flow-logs"
    assert action.region == R1
    assert action.resource == f"{WEB},{API}"
    params = dict(action.params)
    assert params.pop("ClientToken").startswith("peerkeeper-")
    assert params == {
        "ResourceIds": [WEB, API],
        "ResourceType": "VPC",
        "TrafficType": "ALL",
        "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": "flow-logs-group",
        "DeliverLogsPermissionArn": ROLE,
    }


def test_configured_group_role_and_traffic_type_are_used() -> None:
    settings = replace(
        SETTINGS,
        flow_log_group="vpc/flow",
        flow_log_traffic_type="REJECT",
        flow_log_role_arn=f"arn:aws:iam::{ME}:role/custom",
    )
    ours_before = world(OURS)  # ours under the defaults, not under these settings
    (action,) = flow_logs.plan(ours_before, settings, ME).actions

    assert action.params["LogGroupName"] == "vpc/flow"
    assert action.params["TrafficType"] == "REJECT"
    assert action.params["DeliverLogsPermissionArn"] == f"arn:aws:iam::{ME}:role/custom"
    covered = world(
        replace(OURS, log_group="vpc/flow", traffic_type="REJECT", role_arn=f"arn:aws:iam::{ME}:role/custom")
    )
    assert flow_logs.plan(covered, settings, ME).actions == ()


def many_vpcs(count: int) -> tuple[Vpc, ...]:
    return tuple(vpc(f"vpc-{index:017x}") for index in range(count))


def test_batches_hold_at_most_1000_vpcs() -> None:
    plan = flow_logs.plan(world(vpcs=many_vpcs(2500)), SETTINGS, ME)

    assert [len(action.params["ResourceIds"]) for action in plan.actions] == [1000, 1000, 500]
    assert len(set(planned_ids(plan))) == 2500
    first = plan.actions[0]
    assert first.resource == f"{first.params['ResourceIds'][0]} (+999 more VPCs)"


def test_client_token_is_stable_for_a_batch_and_differs_between_batches() -> None:
    vpcs = many_vpcs(2500)
    first = flow_logs.plan(world(vpcs=vpcs), SETTINGS, ME)
    again = flow_logs.plan(world(vpcs=tuple(reversed(vpcs))), SETTINGS, ME)

    tokens = [action.params["ClientToken"] for action in first.actions]
    assert tokens == [action.params["ClientToken"] for action in again.actions]
    assert len(set(tokens)) == 3
    assert all(len(token) <= 64 for token in tokens)


def test_client_token_depends_on_the_vpcs_the_destination_and_the_delivery() -> None:
    def token(world_: FlowLogWorld, settings: Settings = SETTINGS) -> str:
        return str(flow_logs.plan(world_, settings, ME).actions[0].params["ClientToken"])

    base = token(world())
    assert token(world(vpcs=(vpc(API),))) != base
    assert token(world(), replace(SETTINGS, flow_log_group="other")) != base
    # The next delivery: a batch recreated after its flow logs were deleted is not answered from
    # EC2's memory of the first call, however soon it comes.
    assert token(replace(world(), delivery_id="event-2")) != base
    assert token(replace(world(), delivery_id="")) == base


def test_nothing_to_do_plans_nothing() -> None:
    assert flow_logs.plan(world(vpcs=()), SETTINGS, ME).actions == ()


BUCKET = "arn:aws:s3:::org-flow-logs"
TO_S3 = replace(SETTINGS, flow_log_bucket_arn=f"{BUCKET}/vpc")
S3_LOG = FlowLog("fl-s3", WEB, "ALL", "s3", "", "", "ACTIVE", f"{BUCKET}/vpc")

S3_CASES = [
    ("no flow log", world(), [WEB]),
    ("to that bucket and prefix, made by someone else", world(S3_LOG), []),
    (
        "to that bucket and prefix, written with a trailing slash",
        world(replace(S3_LOG, destination=f"{BUCKET}/vpc/")),
        [],
    ),
    ("to that bucket, another prefix", world(replace(S3_LOG, destination=f"{BUCKET}/other")), [WEB]),
    ("to that bucket, no prefix", world(replace(S3_LOG, destination=BUCKET)), [WEB]),
    ("to another bucket", world(replace(S3_LOG, destination="arn:aws:s3:::elsewhere/vpc")), [WEB]),
    ("of another traffic type", world(replace(S3_LOG, traffic_type="ACCEPT")), [WEB]),
    ("only to the log group", world(OURS), [WEB]),
]


@pytest.mark.parametrize(("world_", "expected"), [case[1:] for case in S3_CASES], ids=[case[0] for case in S3_CASES])
def test_which_vpcs_get_a_flow_log_to_s3(world_: FlowLogWorld, expected: list[str]) -> None:
    assert planned_ids(flow_logs.plan(world_, TO_S3, ME)) == expected


def test_an_s3_destination_is_created_without_a_role_or_a_group() -> None:
    (action,) = flow_logs.plan(world(), TO_S3, ME).actions

    params = dict(action.params)
    assert params.pop("ClientToken").startswith("peerkeeper-")
    assert params == {
        "ResourceIds": [WEB],
        "ResourceType": "VPC",
        "TrafficType": "ALL",
        "LogDestinationType": "s3",
        "LogDestination": f"{BUCKET}/vpc",
    }
    assert f"S3 {BUCKET}/vpc" in action.reason
