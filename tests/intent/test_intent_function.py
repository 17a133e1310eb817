"""The deployed IntentFunction: the file from an SSM String parameter, reconciled on any event."""

from __future__ import annotations

import boto3
import pytest

from peerkeeper.reconcile import ReconcileError
from tests.intent.conftest import connections, make_vpc
from tests.support import REGION, handler, load_event

FILE = "version: 1\nnetworks:\n  prod:\n    topology: mesh\n    members: [{tags: {net: prod}}]\n"
intent = handler("intent")


@pytest.fixture
def parameter(aws, configure):
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/peerkeeper/intent", Value=FILE, Type="String")
    configure(INTENT_PARAMETER_NAME="/peerkeeper/intent")


@pytest.mark.parametrize("event", ["intent__TagChangeOnResource", "sweep__Scheduled"])
def test_a_tag_change_or_the_schedule_builds_the_declared_network_then_changes_nothing(
    parameter, calls, lambda_context, event
):
    vpcs = [make_vpc(f"10.{n}.0.0/16", {"net": "prod"})[0] for n in (1, 2, 3)]
    summary = intent(load_event(event), lambda_context)
    assert summary["mode"] == "enforce"
    assert summary["counts"]["in-sync"] == 3
    assert len(connections()) == 3
    assert {
        v for item in connections() for v in (item["RequesterVpcInfo"]["VpcId"], item["AccepterVpcInfo"]["VpcId"])
    } == set(vpcs)
    calls.clear()
    again = intent(load_event(event), lambda_context)
    assert calls.mutating == []  # a replayed event makes no mutating call
    assert again["actions"] == []


def test_without_the_parameter_it_does_nothing(aws, calls, lambda_context):
    make_vpc("10.1.0.0/16", {"net": "prod"})
    calls.clear()
    summary = intent(load_event("sweep__Scheduled"), lambda_context)
    assert summary == {"mode": "enforce", "actions": [], "ignored": "INTENT_PARAMETER_NAME is not set"}
    assert calls.made == []


def test_a_malformed_file_is_reported_not_retried(parameter, calls, lambda_context):
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/peerkeeper/intent",
        Value="version: 1\nnetworks: {prod: {topology: mesh}}\n",
        Type="String",
        Overwrite=True,
    )
    calls.clear()
    summary = intent(load_event("sweep__Scheduled"), lambda_context)
    (problem,) = summary["problems"]
    assert problem["code"] == "INTENT_FILE"
    assert problem["reason"].startswith("ssm:/peerkeeper/intent:2: network 'prod' has no members")
    assert calls.mutating == []


def test_a_retryable_failure_raises_after_the_rest(parameter, calls, lambda_context, monkeypatch):
    make_vpc("10.1.0.0/16", {"net": "prod"})
    make_vpc("10.2.0.0/16", {"net": "prod"})
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    recorded = BaseClient._make_api_call  # type: ignore[attr-defined]

    def throttled(self, operation, params):
        if operation == "CreateVpcPeeringConnection":
            raise ClientError({"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}}, operation)
        return recorded(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", throttled)
    with pytest.raises(ReconcileError, match="RequestLimitExceeded"):
        intent(load_event("sweep__Scheduled"), lambda_context)
