"""A conflict is told once: when it first appears, again only after it was resolved and came back.

Before issue 18 a peer that associated a public block after acceptance gave one SNS message per
sweep per table, forever (96 a day at rate(15 minutes)). The sweeps here run against moto with the
template's memory (a DynamoDB table) and an SQS queue subscribed to the topic, as operators would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from peerkeeper.notify import conflict_key
from tests.support import REGION, ec2_client, handler, load_event, request_peering

accept, repair, sweep = handler("accept_peering"), handler("repair_routes"), handler("sweep")
PUBLIC_BLOCK = "52.94.0.0/16"
SWEEPS_PER_DAY = 96  # rate(15 minutes)


@pytest.fixture
def messages(aws, configure) -> Callable[[], list[dict[str, Any]]]:
    """Every message published since the last call (an SQS queue subscribed to the topic, raw)."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="peerkeeper-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="peerkeeper-conflicts-told",
        KeySchema=[{"AttributeName": "scope", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "scope", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    configure(PEERKEEPER_NOTIFY_TOPIC_ARN=arn, PEERKEEPER_CONFLICTS_TABLE="peerkeeper-conflicts-told")

    def received() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                found.append(json.loads(message["Body"]))
        return found

    return received


@pytest.fixture
def routed(lab, messages, lambda_context):
    """api-vpc peered with web-vpc and routed; one sweep already ran (flow logs made): all quiet."""
    pcx = request_peering(ec2_client(), lab.api_vpc, lab.web_vpc)
    accept(
        load_event("accept_peering__CreateVpcPeeringConnection", web_vpc=lab.web_vpc, api_vpc=lab.api_vpc, peering=pcx),
        lambda_context,
    )
    sweep(load_event("sweep__Scheduled"), lambda_context)
    messages()
    lab.pcx = pcx
    return lab


def conflicts_told(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["resource"], c["destination"]) for message in found for c in message.get("conflicts", [])]


def test_a_standing_conflict_is_told_by_one_message_over_ten_sweeps(routed, messages, lambda_context):
    association = ec2_client().associate_vpc_cidr_block(VpcId=routed.api_vpc, CidrBlock=PUBLIC_BLOCK)
    summaries = [sweep(load_event("sweep__Scheduled"), lambda_context) for _ in range(10)]

    found = messages()

    assert len(found) == 1  # was 10 (one per sweep): 96 a day at rate(15 minutes), now 1
    assert sorted(conflicts_told(found)) == sorted((table, PUBLIC_BLOCK) for table in routed.web_tables)
    for summary in summaries:  # every sweep still reports it; only the message is not repeated
        assert {c["destination"] for c in summary["conflicts"]} == {PUBLIC_BLOCK}
    assert association["CidrBlockAssociation"]["CidrBlock"] == PUBLIC_BLOCK


def test_a_conflict_resolved_and_back_is_told_again(routed, messages, lambda_context):
    ec2 = ec2_client()
    association = ec2.associate_vpc_cidr_block(VpcId=routed.api_vpc, CidrBlock=PUBLIC_BLOCK)
    sweep(load_event("sweep__Scheduled"), lambda_context)
    sweep(load_event("sweep__Scheduled"), lambda_context)
    first = conflicts_told(messages())

    ec2.disassociate_vpc_cidr_block(AssociationId=association["CidrBlockAssociation"]["AssociationId"])
    sweep(load_event("sweep__Scheduled"), lambda_context)  # resolved: forgotten, nothing to tell
    assert messages() == []
    ec2.associate_vpc_cidr_block(VpcId=routed.api_vpc, CidrBlock=PUBLIC_BLOCK)
    sweep(load_event("sweep__Scheduled"), lambda_context)
    sweep(load_event("sweep__Scheduled"), lambda_context)

    assert sorted(conflicts_told(messages())) == sorted(first)
    assert len(first) == len(routed.web_tables)


def test_the_event_path_and_the_sweep_share_what_was_told(routed, messages, lambda_context):
    """The AssociateVpcCidrBlock event tells the conflict; the sweeps after it stay silent."""
    ec2_client().associate_vpc_cidr_block(VpcId=routed.api_vpc, CidrBlock=PUBLIC_BLOCK)
    event = load_event(
        "repair_routes__AssociateVpcCidrBlock", web_vpc=routed.web_vpc, api_vpc=routed.api_vpc, peering=routed.pcx
    )

    repair(event, lambda_context)
    by_event = conflicts_told(messages())
    for _ in range(3):
        sweep(load_event("sweep__Scheduled"), lambda_context)

    assert len(by_event) == len(routed.web_tables)
    assert messages() == []


def test_a_conflict_keeps_its_key_whatever_its_wording():
    conflict = {"resource": "rtb-1", "region": REGION, "destination": PUBLIC_BLOCK, "cause": "cidr-not-allowed"}

    assert conflict_key({**conflict, "reason": "one wording"}) == conflict_key({**conflict, "reason": "another"})
    assert conflict_key(conflict) != conflict_key({**conflict, "resource": "rtb-2"})
