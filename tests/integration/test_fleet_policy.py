"""Over accounts, each account is judged by its own deployed policy, and says who asked.

Each member account gets a CloudFormation stack (moto's server) whose parameters are peerkeeper's
policy parameters; the caller's flags allow more than either stack. ``apply`` must accept in each
account only what that account's stack allows, skip (and report) an account without the stack, and
use the caller's settings only under ``--policy-from-environment``; ``plan`` says which accounts it
judged with the caller's settings. Every AssumeRole carries ``SourceIdentity`` and a session name
naming the caller (moto's default caller is the IAM user ``moto``).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

import peerkeeper.observability  # noqa: F401  (Powertools keeps the stdout of its import)
from peerkeeper.cli import app, common
from tests.integration.test_fleet import ROLE, in_account, plan_json, sts  # noqa: F401  (fixture)
from tests.support import hook_sessions

REGION = "us-east-1"


def deploy(endpoint: str, account_id: str, name: str = "peerkeeper", **parameters: str) -> None:
    """A stack named ``name`` with peerkeeper's policy parameters (and one resource, as CloudFormation needs)."""
    template = {
        "Parameters": {
            key: {"Type": "String", "Default": default}
            for key, default in (
                ("AllowedPeerAccounts", ""),
                ("AllowedPeerVpcs", ""),
                ("RejectUnlisted", "false"),
                ("RouteOverAggregates", "false"),
                ("DnsRecords", ""),
            )
        },
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
    in_account(endpoint, account_id).cloudformation(REGION).create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
    )


def same_account_request(endpoint: str, account_id: str) -> str:
    """A pending request between two VPCs of ``account_id`` (the account itself is the requester)."""
    ec2 = in_account(endpoint, account_id).ec2(REGION)
    one, two = (ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"] for cidr in ("10.1.0.0/16", "10.2.0.0/16"))
    created = ec2.create_vpc_peering_connection(VpcId=one, PeerVpcId=two)
    return str(created["VpcPeeringConnection"]["VpcPeeringConnectionId"])


def status(endpoint: str, account_id: str, pcx: str) -> str:
    found = in_account(endpoint, account_id).ec2(REGION).describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    return str(found["VpcPeeringConnections"][0]["Status"]["Code"])


@pytest.fixture
def members(endpoint: str) -> dict[str, str]:
    """a: stack allowing a itself (empty AllowedPeerAccounts); b: stack allowing only another
    account; c: no stack. Each has a same-account request pending."""
    accounts = {"a": "111111111111", "b": "222222222222", "c": "333333333333"}
    deploy(endpoint, accounts["a"])
    deploy(endpoint, accounts["b"], AllowedPeerAccounts="444444444444")
    return accounts


def test_apply_accepts_in_each_account_only_what_its_stack_allows(endpoint, members, sts, capsys):  # noqa: F811
    a, b, c = members["a"], members["b"], members["c"]
    requests = {account: same_account_request(endpoint, account) for account in (a, b, c)}
    mine = ["--allowed-accounts", f"{a},{b},{c}"]  # the caller allows everything: the stacks decide
    args = ["--endpoint-url", endpoint, "--account", a, "--account", b, "--account", c, "--role-name", ROLE]

    code = app.main(["apply", "--yes", *args, *mine])

    assert code == common.EXIT_OK, capsys.readouterr()
    assert status(endpoint, a, requests[a]) == "active"  # a's stack: a itself
    assert status(endpoint, b, requests[b]) == "pending-acceptance"  # b's stack: only 444444444444
    assert status(endpoint, c, requests[c]) == "pending-acceptance"  # no stack: skipped
    code, doc = plan_json(capsys, *args, *mine)
    entries = {entry["account"]: entry for entry in doc["entries"]}
    assert entries[a]["policy"] == "stack peerkeeper"
    assert entries[b]["policy"] == "stack peerkeeper"
    assert [f["resource"] for f in entries[b]["concerns"]["peering"]["refused"]] == [requests[b]]
    # plan judges c with the caller's settings, and says so
    assert entries[c]["policy"] == f"your settings: no stack peerkeeper in {REGION}"
    assert [x["resource"] for x in entries[c]["concerns"]["peering"]["actions"]] == [requests[c]]


def test_apply_reports_the_account_without_the_stack_as_skipped(endpoint, members, sts, capsys):  # noqa: F811
    c = members["c"]
    pcx = same_account_request(endpoint, c)
    args = ["--endpoint-url", endpoint, "--account", c, "--role-name", ROLE, "--allowed-accounts", c]
    capsys.readouterr()

    assert app.main(["apply", "--yes", *args]) == common.EXIT_OK
    assert status(endpoint, c, pcx) == "pending-acceptance"
    assert "skipped: no stack peerkeeper in us-east-1" in capsys.readouterr().out

    assert app.main(["apply", "--yes", *args, "--policy-from-environment"]) == common.EXIT_OK
    assert status(endpoint, c, pcx) == "active"


def test_stack_name_picks_the_stack(endpoint, members, sts, capsys):  # noqa: F811
    a = members["a"]
    deploy(endpoint, a, name="peerkeeper-strict", AllowedPeerAccounts="444444444444")
    pcx = same_account_request(endpoint, a)
    args = ["--endpoint-url", endpoint, "--account", a, "--role-name", ROLE, "--stack-name", "peerkeeper-strict"]

    code, doc = plan_json(capsys, *args)

    (entry,) = doc["entries"]
    assert (code, entry["policy"]) == (common.EXIT_DRIFT, "stack peerkeeper-strict")
    assert [f["resource"] for f in entry["concerns"]["peering"]["refused"]] == [pcx]


class AssumeRoleBodies:
    def __init__(self) -> None:
        self.bodies: list[dict[str, list[str]]] = []

    def __call__(self, request: Any, **_: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        parsed = urllib.parse.parse_qs(body)
        if parsed.get("RoleArn", [""])[0].endswith(f":role/{ROLE}"):
            self.bodies.append(parsed)


def test_every_session_carries_the_callers_identity(endpoint, members, monkeypatch, capsys):
    bodies = AssumeRoleBodies()
    hook_sessions(monkeypatch, "before-send.sts.AssumeRole", bodies)

    plan_json(capsys, "--endpoint-url", endpoint, "--account", members["a"], "--role-name", ROLE)

    (body,) = bodies.bodies
    assert body["SourceIdentity"] == ["moto"]  # moto's default caller: arn:aws:sts::123456789012:user/moto
    assert body["RoleSessionName"] == ["peerkeeper-moto"]


def test_a_stackset_instance_is_found_by_the_stack_sets_name(endpoint, members, sts, capsys):  # noqa: F811
    c = members["c"]
    deploy(endpoint, c, name="StackSet-peerkeeper-0a1b2c3d-4e5f", AllowedPeerAccounts="444444444444")
    pcx = same_account_request(endpoint, c)

    code, doc = plan_json(capsys, "--endpoint-url", endpoint, "--account", c, "--role-name", ROLE)

    (entry,) = doc["entries"]
    assert (code, entry["policy"]) == (common.EXIT_DRIFT, "stack peerkeeper")
    assert [f["resource"] for f in entry["concerns"]["peering"]["refused"]] == [pcx]
