"""Notifications: one SNS message per invocation that acted or refused, read back through SQS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from peerkeeper import notify
from peerkeeper.observability import metrics
from peerkeeper.reconcile import ReconcileError
from peerkeeper.settings import Settings, SettingsError
from tests.reliability.faults import FailOnce
from tests.support import REGION, handler

accept, repair = handler("accept_peering"), handler("repair_routes")


@pytest.fixture
def topic(aws, configure) -> Any:
    """A topic with a queue subscribed (raw delivery: the queue holds exactly what was published)."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="peerkeeper-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    configure(PEERKEEPER_NOTIFY_TOPIC_ARN=arn)

    def received() -> list[dict[str, Any]]:
        found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        return [
            {
                "body": json.loads(m["Body"]),
                "attributes": {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()},
            }
            for m in found.get("Messages", [])
        ]

    return received


def test_an_invocation_that_acts_publishes_one_message_listing_every_action(world, topic, lambda_context):
    summary = accept(world.event("accept_peering__CreateVpcPeeringConnection"), lambda_context)

    [message] = topic()
    body = message["body"]
    assert summary["notification"] == "sent"
    assert [(a["kind"], a["resource"], a["outcome"]) for a in body["actions"]] == [
        (a["kind"], a["resource"], a["outcome"]) for a in summary["actions"]
    ]
    assert body["actions"][0]["kind"] == "accept-peering"
    assert body["mode"] == "enforce"
    assert body["outcome"] == "applied"
    assert body["parts"] == 1
    assert message["attributes"] == {"mode": "enforce", "function": "peerkeeper-test", "outcome": "applied"}


def test_a_replay_that_changes_nothing_publishes_nothing(world, topic, lambda_context):
    event = world.event("accept_peering__CreateVpcPeeringConnection")
    accept(event, lambda_context)
    topic()

    summary = accept(event, lambda_context)

    assert topic() == []
    assert "notification" not in summary


def test_a_refused_request_is_published(world, topic, configure, lambda_context):
    configure(ALLOWED_PEER_ACCOUNTS="210987654321")

    accept(world.event("accept_peering__CreateVpcPeeringConnection"), lambda_context)

    [message] = topic()
    assert message["body"]["actions"] == []
    assert "not allowed" in message["body"]["refused"][0]["reason"]
    assert message["attributes"]["outcome"] == "refused"


def test_dry_run_publishes_the_plan(world, topic, configure, lambda_context):
    configure(PEERKEEPER_MODE="dry-run")

    accept(world.event("accept_peering__CreateVpcPeeringConnection"), lambda_context)

    [message] = topic()
    assert message["attributes"]["mode"] == "dry-run"
    assert {a["outcome"] for a in message["body"]["actions"]} == {"planned"}


def test_a_failed_action_is_published_before_the_invocation_fails(world, topic, hook, lambda_context):
    boto3.client("ec2", region_name=REGION).accept_vpc_peering_connection(VpcPeeringConnectionId=world.pcx)
    hook("before-send", FailOnce(lambda operation, _: operation == "CreateRoute"))

    with pytest.raises(ReconcileError):
        repair(world.event("repair_routes__AcceptVpcPeeringConnection"), lambda_context)

    [message] = topic()
    assert message["attributes"]["outcome"] == "failed"
    assert message["body"]["failed"] == len(message["body"]["actions"])


def test_a_publish_failure_keeps_the_result_and_does_not_fail_the_invocation(
    world, topic, hook, lambda_context, caplog
):
    hook("before-send", FailOnce(lambda operation, _: operation == "Publish", code="AuthorizationError"))

    summary = accept(world.event("accept_peering__CreateVpcPeeringConnection"), lambda_context)

    assert summary["notification"] == "failed"
    assert [a["outcome"] for a in summary["actions"]][:1] == ["done"]
    assert topic() == []
    assert any(r.getMessage() == "notification failed" for r in caplog.records)


def test_a_huge_summary_is_split_into_messages_sns_accepts():
    actions = [
        {"kind": "create-route", "resource": f"rtb-{i:017x}", "region": REGION, "reason": "x" * 400, "outcome": "done"}
        for i in range(3000)
    ]
    summary = {"mode": "enforce", "actions": actions, "refused": [{"resource": "pcx-1", "reason": "ü" * 100}]}

    parts = notify.messages(summary, function="sweep", account="123456789012", region=REGION)

    assert len(parts) > 1
    for part in parts:
        args = notify._publish_args("arn:aws:sns:us-east-1:123456789012:t", part)
        attributes = sum(
            len(k) + len(v["DataType"]) + len(v["StringValue"]) for k, v in args["MessageAttributes"].items()
        )
        assert len(args["Message"].encode()) + attributes <= notify.SNS_MAX_BYTES
        assert len(args["Subject"]) <= 100
    assert [a for part in parts for a in part["actions"]] == actions
    assert [r for part in parts for r in part["refused"]] == summary["refused"]
    assert [(p["part"], p["parts"]) for p in parts] == [(i, len(parts)) for i in range(1, len(parts) + 1)]


@pytest.mark.parametrize("value", ["arn:aws:sqs:us-east-1:123456789012:q", "topic", "arn:aws:sns:us-east-1:1234:t"])
def test_a_malformed_topic_arn_stops_the_function_naming_the_variable(value):
    with pytest.raises(SettingsError, match="PEERKEEPER_NOTIFY_TOPIC_ARN"):
        Settings.from_env({"AWS_REGION": REGION, "PEERKEEPER_NOTIFY_TOPIC_ARN": value})


def teardown_function() -> None:
    metrics.clear_metrics()
