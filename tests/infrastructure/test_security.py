"""The template's guardrails, evaluated: IAM conditions, rule filters, forwarding, concurrency, patterns.

The template is read as data (no SAM CLI, no AWS). Intrinsic functions are evaluated here the way
CloudFormation does for the few this template uses (Ref, Sub, Join, Split, Select, If, conditions),
and IAM conditions the way IAM does for the operators it uses, so each test states a request and
whether AWS would allow it. Rule patterns go through moto's EventBridge matcher (as the demo does).
docs/security.md lists which threat each test covers.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from peerkeeper.cli.demo.rules import Rule, load_rules, load_template, rules_matching
from peerkeeper.dns import HostedZone, desired_record
from peerkeeper.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT, PARTITION = "111122223333", "aws"
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/peerkeeper/8c5b9f40-1a2b-11f1-9c3d-0a1b2c3d4e5f"
ROLES = ("AcceptPeeringRole", "RepairRoutesRole", "SyncDnsRole", "EnableFlowLogsRole", "SweepRole", "IntentRole")
EVENT_FUNCTIONS = ("AcceptPeeringFunction", "RepairRoutesFunction", "SyncDnsFunction", "EnableFlowLogsFunction")
FUNCTIONS = (*EVENT_FUNCTIONS, "SweepFunction")
ALL_TEMPLATE_EVENTS = sorted((ROOT / "events").glob("*.json"))
CLOUDTRAIL_EVENTS = [path for path in ALL_TEMPLATE_EVENTS if not path.name.startswith(("sweep__", "intent__"))]


def role_arn(logical_id: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/peerkeeper-{logical_id}-1A2B3C4D5E6F"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


# -- CloudFormation, for the functions this template uses ---------------------------------------
class Stack:
    """One deployment: a region and parameter values; evaluates conditions and intrinsics."""

    def __init__(self, template: dict[str, Any], region: str = "us-east-1", **parameters: str) -> None:
        self.template, self.region = template, region
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
        self.parameters.update(parameters)
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::StackId": STACK_ID.replace("us-east-1", region),
            "AWS::StackName": "peerkeeper",
        }

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def exists(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def value(self, node: Any, variables: dict[str, Any] | None = None) -> Any:  # noqa: C901, PLR0912
        variables = variables or {}
        if isinstance(node, list):
            return [item for item in (self.value(i, variables) for i in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {
                key: item
                for key, item in ((k, self.value(v, variables)) for k, v in node.items())
                if item is not _NO_VALUE
            }
        ((key, argument),) = node.items()
        if key == "Ref":
            if argument == "AWS::NoValue":
                return _NO_VALUE
            if argument in self.pseudo:
                return self.pseudo[argument]
            return self.parameters.get(argument, f"<{argument}>")
        if key in ("Condition", "Fn::Condition"):  # the loader reads !Condition as Fn::Condition
            return self.condition(argument)
        if key == "Fn::GetAtt":
            name, attribute = argument
            return role_arn(name) if name in ROLES else f"<{name}.{attribute}>"
        if key == "Fn::If":
            condition, when_true, when_false = argument
            return self.value(when_true if self.condition(condition) else when_false, variables)
        if key == "Fn::Equals":
            left, right = (self.value(item, variables) for item in argument)
            return left == right
        if key == "Fn::Not":
            return not self.value(argument[0], variables)
        if key == "Fn::And":
            return all(self.value(item, variables) for item in argument)
        if key == "Fn::Or":
            return any(self.value(item, variables) for item in argument)
        if key == "Fn::Join":
            delimiter, items = argument
            return delimiter.join(self.value(items, variables))
        if key == "Fn::Split":
            delimiter, text = argument
            return self.value(text, variables).split(delimiter)
        if key == "Fn::Select":
            index, items = argument
            return self.value(items, variables)[int(index)]
        if key == "Fn::Sub":
            text, local = (argument, {}) if isinstance(argument, str) else argument
            scope = {**variables, **{name: self.value(v, variables) for name, v in local.items()}}
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._variable(m.group(1), scope), text)
        return {key: self.value(argument, variables)}

    def _variable(self, name: str, scope: dict[str, Any]) -> str:
        if name in scope:
            return str(scope[name])
        if "." in name:
            return str(self.value({"Fn::GetAtt": name.split(".", 1)}))
        return str(self.value({"Ref": name}))

    def resource(self, logical_id: str) -> dict[str, Any]:
        return dict(self.value(copy.deepcopy(self.template["Resources"][logical_id])))

    def role_statements(self, role_id: str) -> list[dict[str, Any]]:
        """Every statement a role holds: inline, and the template's managed policies it attaches."""
        role = self.resource(role_id)["Properties"]
        statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        for policy_id in _references(self.template["Resources"][role_id]["Properties"].get("ManagedPolicyArns", [])):
            if policy_id in self.template["Resources"] and self.exists(policy_id):
                statements += self.resource(policy_id)["Properties"]["PolicyDocument"]["Statement"]
        return statements


_NO_VALUE = object()


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return [value["Ref"]]
        return [name for item in value.values() for name in _references(item)]
    if isinstance(value, list):
        return [name for item in value for name in _references(item)]
    return []


# -- IAM, for the operators this template uses --------------------------------------------------
def _values(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    present = key in context
    if operator.endswith("IfExists"):  # absent key: the condition holds
        return not present or _condition_holds(operator.removesuffix("IfExists"), key, expected, context)
    # A policy variable (${aws:PrincipalOrgID}) is the request's value of that key.
    expected = [str(context.get(w[2:-1], w)) if w.startswith("${") else w for w in _values(expected)]
    if operator == "Null":
        return (not present) == (str(expected).lower() == "true")
    if operator.startswith("ForAllValues:"):
        test = operator.removeprefix("ForAllValues:")
        return all(_condition_holds(test, key, expected, {key: item}) for item in _values(context.get(key, [])))
    if not present:
        return False
    actual = _values(context[key])
    wanted = _values(expected)
    if operator in ("StringEquals", "ArnEquals"):
        return any(a == w for a in actual for w in wanted)
    if operator == "StringEqualsIgnoreCase":
        return any(a.lower() == w.lower() for a in actual for w in wanted)
    if operator in ("ArnLike", "StringLike"):
        return any(fnmatch.fnmatchcase(a, w) for a in actual for w in wanted)
    if operator == "Bool":
        return any(a.lower() == w.lower() for a in actual for w in wanted)
    raise AssertionError(f"operator {operator} not modelled")


def _matches(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    actions = _values(statement["Action"])
    if not any(fnmatch.fnmatchcase(action, pattern) for pattern in actions):
        return False
    if not any(fnmatch.fnmatchcase(resource, pattern) for pattern in _values(statement["Resource"])):
        return False
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def allowed(statements: list[dict[str, Any]], action: str, resource: str, **context: Any) -> bool:
    """IAM's verdict for one request: an explicit deny wins, else some allow, else implicit deny."""
    context = {key.replace("__", ":").replace("_slash_", "/"): value for key, value in context.items()}
    matching = [s for s in statements if _matches(s, action, resource, context)]
    return any(s["Effect"] == "Allow" for s in matching) and not any(s["Effect"] == "Deny" for s in matching)


def dns_write(
    stack: Stack,
    names: list[str],
    *,
    types: tuple[str, ...] = ("CNAME",),
    actions: tuple[str, ...] = ("UPSERT",),
    zone: str = "Z0123456789ABCDEFGHIJ",
) -> bool:
    return allowed(
        stack.role_statements("SyncDnsRole"),
        "route53:ChangeResourceRecordSets",
        f"arn:aws:route53:::hostedzone/{zone}",
        **{
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": names,
            "route53:ChangeResourceRecordSetsRecordTypes": list(types),
            "route53:ChangeResourceRecordSetsActions": list(actions),
        },
    )


PCX = f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-peering-connection/pcx-0a1b2c3d4e5f60003"
OWN_VPC = f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-0a1b2c3d4e5f60001"
PARTNER_VPC = "arn:aws:ec2:us-east-1:444455556666:vpc/vpc-0a1b2c3d4e5f60002"
STRANGER_VPC = "arn:aws:ec2:us-east-1:999999999999:vpc/vpc-0a1b2c3d4e5f60009"
TABLE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:route-table/rtb-0a1b2c3d4e5f60004"


# ------------------------------------------------------------------------------------ Route 53
def test_dns_writes_are_cname_upserts_of_the_listed_names_only(template):
    stack = Stack(template, DnsRecords="api.elb.lab.private=api-elb,Web.Elb.Lab.Private=web-elb@eu-west-1")

    assert dns_write(stack, ["api.elb.lab.private"])
    assert dns_write(stack, ["web.elb.lab.private"])  # Route 53 normalises to lower case
    assert not dns_write(stack, ["api.elb.lab.private"], actions=("DELETE",))
    assert not dns_write(stack, ["api.elb.lab.private"], actions=("CREATE",))
    assert not dns_write(stack, ["api.elb.lab.private"], types=("A",))
    assert not dns_write(stack, ["api.elb.lab.private", "db.elb.lab.private"])  # one unlisted name in the batch
    assert not dns_write(stack, ["elb.lab.private"])
    assert not allowed(  # a request without the keys (ForAllValues alone would allow it)
        stack.role_statements("SyncDnsRole"), "route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z1"
    )


def test_no_dns_records_means_no_dns_write(template):
    stack = Stack(template, DnsRecords="")
    assert not dns_write(stack, ["api.elb.lab.private"])
    assert not dns_write(stack, [""])


def test_dns_writes_can_be_limited_to_listed_zones(template):
    stack = Stack(template, DnsRecords="api.elb.lab.private=api-elb", DnsHostedZoneIds="Z1PA6795UKMFR9,Z2EXAMPLE")

    assert dns_write(stack, ["api.elb.lab.private"], zone="Z1PA6795UKMFR9")
    assert dns_write(stack, ["api.elb.lab.private"], zone="Z2EXAMPLE")
    assert not dns_write(stack, ["api.elb.lab.private"], zone="Z3OTHER")
    assert dns_write(Stack(template, DnsRecords="api.elb.lab.private=api-elb"), ["api.elb.lab.private"], zone="Z3OTHER")


def test_the_dns_code_sends_what_the_policy_allows():
    """dns.py's one change per call: UPSERT of a CNAME, the record named as DNS_RECORDS lists it."""
    params = desired_record(HostedZone("Z1", "elb.lab.private", private=True), "api.elb.lab.private", "x", 300)
    (change,) = params["ChangeBatch"]["Changes"]
    assert change["Action"] == "UPSERT"
    assert change["ResourceRecordSet"]["Type"] == "CNAME"
    assert change["ResourceRecordSet"]["Name"] == "api.elb.lab.private"


# ------------------------------------------------------------------------------------ EC2
def ec2_statements(
    template: dict[str, Any], role: str = "AcceptPeeringRole", **parameters: str
) -> list[dict[str, Any]]:
    return Stack(template, AllowedPeerAccounts="444455556666", **parameters).role_statements(role)


def test_accepting_needs_an_allowlisted_requester_and_our_own_accepter_vpc(template):
    statements = ec2_statements(template)
    accept = "ec2:AcceptVpcPeeringConnection"

    ours = {"ec2__RequesterVpc": PARTNER_VPC, "ec2__AccepterVpc": OWN_VPC}
    assert allowed(statements, accept, PCX, **ours)
    assert allowed(statements, accept, OWN_VPC, **ours)
    assert not allowed(statements, accept, PCX, **{**ours, "ec2__RequesterVpc": STRANGER_VPC})
    # A connection between two VPCs of other accounts is never ours to accept.
    assert not allowed(statements, accept, PCX, **{**ours, "ec2__AccepterVpc": PARTNER_VPC})


@pytest.mark.parametrize("role", ["AcceptPeeringRole", "SweepRole"])
def test_rejecting_is_granted_only_under_reject_unlisted(template, role):
    request = {"ec2__RequesterVpc": STRANGER_VPC, "ec2__AccepterVpc": OWN_VPC}
    reject = "ec2:RejectVpcPeeringConnection"

    assert not allowed(ec2_statements(template, role, RejectUnlisted="false"), reject, PCX, **request)
    assert allowed(ec2_statements(template, role, RejectUnlisted="true"), reject, PCX, **request)
    # Even then, only requests to our own VPCs.
    other = {**request, "ec2__AccepterVpc": PARTNER_VPC}
    assert not allowed(ec2_statements(template, role, RejectUnlisted="true"), reject, PCX, **other)


@pytest.mark.parametrize("role", ["AcceptPeeringRole", "RepairRoutesRole", "SweepRole"])
def test_routes_only_in_this_accounts_tables(template, role):
    statements = ec2_statements(template, role)
    assert allowed(statements, "ec2:CreateRoute", TABLE)
    assert allowed(statements, "ec2:ReplaceRoute", TABLE)
    assert not allowed(statements, "ec2:CreateRoute", TABLE.replace(ACCOUNT, "444455556666"))
    assert not allowed(statements, "ec2:DeleteRoute", TABLE)


WRITES = [
    ("AcceptPeeringRole", "ec2:AcceptVpcPeeringConnection", PCX),
    ("AcceptPeeringRole", "ec2:AcceptVpcPeeringConnection", OWN_VPC),
    ("AcceptPeeringRole", "ec2:RejectVpcPeeringConnection", PCX),
    ("AcceptPeeringRole", "ec2:CreateRoute", TABLE),
    ("RepairRoutesRole", "ec2:CreateRoute", TABLE),
    ("RepairRoutesRole", "ec2:ReplaceRoute", TABLE),
    ("EnableFlowLogsRole", "ec2:CreateFlowLogs", OWN_VPC),
    ("SweepRole", "ec2:AcceptVpcPeeringConnection", PCX),
    ("SweepRole", "ec2:ReplaceRoute", TABLE),
    ("SweepRole", "ec2:CreateFlowLogs", OWN_VPC),
]


@pytest.mark.parametrize(("role", "action", "resource"), WRITES, ids=lambda v: str(v).rsplit("/", 1)[-1])
@pytest.mark.parametrize("tag_value", ["true", "TRUE", "True"])
def test_iam_denies_every_write_to_a_resource_tagged_ignore(template, role, action, resource, tag_value):
    statements = ec2_statements(template, role, RejectUnlisted="true")
    request = {"ec2__RequesterVpc": PARTNER_VPC, "ec2__AccepterVpc": OWN_VPC}

    assert allowed(statements, action, resource, **request)
    assert not allowed(statements, action, resource, **request, **{"aws:ResourceTag/peerkeeper:ignore": tag_value})
    assert allowed(statements, action, resource, **request, **{"aws:ResourceTag/peerkeeper:ignore": "false"})


# ------------------------------------------------------------------------------------ logs, runtime
@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_each_function_has_its_own_role_writing_only_its_own_log_group(template, resources, function_id):
    stack = Stack(template)
    (role_id,) = [
        name for name in ROLES if {"Fn::GetAtt": [name, "Arn"]} == resources[function_id]["Properties"]["Role"]
    ]
    log_group = resources[function_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    role = resources[role_id]["Properties"]
    statements = stack.role_statements(role_id)
    logs = [s for s in statements if any(a.startswith("logs:") for a in _values(s["Action"]))]

    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    # No AWS managed policy (AWSLambdaBasicExecutionRole writes to every log group of the account).
    assert all("Ref" in arn or "Fn::If" in arn for arn in role["ManagedPolicyArns"])
    assert [s["Resource"] for s in logs] == [f"<{log_group}.Arn>"]
    assert {a for s in logs for a in _values(s["Action"])} == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_reserved_concurrency_bounds_every_event_function(template, resources):
    parameter = template["Parameters"]["EventFunctionConcurrency"]
    assert template["Globals"]["Function"]["ReservedConcurrentExecutions"] == {"Ref": "EventFunctionConcurrency"}
    assert parameter["Type"] == "Number"
    assert 1 <= parameter["MinValue"] <= parameter["Default"] <= 5  # Route 53: 5 requests/s per account
    assert parameter["MaxValue"] <= 100
    for function_id in EVENT_FUNCTIONS:
        assert "ReservedConcurrentExecutions" not in resources[function_id]["Properties"], function_id
    assert resources["SweepFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1


def test_dead_letter_queue_refuses_plain_http(template):
    statements = Stack(template).resource("DeadLetterQueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
    queue = "<DeadLetterQueue.Arn>"

    assert not allowed(statements, "sqs:ReceiveMessage", queue, **{"aws:SecureTransport": "false"})
    assert not allowed(statements, "sqs:SendMessage", queue, **{"aws:SecureTransport": "false"})
    deny = statements[-1]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_notifications_to_an_encrypted_topic_may_use_its_key_through_sns_only(template):
    topic, key = (
        "arn:aws:sns:eu-west-1:111122223333:peerkeeper",
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    stack = Stack(template, NotificationTopicArn=topic, NotificationTopicKeyArn=key)
    statements = stack.role_statements("SweepRole")

    assert allowed(statements, "sns:Publish", topic)
    assert allowed(statements, "kms:GenerateDataKey", key, **{"kms:ViaService": "sns.eu-west-1.amazonaws.com"})
    assert allowed(statements, "kms:Decrypt", key, **{"kms:ViaService": "sns.eu-west-1.amazonaws.com"})
    assert not allowed(statements, "kms:Decrypt", key)  # directly, not through SNS
    assert not allowed(statements, "kms:Decrypt", key, **{"kms:ViaService": "s3.eu-west-1.amazonaws.com"})
    assert not allowed(statements, "sns:Publish", topic.replace("peerkeeper", "other"))
    without_key = Stack(template, NotificationTopicArn=topic).role_statements("SweepRole")
    assert not any("kms:Decrypt" in _values(s["Action"]) for s in without_key)
    assert not any("sns:Publish" in _values(s["Action"]) for s in Stack(template).role_statements("SweepRole"))


def test_flow_log_role_may_be_assumed_only_for_this_accounts_flow_logs(template):
    (trust,) = Stack(template).resource("FlowLogRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    flow_log = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc-flow-log/fl-0a1b2c3d4e5f60007"
    context = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": flow_log}

    assert allowed([trust | {"Resource": "*"}], "sts:AssumeRole", "*", **context)
    assert not allowed(
        [trust | {"Resource": "*"}], "sts:AssumeRole", "*", **{**context, "aws:SourceAccount": "444455556666"}
    )
    other = flow_log.replace(ACCOUNT, "444455556666")
    assert not allowed([trust | {"Resource": "*"}], "sts:AssumeRole", "*", **{**context, "aws:SourceArn": other})


# ------------------------------------------------------------------------------------ rule filters
@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    """The template's rules with the role ARNs resolved as CloudFormation would."""
    resolved = []
    for rule in load_rules(TEMPLATE):
        text = json.dumps(rule.pattern)
        for role in ROLES:
            text = text.replace(json.dumps({"Fn::GetAtt": [role, "Arn"]}), json.dumps(role_arn(role)))
        resolved.append(Rule(rule.name, rule.function, json.loads(text)))
    return resolved


def by(event: dict[str, Any], identity: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["detail"]["userIdentity"] = identity
    return changed


def assumed_role(arn: str) -> dict[str, Any]:
    account, name = arn.split(":")[4], arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/peerkeeper-function",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": arn, "accountId": account, "userName": name}},
    }


IDENTITIES_WITHOUT_ISSUER: dict[str, dict[str, Any]] = {
    "iam-user": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "userName": "alice"},
    "iam-user-with-session": {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "sessionContext": {"attributes": {"mfaAuthenticated": "true"}},
    },
    "root": {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"},
    "aws-service": {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"},
}


def test_every_cloudtrail_rule_carries_the_own_role_filter(rules):
    for rule in rules:
        if rule.pattern.get("detail-type") == ["AWS API Call via CloudTrail"]:
            issuer = rule.pattern["detail"]["$or"][0]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
            assert issuer == [{"anything-but": [role_arn(role) for role in ROLES]}], rule.name


@pytest.mark.parametrize("path", CLOUDTRAIL_EVENTS, ids=lambda path: path.stem)
@pytest.mark.parametrize("role", ROLES)
def test_peerkeepers_own_calls_reach_no_rule(path, role, rules):
    event = json.loads(path.read_text())
    assert rules_matching(by(event, assumed_role(role_arn(role))), rules) == []


@pytest.mark.parametrize("path", CLOUDTRAIL_EVENTS, ids=lambda path: path.stem)
def test_a_persons_calls_still_reach_their_rule(path, rules):
    event = json.loads(path.read_text())
    function = path.name.split("__", 1)[0]

    person = assumed_role(f"arn:aws:iam::{ACCOUNT}:role/NetworkAdmin")
    # Another stack's peerkeeper (another region, another account) is "a person" here too.
    elsewhere = assumed_role(role_arn("RepairRoutesRole").replace("peerkeeper-", "peerkeeper-eu-"))
    for identity in (person, elsewhere, *IDENTITIES_WITHOUT_ISSUER.values()):
        assert [rule.function for rule in rules_matching(by(event, identity), rules)] == [function], identity


def test_anything_but_alone_would_miss_events_without_a_session_issuer(rules):
    """Why the $or: EventBridge's anything-but matches only events that have the field."""
    event = json.loads((ROOT / "events" / "repair_routes__DeleteRoute.json").read_text())
    only = {"detail": {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": [{"anything-but": ["x"]}]}}}}}
    matcher: Any = EventPattern.load(json.dumps(only))
    assert matcher.matches_event(event)
    assert not matcher.matches_event(by(event, IDENTITIES_WITHOUT_ISSUER["root"]))


# ------------------------------------------------------------------------------------ Route 53 forwarding
def forwarding(template: dict[str, Any], region: str, regions: str) -> Stack:
    return Stack(template, region, DnsEventRegions=regions)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
@pytest.mark.parametrize("regions", ["", "eu-west-1"])
def test_the_forwarding_rule_exists_in_the_us_east_1_stack_only(template, region, regions):
    stack = forwarding(template, region, regions)
    expected = region == "us-east-1" and regions != ""
    assert stack.exists("Route53EventForwardRule") is expected
    assert stack.exists("Route53EventForwardRole") is expected
    assert stack.exists("SyncDnsRoute53Rule")  # every region listens (first-hand or forwarded)


def test_route53_events_go_to_each_listed_regions_default_bus(template):
    regions = ["eu-west-1", "ap-southeast-2", "us-west-2"]
    stack = forwarding(template, "us-east-1", ",".join(regions))
    rule = stack.resource("Route53EventForwardRule")["Properties"]
    role = stack.resource("Route53EventForwardRole")["Properties"]
    buses = [f"arn:aws:events:{region}:{ACCOUNT}:event-bus/default" for region in regions]

    assert [target["Arn"] for target in rule["Targets"]] == buses
    assert {target["RoleArn"] for target in rule["Targets"]} == {"<Route53EventForwardRole.Arn>"}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    for bus in buses:
        assert allowed(statements, "events:PutEvents", bus)
    assert not allowed(statements, "events:PutEvents", f"arn:aws:events:sa-east-1:{ACCOUNT}:event-bus/default")
    assert not allowed(statements, "events:PutEvents", buses[0].replace("default", "other"))
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{rule['Name']}"
    context = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": rule_arn}
    assert allowed([trust | {"Resource": "*"}], "sts:AssumeRole", "*", **context)
    assert not allowed(
        [trust | {"Resource": "*"}], "sts:AssumeRole", "*", **{**context, "aws:SourceArn": rule_arn + "x"}
    )
    assert len(rule["Name"]) <= 64


def test_five_regions_fill_every_slot(template):
    regions = ["eu-west-1", "eu-central-1", "ap-southeast-2", "us-west-2", "sa-east-1"]
    rule = forwarding(template, "us-east-1", ",".join(regions)).resource("Route53EventForwardRule")["Properties"]
    assert [target["Arn"].split(":")[3] for target in rule["Targets"]] == regions
    assert len({target["Id"] for target in rule["Targets"]}) == 5


def test_a_forwarded_route53_event_reaches_sync_dns_in_the_receiving_region(template, rules):
    """Forwarded events keep their content (source aws.route53, region us-east-1)."""
    event = json.loads((ROOT / "events" / "sync_dns__ChangeResourceRecordSets.json").read_text())
    forward_pattern = Stack(template).value(
        template["Resources"]["Route53EventForwardRule"]["Properties"]["EventPattern"]
    )
    matcher: Any = EventPattern.load(json.dumps(forward_pattern))

    assert matcher.matches_event(event)  # forwarded from us-east-1
    assert [rule.function for rule in rules_matching(event, rules)] == ["sync_dns"]  # received elsewhere
    assert not matcher.matches_event(by(event, assumed_role(role_arn("SyncDnsRole"))))  # not our own writes


# ------------------------------------------------------------------------------------ parameters
FREE_TEXT = [
    name
    for name, spec in load_template(TEMPLATE)["Parameters"].items()
    if spec["Type"] == "String" and "AllowedValues" not in spec
]
HOSTILE = ["*", " ", "a b", ",", "arn:aws:*", "*.elb.lab.private=api-elb", "vpc-*", "10.0.0.0/8,*", "\n"]
GOOD = {
    "AllowedPeerAccounts": ["111122223333", "111122223333,444455556666", "organization"],
    "Concerns": ["accept_peering", "enable_flow_logs,sync_dns", "accept_peering,repair_routes"],
    "OrganizationRoleArn": [
        "arn:aws:iam::111122223333:role/peerkeeper-organization-reader",
        "arn:aws:iam::111122223333:role/ops/reader",
    ],
    "FlowLogDestination": ["arn:aws:s3:::org-flow-logs", "arn:aws:s3:::org.flow-logs/vpc/eu", "arn:aws-cn:s3:::b12/x/"],
    "AllowedPeerVpcs": ["vpc-0a1b2c3d4e5f60001", "vpc-0a1b2c3d,vpc-0a1b2c3d4e5f60002"],
    "AllowedPeerCidrs": ["10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,::/0", "10.20.0.0/16,2600:1f18::/56"],
    "DnsRecords": ["api.elb.lab.private=api-elb", "api.elb.lab.private=api-elb@eu-west-1,web.x.private=web-elb"],
    "DnsHostedZoneIds": ["Z1PA6795UKMFR9", "Z1PA6795UKMFR9,Z2EXAMPLE"],
    "DnsEventRegions": ["eu-west-1", "eu-west-1,ap-southeast-2,us-west-2,eu-central-1,sa-east-1"],
    "FlowLogGroupName": ["flow-logs-group", "/vpc/flow-logs"],
    "FlowLogRoleName": ["flow-log-role", "flow-log-role-eu-west-1"],
    "PlanRoleName": ["peerkeeper-plan", "peerkeeper_plan@org"],
    "PlanPrincipalArn": ["arn:aws:iam::111122223333:role/network-admin", "arn:aws:iam::111122223333:user/ops/alice"],
    "OperatorPrincipalArn": ["arn:aws:iam::111122223333:role/ci/peerkeeper-apply"],
    "OperatorRoleName": ["peerkeeper-operator"],
    "PlanRoleRegion": ["us-east-1", "eu-central-1"],
    "SweepSchedule": ["rate(15 minutes)", "rate(1 hour)", "rate(1 minute)"],
    "PrivateZoneName": ["elb.lab.private"],
    "PrivateZoneVpcId": ["vpc-0a1b2c3d4e5f60001"],
    "NotificationTopicArn": [
        "arn:aws:sns:us-east-1:111122223333:peerkeeper",
        "arn:aws-cn:sns:cn-north-1:111122223333:pk.fifo",
    ],
    "NotificationTopicKeyArn": [
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    ],
}
BAD = {
    "AllowedPeerAccounts": ["11112222333", "111122223333,", "organization,111122223333", "Organization"],
    "Concerns": ["", "flow_logs", "accept_peering,", "accept_peering,,sync_dns"],
    "OrganizationRoleArn": ["arn:aws:iam::111122223333:user/x", "arn:aws:iam::*:role/x", "peerkeeper-reader"],
    "FlowLogDestination": ["flow-logs-group", "arn:aws:s3:::Bucket", "arn:aws:logs:us-east-1:111122223333:log-group:x"],
    "AllowedPeerVpcs": ["vpc-XYZ", "subnet-0a1b2c3d"],
    "AllowedPeerCidrs": ["", "10.0.0.0", "0.0.0.0/0 "],
    "DnsRecords": ["api.elb.lab.private.=api-elb", "api.elb.lab.private", "api=elb@Mars"],
    "DnsHostedZoneIds": ["/hostedzone/Z1", "z1"],
    "DnsEventRegions": [
        "us-east-1",
        "eu-west-1,us-east-1",
        "a,b",
        "eu-west-1,eu-west-2,eu-west-3,eu-north-1,eu-south-1,eu-central-1",
    ],
    "FlowLogRoleName": ["role/x", ""],
    "PlanPrincipalArn": ["arn:aws:iam::111122223333:root", "111122223333", "arn:aws:iam::111122223333:role/*"],
    "OperatorPrincipalArn": ["arn:aws:iam::111122223333:root", "arn:aws:sts::111122223333:assumed-role/x/y"],
    "SweepSchedule": ["cron(0/15 * * * ? *)", "rate(1 minutes)", "rate(0 minutes)"],
    "NotificationTopicArn": ["arn:aws:sns:us-east-1:111122223333:*", "arn:aws:sqs:us-east-1:111122223333:q"],
    "NotificationTopicKeyArn": [
        "arn:aws:kms:us-east-1:111122223333:alias/x",
        "arn:aws:kms:us-east-1:111122223333:key/*",
    ],
}


def _accepts(template: dict[str, Any], name: str, value: str) -> bool:
    # CloudFormation matches the whole value (Java regex); the anchors in every pattern make that explicit.
    return re.fullmatch(template["Parameters"][name]["AllowedPattern"], value) is not None


def test_every_free_text_parameter_has_a_pattern(template):
    assert FREE_TEXT
    for name in FREE_TEXT:
        assert "AllowedPattern" in template["Parameters"][name], name
    assert set(GOOD) <= set(FREE_TEXT)


@pytest.mark.parametrize("name", FREE_TEXT)
def test_patterns_reject_wildcards_and_spaces(template, name):
    for value in HOSTILE:
        assert not _accepts(template, name, value), (name, value)


@pytest.mark.parametrize("name", FREE_TEXT)
def test_patterns_accept_the_default_and_real_values(template, name):
    spec = template["Parameters"][name]
    assert _accepts(template, name, str(spec.get("Default", ""))), name
    for value in GOOD.get(name, []):
        assert _accepts(template, name, value), (name, value)
    for value in BAD.get(name, []):
        assert not _accepts(template, name, value), (name, value)


def test_settings_accept_what_the_template_passes(template):
    """Every GOOD value of a parameter wired to a contract variable passes the settings too."""
    variables = {
        "AllowedPeerAccounts": "ALLOWED_PEER_ACCOUNTS",
        "AllowedPeerVpcs": "ALLOWED_PEER_VPCS",
        "FlowLogGroupName": "FLOW_LOG_GROUP",
        "Concerns": "CONCERNS",
        "FlowLogDestination": "FLOW_LOG_DESTINATION",
        "OrganizationRoleArn": "ORGANIZATION_ROLE_ARN",
        "SweepSchedule": "PEERKEEPER_SWEEP_SCHEDULE",
        "NotificationTopicArn": "PEERKEEPER_NOTIFY_TOPIC_ARN",
    }
    for name, variable in variables.items():
        for value in GOOD[name]:
            Settings.from_env({"AWS_REGION": "us-east-1", variable: value})


# ------------------------------------------------------------------------------------ the IAM table
def _sids(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["Sid"]} if isinstance(node.get("Sid"), str) and "Effect" in node else set()
        return found.union(*(_sids(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_sids(item) for item in node))
    return set()


def test_every_iam_statement_has_its_row_in_docs_security(template):
    """docs/security.md justifies every statement: a new one needs its row."""
    table = (ROOT / "docs" / "security.md").read_text()
    sids = _sids(template["Resources"])
    assert len(sids) > 20
    for sid in sorted(sids):
        assert f"`{sid}`" in table, sid
