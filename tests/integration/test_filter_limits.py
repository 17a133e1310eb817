"""Filters of more than 200 values are split, and the answers merged (AWS: ``FilterLimitExceeded``).

moto accepts a filter of any size, and ignores ``DescribeVpcPeeringConnections`` filters altogether.
``AwsFilters`` wraps the EC2 client's ``_make_api_call`` to answer as AWS does: a call with a filter
of more than 200 values fails with ``FilterLimitExceeded``, and a peering-id filter is honoured. It
also records every call's filters, so the tests assert each call's size and the merged result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from peerkeeper import flow_logs
from peerkeeper.clients import Clients
from peerkeeper.inventory import FILTER_VALUES_LIMIT, Inventory
from tests.support import ACCOUNT, REGION, request_peering

MANY = 250


@dataclass
class AwsFilters:
    """EC2's filter rules, which moto lacks (see the module docstring)."""

    calls: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    def wrap(self, client: Any) -> None:
        original: Callable[[str, dict[str, Any]], dict[str, Any]] = client._make_api_call

        def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
            filters = params.get("Filters") or []
            self.calls.append((operation, filters))
            if any(len(f["Values"]) > FILTER_VALUES_LIMIT for f in filters):
                error: Any = {"Error": {"Code": "FilterLimitExceeded", "Message": "The request uses too many filters"}}
                raise ClientError(error, operation)
            response = original(operation, params)
            wanted = next((set(f["Values"]) for f in filters if f["Name"] == "vpc-peering-connection-id"), None)
            if operation == "DescribeVpcPeeringConnections" and wanted is not None:
                connections = response["VpcPeeringConnections"]
                response = {
                    **response,
                    "VpcPeeringConnections": [c for c in connections if c["VpcPeeringConnectionId"] in wanted],
                }
            return response

        client._make_api_call = call

    def sizes(self, operation: str) -> list[int]:
        return [len(f["Values"]) for name, filters in self.calls if name == operation for f in filters]


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def observed(aws: None) -> tuple[Inventory, AwsFilters]:
    clients = Clients()
    recorder = AwsFilters()
    recorder.wrap(clients.ec2(REGION))
    return Inventory(clients, ACCOUNT), recorder


def spread(real: list[str]) -> list[str]:
    """``real`` plus MANY ids that do not exist, sorted so that the real ones fall into different chunks.

    The chunks are cut from the sorted values: ids that extend the first real id sort right after it,
    so it lands in the first chunk and the others in the second.
    """
    first, *others = sorted(real)
    return [first, *(f"{first}{i:03d}" for i in range(MANY)), *others]


def test_more_than_200_peering_ids_are_split_and_merged(ec2, observed):
    inventory, recorder = observed
    vpcs = [ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)]
    real = [
        request_peering(ec2, vpcs[0], vpcs[1]),
        request_peering(ec2, vpcs[0], vpcs[2]),
        request_peering(ec2, vpcs[1], vpcs[2]),
    ]
    ids = spread(real)

    found = inventory.peerings(REGION, ids=ids)

    sizes = recorder.sizes("DescribeVpcPeeringConnections")
    assert sizes == [FILTER_VALUES_LIMIT, len(ids) - FILTER_VALUES_LIMIT]
    assert sorted(p.id for p in found) == sorted(real)


def test_peering_ids_and_statuses_are_split_together(ec2, observed):
    inventory, recorder = observed
    vpcs = [ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)]
    real = [request_peering(ec2, vpcs[0], vpcs[1]), request_peering(ec2, vpcs[0], vpcs[2])]

    found = inventory.peerings(REGION, ids=spread(real), statuses=("pending-acceptance",))

    assert [[f["Name"] for f in filters] for name, filters in recorder.calls] == [
        ["vpc-peering-connection-id", "status-code"],
        ["vpc-peering-connection-id", "status-code"],
    ]
    assert sorted(p.id for p in found) == sorted(real)


def test_more_than_200_vpc_and_route_table_ids_are_split_and_merged(ec2, observed):
    inventory, recorder = observed
    vpcs = [ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)]
    tables = [ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for vpc in vpcs]

    found_vpcs = inventory.vpcs(REGION, spread(vpcs))
    found_tables = inventory.route_tables(REGION, vpc_ids=spread(vpcs[:2]), table_ids=spread(tables))

    assert recorder.sizes("DescribeVpcs") == [FILTER_VALUES_LIMIT, MANY + 3 - FILTER_VALUES_LIMIT]
    assert all(size <= FILTER_VALUES_LIMIT for size in recorder.sizes("DescribeRouteTables"))
    assert len(recorder.sizes("DescribeRouteTables")) == 4  # two filters, two chunks each
    assert sorted(found_vpcs) == sorted(vpcs)
    # Every table of the first two VPCs (main ones too), and the third VPC's named table.
    assert {t.vpc_id for t in found_tables} == set(vpcs)
    assert set(tables) <= {t.id for t in found_tables}


def test_more_than_200_flow_log_resource_ids_are_split_and_merged(ec2, observed):
    _, recorder = observed
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName="flow-logs-group")
    vpcs = [ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)]
    ec2.create_flow_logs(
        ResourceIds=vpcs,
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName="flow-logs-group",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-log-role",
    )
    recorder.calls.clear()

    found = flow_logs._describe_flow_logs(observed[0].clients.ec2(REGION), spread(vpcs))

    assert recorder.sizes("DescribeFlowLogs") == [FILTER_VALUES_LIMIT, MANY + 3 - FILTER_VALUES_LIMIT]
    assert sorted(f.resource_id for f in found) == sorted(vpcs)


def test_peering_filters_are_applied_client_side_too(ec2):
    """moto ignores DescribeVpcPeeringConnections filters: every connection comes back, unwrapped."""
    inventory = Inventory(Clients(), ACCOUNT)
    vpcs = [ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)]
    pending = request_peering(ec2, vpcs[0], vpcs[1])
    active = request_peering(ec2, vpcs[0], vpcs[2])
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=active)
    by_filter = [{"Name": "vpc-peering-connection-id", "Values": [pending]}]
    # The gap itself (a canary: if moto starts honouring the filter, docs/moto-vs-aws.md must change).
    assert len(ec2.describe_vpc_peering_connections(Filters=by_filter)["VpcPeeringConnections"]) == 2

    assert [p.id for p in inventory.peerings(REGION, ids=[pending])] == [pending]
    assert [p.id for p in inventory.peerings(REGION, statuses=("active",))] == [active]
