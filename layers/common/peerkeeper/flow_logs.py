"""Concern: every VPC of this account delivers flow logs to the configured CloudWatch Logs group.

Desired state: each VPC (not ignored, owned by this account) has an ``ACTIVE`` flow log of
``FLOW_LOG_TRAFFIC_TYPE`` to the ``cloud-watch-logs`` group ``FLOW_LOG_GROUP``, delivered through
``FLOW_LOG_ROLE_ARN``. Flow logs anywhere else (S3, another group, another role, another traffic
type, an organisation's telemetry rule) are left alone and do not count.

Missing flow logs are created in batches of up to 1,000 VPCs per ``CreateFlowLogs`` call. A batch can
succeed for some VPCs and fail for others without raising: the executor reports each VPC's result
and :mod:`peerkeeper.reconcile` classifies them (``FlowLogAlreadyExists`` is converged).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.inventory import filter_chunks
from peerkeeper.model import Action, Plan, Vpc
from peerkeeper.reconcile import Env, Executor, ResourceResult
from peerkeeper.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

CONCERN = "flow_logs"
CREATE = "create-flow-logs"
BATCH_SIZE = 1000  # CreateFlowLogs accepts up to 1,000 resource ids
DESTINATION_TYPE = "cloud-watch-logs"
ALREADY_EXISTS = "FlowLogAlreadyExists"
_NAMED_IN_RESOURCE = 10  # a batch's resource string lists this many ids, then a count


@dataclass(frozen=True)
class FlowLog:
    id: str
    resource_id: str
    traffic_type: str = ""
    destination_type: str = ""
    log_group: str = ""
    role_arn: str = ""
    status: str = ""


@dataclass(frozen=True)
class FlowLogWorld:
    """What the flow-log planner needs, and nothing else."""

    vpcs: tuple[Vpc, ...]
    flow_logs: tuple[FlowLog, ...]
    # Salts the ClientToken (see reconcile.Env): a retry of one delivery is idempotent, while the next
    # delivery, even a minute later, is not answered with EC2's memory of a flow log since deleted.
    delivery_id: str = ""


def parse_flow_log(item: Mapping[str, Any]) -> FlowLog:
    return FlowLog(
        id=item.get("FlowLogId", ""),
        resource_id=item.get("ResourceId", ""),
        traffic_type=item.get("TrafficType", ""),
        destination_type=item.get("LogDestinationType", ""),
        log_group=item.get("LogGroupName", ""),
        role_arn=item.get("DeliverLogsPermissionArn", ""),
        status=item.get("FlowLogStatus", ""),
    )


# -- plan (pure) ------------------------------------------------------------------------------
def is_ours(flow_log: FlowLog, settings: Settings, role_arn: str) -> bool:
    """True for an active flow log of the configured traffic type, group and role."""
    return (
        flow_log.status == "ACTIVE"
        and flow_log.traffic_type == settings.flow_log_traffic_type
        and flow_log.destination_type == DESTINATION_TYPE
        and flow_log.log_group == settings.flow_log_group
        and flow_log.role_arn == role_arn
    )


def vpcs_without_flow_log(world: FlowLogWorld, settings: Settings, account_id: str) -> list[Vpc]:
    role_arn = settings.role_arn_for(account_id)
    covered = {fl.resource_id for fl in world.flow_logs if is_ours(fl, settings, role_arn)}
    return sorted(
        (vpc for vpc in world.vpcs if not vpc.ignored and vpc.owner_id in ("", account_id) and vpc.id not in covered),
        key=lambda vpc: (vpc.region, vpc.id),
    )


def client_token(params: Mapping[str, Any], delivery_id: str = "") -> str:
    """Deterministic from the batch and the delivery (same VPCs, destination and delivery -> same token)."""
    content = json.dumps({**params, "delivery": delivery_id}, sort_keys=True, default=list)
    return "peerkeeper-" + hashlib.sha256(content.encode()).hexdigest()[:48]  # ClientToken: at most 64 chars


def _batches(vpcs: Sequence[Vpc]) -> Iterator[tuple[str, list[str]]]:
    by_region: dict[str, list[str]] = {}
    for vpc in vpcs:
        by_region.setdefault(vpc.region, []).append(vpc.id)
    for region, ids in by_region.items():
        for start in range(0, len(ids), BATCH_SIZE):
            yield region, ids[start : start + BATCH_SIZE]


def _resource_name(ids: Sequence[str]) -> str:
    if len(ids) <= _NAMED_IN_RESOURCE:
        return ",".join(ids)
    return f"{ids[0]} (+{len(ids) - 1} more VPCs)"


def plan(world: FlowLogWorld, settings: Settings, account_id: str) -> Plan:
    actions: list[Action] = []
    for region, ids in _batches(vpcs_without_flow_log(world, settings, account_id)):
        params: dict[str, Any] = {
            "ResourceIds": ids,
            "ResourceType": "VPC",
            "TrafficType": settings.flow_log_traffic_type,
            "LogDestinationType": DESTINATION_TYPE,
            "LogGroupName": settings.flow_log_group,
            "DeliverLogsPermissionArn": settings.role_arn_for(account_id),
        }
        params["ClientToken"] = client_token(params, world.delivery_id)
        reason = (
            f"{len(ids)} {'VPC has' if len(ids) == 1 else 'VPCs have'} no {settings.flow_log_traffic_type} flow log "
            f"to log group {settings.flow_log_group}"
        )
        actions.append(Action(CREATE, _resource_name(ids), region, reason, params))
    return Plan(CONCERN, actions=tuple(actions))


# -- observe ----------------------------------------------------------------------------------
def _describe_flow_logs(ec2: EC2Client, vpc_ids: Collection[str]) -> list[FlowLog]:
    """Flow logs of the named VPCs (one filtered call per 200 ids)."""
    paginator = ec2.get_paginator("describe_flow_logs")
    pages = [paginator.paginate(Filters=[{"Name": "resource-id", "Values": chunk}]) for chunk in filter_chunks(vpc_ids)]
    return [parse_flow_log(item) for pager in pages for page in pager for item in page.get("FlowLogs", [])]


def observe(env: Env, scope: Scope) -> FlowLogWorld:
    """The VPCs in scope (the whole region, or the ones an event names) and their flow logs."""
    if scope.whole_region:
        vpcs = env.inventory.all_vpcs(scope.region)
        if not vpcs:
            return FlowLogWorld(vpcs=(), flow_logs=(), delivery_id=env.delivery_id)
        # Read with the region's other listings, at the same time (Inventory.load_region).
        flow_logs = [parse_flow_log(item) for item in env.inventory.all_flow_logs(scope.region)]
        return FlowLogWorld(vpcs=tuple(vpcs), flow_logs=tuple(flow_logs), delivery_id=env.delivery_id)
    vpcs = list(env.inventory.vpcs(scope.region, scope.vpc_ids).values())
    if not vpcs:
        return FlowLogWorld(vpcs=(), flow_logs=(), delivery_id=env.delivery_id)
    flow_logs = _describe_flow_logs(env.clients.ec2(scope.region), {vpc.id for vpc in vpcs})
    return FlowLogWorld(vpcs=tuple(vpcs), flow_logs=tuple(flow_logs), delivery_id=env.delivery_id)


def plan_for(env: Env, scope: Scope) -> Plan:
    return plan(observe(env, scope), env.settings, env.account_id)


# -- apply ------------------------------------------------------------------------------------
def _error(error: ClientError) -> tuple[str, str]:
    details = error.response.get("Error", {})
    return str(details.get("Code", "")), str(details.get("Message", ""))


def _create(clients: Clients, action: Action) -> list[ResourceResult]:
    ec2 = clients.ec2(action.region)
    ids: list[str] = list(action.params["ResourceIds"])
    try:
        response = ec2.create_flow_logs(**action.params)
    except ClientError as error:
        if _error(error)[0] != ALREADY_EXISTS or len(ids) == 1:
            raise
        # The whole call refused: some VPC already has such a flow log, but which? One call per VPC.
        return [_create_one(ec2, action, vpc_id) for vpc_id in ids]
    failed = {item.get("ResourceId", ""): item.get("Error", {}) for item in response.get("Unsuccessful", [])}
    return [
        ResourceResult(vpc_id, failed[vpc_id].get("Code") or "Unknown", failed[vpc_id].get("Message", ""))
        if vpc_id in failed
        else ResourceResult(vpc_id)
        for vpc_id in ids
    ]


def _create_one(ec2: EC2Client, action: Action, vpc_id: str) -> ResourceResult:
    params = {**action.params, "ResourceIds": [vpc_id]}
    params["ClientToken"] = client_token(params, str(action.params.get("ClientToken", "")))
    try:
        response = ec2.create_flow_logs(**params)
    except ClientError as error:
        return ResourceResult(vpc_id, *_error(error))
    for item in response.get("Unsuccessful", []):
        details = item.get("Error", {})
        return ResourceResult(vpc_id, details.get("Code") or "Unknown", details.get("Message", ""))
    return ResourceResult(vpc_id)


EXECUTORS: Mapping[str, Executor] = {CREATE: _create}
