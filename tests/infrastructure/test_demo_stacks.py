"""The demo's stacks: the template's rules resolved per region, so peerkeeper's own calls are filtered as deployed.

Issue 22: the demo used to play its own calls back as a role (``peerkeeper-function-role``) that the
rules' self-filter does not list, so they reached the rules as anyone's would. Here the demo's
stacks list their own function roles, the calls it plays back are made as exactly those, and a
second region's stack is another stack (its calls reach the first one's rules, as in AWS).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from peerkeeper.cli.demo.cloudtrail import echo_event
from peerkeeper.cli.demo.lab import ACCOUNT, OTHER_REGION, REGION, Lab, Network
from peerkeeper.cli.demo.rules import FORWARD_RULE, Stack, deploy, load_template, rules_matching
from peerkeeper.cli.demo.story import as_a_person, issuer
from tests.support import EVENTS, ROOT

FUNCTION_ROLES = {
    "accept_peering": "AcceptPeeringRole",
    "repair_routes": "RepairRoutesRole",
    "sync_dns": "SyncDnsRole",
    "enable_flow_logs": "EnableFlowLogsRole",
    "sweep": "SweepRole",
    "intent": "IntentRole",  # optional function; its role always exists (the rules' own-role filter names it)
}
CLOUDTRAIL_EVENTS = sorted(path for path in EVENTS.glob("*.json") if not path.name.startswith(("sweep__", "intent__")))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def home(template: dict[str, Any]) -> Stack:
    return deploy(template, REGION, ACCOUNT).forwarding((OTHER_REGION,))


@pytest.fixture(scope="module")
def other(template: dict[str, Any]) -> Stack:
    return deploy(template, OTHER_REGION, ACCOUNT)


def made_by(event: dict[str, Any], role_arn: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    name = role_arn.rsplit("/", 1)[-1]
    changed["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/peerkeeper-function",
        "accountId": ACCOUNT,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": ACCOUNT, "userName": name}},
    }
    return changed


def test_each_function_runs_as_its_own_role_and_every_rule_filters_exactly_those(home, other):
    for stack in (home, other):
        assert {function: arn.split("/")[1].split("-")[1] for function, arn in stack.roles.items()} == FUNCTION_ROLES
        for rule in [*stack.rules, *([stack.forward] if stack.forward else [])]:
            if rule.pattern.get("detail-type") != ["AWS API Call via CloudTrail"]:
                continue
            (but,) = rule.pattern["detail"]["$or"][0]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
            assert sorted(but["anything-but"]) == sorted(stack.roles.values()), rule.name
    assert not set(home.roles.values()) & set(other.roles.values())  # role names are per account: per stack
    assert home.forward is not None
    assert home.forward.name == FORWARD_RULE


@pytest.mark.parametrize("path", CLOUDTRAIL_EVENTS, ids=lambda path: path.stem)
def test_own_calls_reach_no_rule_of_their_stack_and_another_stack_s_calls_do(path, home, other):
    event = json.loads(path.read_text())
    function = path.name.split("__", 1)[0]

    for stack in (home, other):
        for role in stack.roles.values():
            assert rules_matching(made_by(event, role), stack.rules) == [], role
    by_other = made_by(event, other.roles["sync_dns"])
    assert [rule.function for rule in rules_matching(by_other, home.rules)] == [function]
    assert [rule.function for rule in rules_matching(as_a_person(by_other), home.rules)] == [function]


def test_a_played_back_call_names_its_stack_s_role_and_only_a_person_s_would_be_delivered(home):
    lab = Lab(
        Network("web", "vpc-1", "10.0.0.0/16", [], []), Network("api", "vpc-2", "10.1.0.0/16", [], []), {}, "", ""
    )
    action = {"kind": "accept-peering", "resource": "pcx-0a1b2c3d4e5f60003", "region": REGION, "outcome": "done"}
    role = home.roles["accept_peering"]

    event = echo_event(action, lab, clients=None, function="peerkeeper-accept-peering", role_arn=role)  # type: ignore[arg-type]

    assert event is not None
    assert issuer(event) == role
    assert event["detail"]["userIdentity"]["arn"].endswith(f"{role.rsplit('/', 1)[-1]}/peerkeeper-accept-peering")
    assert rules_matching(event, home.rules) == []
    assert [rule.function for rule in rules_matching(as_a_person(event), home.rules)] == ["repair_routes"]
