"""A refused request is told once: by its event, or by the first sweep after it appeared.

Not on every sweep for the 7 days it stays pending (96 messages a day at rate(15 minutes)). The sweep
judges a request by its age against the schedule: ``ExpirationTime`` - 7 days is when it was made.
moto's ``DescribeVpcPeeringConnections`` has no ``ExpirationTime``: the tests add it to the parsed
response (botocore ``after-call``), with creation times they choose, as EC2 would report them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from peerkeeper.clients import default_clients
from peerkeeper.model import REQUEST_LIFETIME
from peerkeeper.notify import sweep_tells
from peerkeeper.settings import Settings, SettingsError, get_settings
from tests.support import ACCOUNT, OTHER_ACCOUNT, REGION, build_vpc, handler, load_event, other_account_client

sweep, accept = handler("sweep"), handler("accept_peering")
INTERVAL = timedelta(minutes=15)
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a sweep's scheduled time


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def scheduled(when: datetime) -> dict[str, Any]:
    event = load_event("sweep__Scheduled")
    event["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


@pytest.fixture
def told(aws, configure) -> Callable[[], list[dict[str, Any]]]:
    """The refusals each published message tells (an SQS queue subscribed to the topic, raw)."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="peerkeeper-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    configure(PEERKEEPER_NOTIFY_TOPIC_ARN=arn, PEERKEEPER_SWEEP_SCHEDULE="rate(15 minutes)")

    def refusals() -> list[dict[str, Any]]:
        found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in found:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return [refusal for message in found for refusal in json.loads(message["Body"]).get("refused", [])]

    return refusals


@pytest.fixture
def made_at(told: Any) -> dict[str, datetime]:
    """Peering id -> when EC2 says the request was made (through ``ExpirationTime``).

    After ``told`` (its ``configure`` clears the client cache): configure nothing after this.
    """
    created: dict[str, datetime] = {}

    def add_expiration(parsed: dict[str, Any], **_: Any) -> None:
        for connection in parsed.get("VpcPeeringConnections", []):
            if connection["VpcPeeringConnectionId"] in created:
                connection["ExpirationTime"] = created[connection["VpcPeeringConnectionId"]] + REQUEST_LIFETIME

    # Registered before the handler makes its clients (they copy the session's hooks when made).
    default_clients().session.events.register("after-call.ec2.DescribeVpcPeeringConnections", add_expiration)
    return created


def partner_request(lab: Any) -> str:
    """A request from an account that is not allowlisted (its event never reaches this account)."""
    partner = other_account_client("ec2")
    partner_vpc, _, _ = build_vpc(partner, "10.50.0.0/16", "partner-vpc")
    created = partner.create_vpc_peering_connection(VpcId=partner_vpc, PeerVpcId=lab.web_vpc, PeerOwnerId=ACCOUNT)
    return str(created["VpcPeeringConnection"]["VpcPeeringConnectionId"])


def test_the_first_sweep_after_a_request_appeared_tells_it_and_no_later_one(lab, told, made_at, lambda_context):
    pcx = partner_request(lab)
    made_at[pcx] = at(7)

    summaries, told_by = {}, {}
    for minutes in (0, 15, 30, 45):
        summaries[minutes] = sweep(scheduled(at(minutes)), lambda_context)
        told_by[minutes] = [r["resource"] for r in told()]

    # The sweep at :15 is the first whose window (:00, :15] holds the request (made at :07).
    assert told_by == {0: [], 15: [pcx], 30: [], 45: []}
    # Every sweep still reports it: only the message is not repeated.
    for summary in summaries.values():
        assert [r["resource"] for r in summary["refused"]] == [pcx]
        assert "not allowed" in summary["refused"][0]["reason"]
    assert summaries[15]["refused"][0]["requested_at"] == at(7).isoformat()


def test_a_request_seen_by_the_sweep_before_its_scheduled_time_is_left_to_the_next(lab, told, made_at, lambda_context):
    """Made at :15:20, after the :15 sweep was scheduled but before it looked: the :30 sweep tells it."""
    pcx = partner_request(lab)
    made_at[pcx] = at(15 + 1 / 3)

    sweep(scheduled(at(15)), lambda_context)
    first = told()
    sweep(scheduled(at(30)), lambda_context)

    assert first == []
    assert [r["resource"] for r in told()] == [pcx]


def test_a_retried_sweep_tells_again_what_it_told(lab, told, made_at, lambda_context):
    """EventBridge and Lambda retry with the same event: same scheduled time, same window."""
    pcx = partner_request(lab)
    made_at[pcx] = at(10)

    sweep(scheduled(at(15)), lambda_context)
    sweep(scheduled(at(15)), lambda_context)

    assert [r["resource"] for r in told()] == [pcx, pcx]


def test_a_request_of_unknown_age_is_told_by_every_sweep(lab, told, lambda_context):
    """No ExpirationTime (moto as it is): rather twice than never."""
    pcx = partner_request(lab)

    sweep(scheduled(at(0)), lambda_context)
    sweep(scheduled(at(15)), lambda_context)

    assert [r["resource"] for r in told()] == [pcx, pcx]


def test_a_request_made_in_this_account_and_region_is_told_by_its_event_only(
    lab, told, made_at, monkeypatch, lambda_context
):
    monkeypatch.setenv("ALLOWED_PEER_ACCOUNTS", OTHER_ACCOUNT)  # this account's own requests are refused
    get_settings.cache_clear()  # settings only: the clients keep the ExpirationTime hook
    pcx = boto3.client("ec2", region_name=REGION).create_vpc_peering_connection(
        VpcId=lab.api_vpc, PeerVpcId=lab.web_vpc
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    made_at[pcx] = at(7)
    event = load_event(
        "accept_peering__CreateVpcPeeringConnection", web_vpc=lab.web_vpc, api_vpc=lab.api_vpc, peering=pcx
    )

    accept(event, lambda_context)
    by_event = told()
    for minutes in (15, 30):
        sweep(scheduled(at(minutes)), lambda_context)

    assert [r["resource"] for r in by_event] == [pcx]
    assert told() == []


# -- the window, as a pure function -----------------------------------------------------------
def refusal(requested_at: datetime | None, requester: str = f"{OTHER_ACCOUNT}/vpc-0123456789abcdef0") -> dict[str, Any]:
    finding: dict[str, Any] = {"resource": "pcx-1", "requester": requester, "requester_region": REGION}
    if requested_at is not None:
        finding["requested_at"] = requested_at.isoformat()
    return finding


def tells(finding: dict[str, Any], window_end: datetime) -> bool:
    return sweep_tells(finding, window_end=window_end, interval=INTERVAL, account=ACCOUNT, region=REGION)


def test_consecutive_sweep_windows_tell_every_request_exactly_once():
    sweeps = [at(15 * n) for n in range(9)]
    for second in range(1, 15 * 8 * 60 + 1, 37):  # requests made every 37 s between the first and last sweep
        made = T0 + timedelta(seconds=second)
        assert sum(tells(refusal(made), end) for end in sweeps) == 1, made


@pytest.mark.parametrize(
    ("requested_at", "window_end", "expected"),
    [
        (at(15), at(15), True),  # made exactly at the scheduled time: this sweep
        (at(0), at(15), False),  # exactly one interval old: the previous sweep told it
        (
            at(
                0,
            )
            + timedelta(seconds=1),
            at(15),
            True,
        ),
        (at(16), at(15), False),  # after the scheduled time: the next sweep
        (at(-60 * 24 * 3), at(15), False),  # three days old
    ],
)
def test_the_window_is_open_at_its_start_and_closed_at_its_end(requested_at, window_end, expected):
    assert tells(refusal(requested_at), window_end) is expected


def test_unknown_or_unreadable_age_is_always_told():
    assert tells(refusal(None), at(15))
    assert tells({**refusal(None), "requested_at": "yesterday"}, at(15))


def test_a_request_from_another_region_of_this_account_is_told_by_the_sweep():
    """Its event went to the requester's region, where peerkeeper may not run."""
    finding = {**refusal(at(10), requester=f"{ACCOUNT}/vpc-0123456789abcdef0"), "requester_region": "eu-west-1"}
    assert tells(finding, at(15))
    assert not tells({**finding, "requester_region": REGION}, at(15))


@pytest.mark.parametrize("value", ["cron(0/15 * * * ? *)", "rate(15 mins)", "rate(0 minutes)", "rate(1 minutes)"])
def test_a_malformed_sweep_schedule_stops_the_function_naming_the_variable(value):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"AWS_REGION": REGION, "PEERKEEPER_SWEEP_SCHEDULE": value})
    assert error.value.variable == "PEERKEEPER_SWEEP_SCHEDULE"


def test_the_sweep_schedule_gives_the_interval():
    settings = Settings.from_env({"AWS_REGION": REGION, "PEERKEEPER_SWEEP_SCHEDULE": "rate(2 hours)"})
    assert settings.sweep_interval == 7200
