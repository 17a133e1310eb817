"""Every call of every function, for every event in ``events/`` and the sweep, is granted by its role.

moto answers every call; AWS answers ``UnauthorizedOperation`` to one the role does not grant (and
the event then crash-loops into the dead-letter queue). Each event is delivered to its real
``lambda_handler`` against a world where every concern has work (tests/reliability's world, plus an
unlisted request to reject, a Security Hub and a notification topic), every call is recorded, and
each is judged against the statements ``template.yaml`` gives that function's role, deployed with
the parameters that made the functions' environment (tests/iam.py: actions, resources, condition
keys, the ignore-tag deny). A call not granted fails with the function, the event and the request.

Data-driven: the functions and their roles are read from the template (``CodeUri`` ->
``Role``), the events from ``events/``; a function that needs more of the world says so in
``WORLD_FOR`` (one line). The same calls are then made again under moto's own IAM enforcement
(``INITIAL_NO_AUTH_ACTION_COUNT``), signed with a session of a moto role holding the template
policies' actions: docs/moto-vs-aws.md says what that checks and what it ignores.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication
from moto.iam import access_control

from peerkeeper.cli.demo.rules import load_template
from tests.iam import (
    Recorder,
    World,
    function_environment,
    function_ids,
    function_roles,
    own_environment,
    refused,
    stack_for,
    with_physical,
)
from tests.integration.test_sync_dns import private_zone
from tests.reliability.conftest import LB, LOG_GROUP, RECORD, ZONE_NAME, build_world, function_of
from tests.reliability.conftest import World as Lab
from tests.support import (
    ACCOUNT,
    REGION,
    ROOT,
    clear_caches,
    event_names,
    handler,
    other_account_client,
    request_peering,
)

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:peerkeeper"
# The deployment whose roles are judged: every optional statement present (DNS writes, rejecting,
# Security Hub, notifications), and the flow-log role named rather than created (its ARN is known).
PARAMETERS = {
    "AllowedPeerAccounts": ACCOUNT,
    "DnsRecords": f"{RECORD}={LB}",
    "RejectUnlisted": "true",
    "SecurityHub": "true",
    "NotificationTopicArn": TOPIC,
    "FlowLogGroupName": LOG_GROUP,
    "CreateFlowLogRole": "false",
    "IntentParameterName": "/peerkeeper/intent",
}
# The stack's own resources the functions use, as the test creates them in moto.
TABLE = "peerkeeper-conflicts-told"
PHYSICAL = {
    "<ConflictsToldTable.Arn>": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}",
    "<ConflictsToldTable>": TABLE,
}


# function folder -> what it needs in the world beyond tests/reliability's (one line per function).
def intent_file(world: Lab) -> None:
    """A mesh of web-vpc and db-vpc (peered, active): intent reads the file and routes what is missing."""
    members = f"[{{vpc: {world.lab.web_vpc}}}, {{vpc: {world.db_vpc}}}]"
    text = f"version: 1\nnetworks:\n  core:\n    topology: mesh\n    members: {members}\n"
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETERS["IntentParameterName"], Value=text, Type="String"
    )


WORLD_FOR: dict[str, Callable[[Lab], None]] = {"intent": intent_file}
EVENTS = event_names()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def roles(template: dict[str, Any]) -> dict[str, str]:
    return function_roles(template)


def test_every_function_of_the_template_has_events_and_every_event_a_function(roles):
    assert set(roles) == {function_of(name) for name in EVENTS}, "an event per function, a function per event"


@pytest.fixture
def world(lab, monkeypatch: pytest.MonkeyPatch, template: dict[str, Any]) -> Lab:
    """The functions' environment from the template's Globals, and a world where every path has work."""
    for name, value in function_environment(stack_for(template, ACCOUNT, **PARAMETERS), PHYSICAL).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    clear_caches()
    built = build_world(lab)
    other = other_account_client("ec2")
    stranger = other.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    request_peering(other, stranger, lab.web_vpc, PeerOwnerId=ACCOUNT)  # refused, then rejected
    # A namesake of the record's zone with a real-looking id (events.py takes only ``Z...`` ids,
    # moto's are random): the Route 53 events name it, and two namesakes make sync_dns read both.
    built.zone_id = private_zone(lab.api_vpc, name=ZONE_NAME, zone_id="Z0IAMCOVERAGE0001")
    boto3.client("sns", region_name=REGION).create_topic(Name="peerkeeper")
    boto3.client("securityhub", region_name=REGION).enable_security_hub()
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "scope", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "scope", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for setup in WORLD_FOR.values():
        setup(built)
    return built


@pytest.fixture
def recorder(aws: None, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recording = Recorder()
    real_session = boto3.Session

    def session(*args: Any, **kwargs: Any) -> boto3.Session:
        made = real_session(*args, **kwargs)
        made.events.register("before-parameter-build", recording)
        return made

    monkeypatch.setattr(boto3, "Session", session)
    clear_caches()  # peerkeeper's clients are made again, from a recorded session
    return recording


def deliver(function: str, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One delivery, as Lambda makes it; an error is part of the answer (it would be retried)."""
    try:
        return handler(function)(event, context)
    except Exception as error:
        return {"raised": repr(error)}


# -- moto's own IAM enforcement -----------------------------------------------------------------
def moto_role_policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """The Allow statements' actions on ``*``: moto matches actions only (see the module docstring)."""
    actions = sorted({action for s in statements if s["Effect"] == "Allow" for action in _listed(s["Action"])})
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def role_session(role_name: str, policy: dict[str, Any]) -> dict[str, str]:
    """Credentials of a moto role holding ``policy`` (made before enforcement starts)."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="template", PolicyDocument=json.dumps(policy))
    sts = boto3.client("sts", region_name=REGION)
    credentials = sts.assume_role(RoleArn=arn, RoleSessionName="function")["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


@pytest.fixture
def moto_denials(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The actions moto's enforcement refuses, as moto decides them (its error bodies for Route 53
    do not parse as a code in botocore, so the summary alone would not say it was IAM).

    moto recomputes Route 53's (REST-XML) signatures differently from botocore and answers
    ``SignatureDoesNotMatch`` to every signed Route 53 request: its signature check is skipped for
    Route 53 only, its action check is kept (docs/moto-vs-aws.md).
    """
    denied: list[str] = []
    check_signature, check_action = (
        access_control.IAMRequest.check_signature,
        access_control.IAMRequest.check_action_permitted,
    )

    def signature(self: Any) -> None:
        if self._service != "route53":
            check_signature(self)

    def action(self: Any, resource: str) -> None:
        try:
            check_action(self, resource)
        except Exception:
            denied.append(self._action)
            raise

    monkeypatch.setattr(access_control.IAMRequest, "check_signature", signature)
    monkeypatch.setattr(access_control.IAMRequest, "check_action_permitted", action)
    return denied


@pytest.mark.parametrize("event_name", EVENTS)
def test_every_call_is_granted_by_the_functions_role(
    event_name, world, recorder, moto_denials, template, roles, lambda_context, monkeypatch
):
    function = function_of(event_name)
    stack = stack_for(template, ACCOUNT, **PARAMETERS)
    statements = with_physical(stack.role_statements(roles[function]), PHYSICAL)
    for name, value in own_environment(stack, function_ids(template)[function]).items():
        monkeypatch.setenv(name, value)
    # The function runs as a moto role holding its template policies' actions, moto enforcing them.
    for name, value in role_session(roles[function], moto_role_policy(statements)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    clear_caches()

    recorder.recording = True
    with enable_iam_authentication():
        summary = deliver(function, world.event(event_name), lambda_context)
    recorder.recording = False

    assert recorder.calls, f"{event_name}: no AWS call recorded"
    text = json.dumps(summary, default=str)
    not_granted = refused(recorder.calls, statements, World(ACCOUNT, lambda region: boto3.client("ec2", region)))
    assert not not_granted, (
        f"{function} ({roles[function]}), event {event_name}: not granted:\n  "
        + "\n  ".join(not_granted)
        + f"\nsummary: {text[:2000]}"
    )
    # moto's verdict on the actions (it sees every call, including any the recorder would miss).
    assert not moto_denials, f"{function}, event {event_name}: moto refused {moto_denials}; summary: {text[:2000]}"
