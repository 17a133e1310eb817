"""The SAM template holds the contract: routing, failure handling, least privilege, configuration.

Runs on the template source (no SAM CLI): the rules, policies and parameters checked here are the
ones written in template.yaml.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from peerkeeper.cli.demo.rules import Rule, load_rules, load_template, rules_matching

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = sorted((ROOT / "events").glob("*.json"))
# Not CloudTrail: the schedule, and the Tag Change on Resource events of the intent function.
API_CALL_EVENTS = [path for path in EVENTS if not path.name.startswith(("sweep__", "intent__"))]

FUNCTIONS = {
    "AcceptPeeringFunction": "accept_peering",
    "RepairRoutesFunction": "repair_routes",
    "SyncDnsFunction": "sync_dns",
    "EnableFlowLogsFunction": "enable_flow_logs",
    "SweepFunction": "sweep",
    "IntentFunction": "intent",  # optional (IntentParameterName set)
}

ACCEPT_PEERING = {
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:DescribeRouteTables",
    "ec2:GetManagedPrefixListEntries",  # accept_peering routes what it accepted: prefix lists guard tables
    "ec2:AcceptVpcPeeringConnection",
    "ec2:RejectVpcPeeringConnection",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
}
REPAIR_ROUTES = {
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:DescribeRouteTables",
    "ec2:GetManagedPrefixListEntries",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
}
SYNC_DNS = {
    "elasticloadbalancing:DescribeLoadBalancers",
    "route53:ListHostedZonesByName",
    "route53:GetHostedZone",
    "route53:ListResourceRecordSets",
    "route53:ChangeResourceRecordSets",
    "ec2:DescribeVpcs",
}
ENABLE_FLOW_LOGS = {"ec2:DescribeVpcs", "ec2:DescribeFlowLogs", "ec2:CreateFlowLogs", "iam:PassRole"}
INTENT = {
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:DescribeRouteTables",
    "ssm:GetParameter",
    "ec2:CreateVpcPeeringConnection",
    "ec2:CreateTags",
    "ec2:AcceptVpcPeeringConnection",
    "ec2:ModifyVpcPeeringConnectionOptions",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "sts:AssumeRole",  # IntentAccounts set
    "organizations:ListAccounts",  # IntentAccounts=org
}
EXPECTED_ACTIONS = {
    "AcceptPeeringFunction": ACCEPT_PEERING,
    "RepairRoutesFunction": REPAIR_ROUTES,
    "SyncDnsFunction": SYNC_DNS,
    "EnableFlowLogsFunction": ENABLE_FLOW_LOGS,
    "SweepFunction": ACCEPT_PEERING | REPAIR_ROUTES | SYNC_DNS | ENABLE_FLOW_LOGS,
    "IntentFunction": INTENT,
}
# Granted besides a function's own calls: running (tracing, its own log group, its on-failure
# destination) and notifications (only when a topic, and its key, are configured).
RUNTIME_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "sqs:SendMessage"}
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
NOTIFY_ACTIONS = {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt", "dynamodb:GetItem", "dynamodb:UpdateItem"}
# And Security Hub findings (only when SecurityHub=true).
SECURITY_HUB_ACTIONS = {"securityhub:BatchImportFindings", "securityhub:GetFindings"}

MUTATING_EC2 = {
    "ec2:AcceptVpcPeeringConnection",
    "ec2:RejectVpcPeeringConnection",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "ec2:CreateFlowLogs",
}

CONTRACT_VARIABLES = {
    "PEERKEEPER_MODE": "Mode",
    "ALLOWED_PEER_ACCOUNTS": "AllowedPeerAccounts",
    "ALLOWED_PEER_VPCS": "AllowedPeerVpcs",
    "ALLOWED_PEER_CIDRS": "AllowedPeerCidrs",
    "ROUTE_OVER_AGGREGATES": "RouteOverAggregates",
    "REJECT_UNLISTED": "RejectUnlisted",
    "DNS_RECORDS": "DnsRecords",
    "DNS_TTL": "DnsTtl",
    "FLOW_LOG_GROUP": "FlowLogGroupName",
    "FLOW_LOG_ROLE_ARN": "FlowLogRoleName",
    "FLOW_LOG_TRAFFIC_TYPE": "FlowLogTrafficType",
    "PEERKEEPER_RETRY_MODE": "RetryMode",
    "PEERKEEPER_SWEEP_SCHEDULE": "SweepSchedule",
    "POWERTOOLS_LOG_LEVEL": "LogLevel",
    "SECURITY_HUB": "SecurityHub",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return load_rules(TEMPLATE)


def _load_event(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _references(value: Any) -> set[str]:
    """Every resource named by a Ref or GetAtt anywhere inside `value`."""
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        if isinstance(value.get("Fn::GetAtt"), list):
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _unwrap(items: Any) -> list[dict[str, Any]]:
    """Statements (or targets) of a list that may hold `!If [condition, item, AWS::NoValue]` entries."""
    found: list[dict[str, Any]] = []
    for item in _as_list(items):
        if isinstance(item, dict) and "Fn::If" in item:
            found += [branch for branch in _unwrap(item["Fn::If"][1:]) if branch != {"Ref": "AWS::NoValue"}]
        elif isinstance(item, dict):
            found.append(item)
    return found


def _document_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return _unwrap(document["Statement"])


def _role_statements(role: dict[str, Any], resources: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements of a role: its inline policies and the template's managed policies it attaches."""
    properties = role["Properties"]
    statements = [
        s for policy in properties.get("Policies", []) for s in _document_statements(policy["PolicyDocument"])
    ]
    for referenced in _references(properties.get("ManagedPolicyArns", [])):
        resource = resources.get(referenced, {})
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            statements += _document_statements(resource["Properties"]["PolicyDocument"])
    return statements


def _policy_statements(function_id: str, resources: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements of a function's execution role (every function has its own, see test_security)."""
    (role_id,) = _references(resources[function_id]["Properties"]["Role"])
    return _role_statements(resources[role_id], resources)


def _all_statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            statements += _document_statements(properties["PolicyDocument"])
        for policy in properties.get("Policies", []) if resource.get("Type") == "AWS::IAM::Role" else []:
            statements += _document_statements(policy["PolicyDocument"])
    return statements


def _allowed(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [statement for statement in statements if statement["Effect"] == "Allow"]


# ------------------------------------------------------------------------------------------ routing


def test_every_function_has_sample_events() -> None:
    prefixes = {path.name.split("__", 1)[0] for path in EVENTS}
    assert prefixes == set(FUNCTIONS.values())


@pytest.mark.parametrize("path", API_CALL_EVENTS, ids=lambda path: path.stem)
def test_event_matches_exactly_the_rule_of_its_function(path: Path, rules: list[Rule]) -> None:
    function = path.name.split("__", 1)[0]
    matched = rules_matching(_load_event(path), rules)
    assert [rule.function for rule in matched] == [function], [rule.name for rule in matched]


@pytest.mark.parametrize("path", API_CALL_EVENTS, ids=lambda path: path.stem)
def test_event_of_a_failed_call_matches_no_rule(path: Path, rules: list[Rule]) -> None:
    failed = copy.deepcopy(_load_event(path))
    failed["detail"]["errorCode"] = "Client.UnauthorizedOperation"
    failed["detail"]["responseElements"] = None
    assert rules_matching(failed, rules) == []


def test_scheduled_event_reaches_only_the_sweep(rules: list[Rule]) -> None:
    """And the optional intent function, which runs on the sweep's schedule (when deployed)."""
    matched = rules_matching(_load_event(ROOT / "events" / "sweep__Scheduled.json"), rules)
    assert [rule.function for rule in matched] == ["sweep", "intent"]


def test_a_vpc_tag_change_reaches_only_the_intent_function(rules: list[Rule]) -> None:
    matched = rules_matching(_load_event(ROOT / "events" / "intent__TagChangeOnResource.json"), rules)
    assert [rule.function for rule in matched] == ["intent"]


def test_each_function_has_its_rules(rules: list[Rule]) -> None:
    assert {rule.function for rule in rules} == set(FUNCTIONS.values())


def test_route53_rule_exists_in_every_region(resources: dict[str, Any]) -> None:
    """First-hand in us-east-1, forwarded from there elsewhere (test_security checks the forwarding)."""
    rule = resources["SyncDnsRoute53Rule"]
    assert rule["Type"] == "AWS::Events::Rule"
    assert "Condition" not in rule
    permission = resources["SyncDnsRoute53Permission"]
    assert "Condition" not in permission
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": ["SyncDnsRoute53Rule", "Arn"]}


# ------------------------------------------------------------------------------------------ failure handling


def _rule_targets(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Rule name -> the properties that carry RetryPolicy and DeadLetterConfig."""
    targets: dict[str, dict[str, Any]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            for event_id, event in (resource["Properties"].get("Events") or {}).items():
                targets[f"{logical_id}{event_id}"] = event["Properties"]
        elif resource["Type"] == "AWS::Events::Rule":
            for target in _unwrap(resource["Properties"]["Targets"]):
                targets[f"{logical_id}/{target['Id']}"] = target
    return targets


def test_every_rule_target_retries_then_dead_letters(resources: dict[str, Any]) -> None:
    targets = _rule_targets(resources)
    assert len(targets) == 13  # eight rules to functions (two of the optional intent function), five forwarding slots
    for name, target in targets.items():
        assert target.get("RetryPolicy") == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}, name
        assert target.get("DeadLetterConfig") == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}, name


def test_dead_letter_queue_is_encrypted_and_accepts_only_our_rules(resources: dict[str, Any]) -> None:
    assert resources["DeadLetterQueue"]["Properties"].get("SqsManagedSseEnabled") is True
    allow, _tls_only = resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    source_arns = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
    named = set().union(*(_references(arn) for arn in source_arns)) - {"ForwardsRoute53Events", "AWS::NoValue"}
    assert named == {name.split("/")[0] for name in _rule_targets(resources)}


def test_failed_invocations_go_to_the_queue(template: dict[str, Any]) -> None:
    config = template["Globals"]["Function"]["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
    }


def test_one_sweep_at_a_time(resources: dict[str, Any]) -> None:
    assert resources["SweepFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1
    assert resources["SweepFunction"]["Properties"]["Timeout"] == 900


def test_alarms_on_every_function_and_the_queue(resources: dict[str, Any]) -> None:
    alarmed = {
        dimension["Value"]["Ref"] if "Ref" in dimension["Value"] else dimension["Value"]["Fn::GetAtt"][0]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        for dimension in resource["Properties"]["Dimensions"]
    }
    assert alarmed == set(FUNCTIONS) | {"DeadLetterQueue"}


# ------------------------------------------------------------------------------------------ least privilege


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_function_may_call_exactly_its_api_calls(function_id: str, resources: dict[str, Any]) -> None:
    statements = _allowed(_policy_statements(function_id, resources))
    actions = {action for statement in statements for action in _as_list(statement["Action"])}
    granted = NOTIFY_ACTIONS | SECURITY_HUB_ACTIONS | RUNTIME_ACTIONS | LOG_ACTIONS
    assert actions - granted == EXPECTED_ACTIONS[function_id]
    assert actions >= RUNTIME_ACTIONS | LOG_ACTIONS


def test_no_wildcard_actions(resources: dict[str, Any]) -> None:
    for statement in _all_statements(resources):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, statement


def test_mutating_ec2_calls_are_resource_scoped(resources: dict[str, Any]) -> None:
    for statement in _allowed(_all_statements(resources)):
        if MUTATING_EC2 & set(_as_list(statement["Action"])):
            assert "*" not in _as_list(statement["Resource"]), statement


def test_route_changes_are_limited_to_route_tables_of_this_account(resources: dict[str, Any]) -> None:
    for statement in _allowed(_all_statements(resources)):
        if "ec2:CreateRoute" in _as_list(statement["Action"]):
            # CreateRoute/ReplaceRoute authorise on the route table only: nothing else is named.
            assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:route-table/*"}


def test_accepting_a_peering_is_conditioned_on_an_allowlisted_requester_account(resources: dict[str, Any]) -> None:
    accepts = [
        s
        for s in _allowed(_all_statements(resources))
        if "ec2:AcceptVpcPeeringConnection" in _as_list(s["Action"]) and "vpc-peering-connection" in json.dumps(s)
    ]
    assert accepts
    for statement in accepts:
        requester = statement["Condition"]["ArnLike"]["ec2:RequesterVpc"]
        text = json.dumps(requester)
        assert "Fn::Split" in text
        assert "AllowedPeerAccounts" in text
        assert "AWS::AccountId" in text  # the default: the deploying account
        assert "ec2:RejectVpcPeeringConnection" not in _as_list(statement["Action"])


def test_requester_arn_list_expands_to_one_arn_per_account(template: dict[str, Any]) -> None:
    """Evaluate the Join/Split/Sub trick the way CloudFormation does, for two accounts."""
    statement = next(
        s
        for s in _all_statements(template["Resources"])
        if "ec2:AcceptVpcPeeringConnection" in _as_list(s["Action"]) and "Condition" in s
    )
    split = statement["Condition"]["ArnLike"]["ec2:RequesterVpc"]["Fn::Split"]
    pattern, variables = split[1]["Fn::Sub"]
    delimiter = variables["Accounts"]["Fn::Join"][0]
    accounts = ["111122223333", "444455556666"]
    arns = pattern.replace("${Accounts}", delimiter.join(accounts)).split(split[0])
    assert arns == ["arn:*:ec2:*:111122223333:vpc/*", "arn:*:ec2:*:444455556666:vpc/*"]


def test_pass_role_only_the_flow_log_role_to_flow_logs(resources: dict[str, Any]) -> None:
    (statement,) = [s for s in _allowed(_all_statements(resources)) if "iam:PassRole" in _as_list(s["Action"])]
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${FlowLogRoleName}"}
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}}


def test_flow_log_role_trusts_only_flow_logs_of_this_account(resources: dict[str, Any]) -> None:
    properties = resources["FlowLogRole"]["Properties"]
    assert properties["RoleName"] == {"Ref": "FlowLogRoleName"}
    (trust,) = properties["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:vpc-flow-log/*"}},
    }
    actions = {
        action
        for policy in properties["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in _as_list(statement["Action"])
    }
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:DescribeLogGroups"}


# ------------------------------------------------------------------------------------------ globals and configuration


def test_globals(template: dict[str, Any]) -> None:
    function = template["Globals"]["Function"]
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Tracing"] == "Active"
    assert function["Layers"] == [{"Ref": "CommonLayer"}]
    assert function["Handler"] == "app.lambda_handler"


def test_layer_builds_for_the_runtime(resources: dict[str, Any]) -> None:
    layer = resources["CommonLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/common"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


@pytest.mark.parametrize(("function_id", "folder"), sorted(FUNCTIONS.items()))
def test_function_code_folders(function_id: str, folder: str, resources: dict[str, Any]) -> None:
    assert resources[function_id]["Properties"]["CodeUri"].rstrip("/") == f"functions/{folder}"


@pytest.mark.parametrize(("variable", "parameter"), sorted(CONTRACT_VARIABLES.items()))
def test_contract_variable_comes_from_its_parameter(variable: str, parameter: str, template: dict[str, Any]) -> None:
    assert parameter in template["Parameters"]
    value = template["Globals"]["Function"]["Environment"]["Variables"][variable]
    # Directly (!Ref), or through a condition / !Sub naming the parameter.
    assert parameter in _references(value) or parameter in json.dumps(value)


def test_allowed_peer_accounts_defaults_to_the_deploying_account(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AllowedPeerAccounts"]["Default"] == ""
    value = template["Globals"]["Function"]["Environment"]["Variables"]["ALLOWED_PEER_ACCOUNTS"]
    condition, when_empty, otherwise = value["Fn::If"]
    assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "AllowedPeerAccounts"}, ""]}
    assert when_empty == {"Ref": "AWS::AccountId"}
    assert otherwise == {"Ref": "AllowedPeerAccounts"}


def test_contract_defaults(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["Mode"]["Default"] == "enforce"
    assert parameters["RejectUnlisted"]["Default"] == "false"
    assert parameters["DnsRecords"]["Default"] == ""
    assert parameters["DnsTtl"]["Default"] == 300
    assert parameters["FlowLogGroupName"]["Default"] == "flow-logs-group"
    assert parameters["FlowLogRoleName"]["Default"] == "flow-log-role"
    assert parameters["FlowLogTrafficType"]["Default"] == "ALL"
    assert parameters["FlowLogTrafficType"]["AllowedValues"] == ["ALL", "ACCEPT", "REJECT"]


def test_checkov_skips_carry_a_reason(resources: dict[str, Any]) -> None:
    for logical_id, resource in resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, (logical_id, skip["id"])


# ------------------------------------------------------------------------------------------ Security Hub


def _condition(expression: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> Any:
    """Evaluate a condition (or a value inside one) the way CloudFormation does, for the intrinsics used here."""
    if isinstance(expression, dict):
        if "Ref" in expression:
            return parameters[expression["Ref"]]
        if "Condition" in expression:
            return _condition(conditions[expression["Condition"]], parameters, conditions)
        if "Fn::Equals" in expression:
            left, right = (_condition(item, parameters, conditions) for item in expression["Fn::Equals"])
            return str(left) == str(right)
        if "Fn::Not" in expression:
            return not _condition(expression["Fn::Not"][0], parameters, conditions)
        if "Fn::And" in expression:
            return all(_condition(item, parameters, conditions) for item in expression["Fn::And"])
        if "Fn::Or" in expression:
            return any(_condition(item, parameters, conditions) for item in expression["Fn::Or"])
    return expression


def _deployed_policies(template: dict[str, Any], function_id: str, **overrides: str) -> set[str]:
    """The policies a function gets once its !If are resolved with these parameter values."""
    parameters = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    parameters.update(overrides, **{"AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"})
    conditions = template["Conditions"]
    attached: set[str] = set()
    (role_id,) = _references(template["Resources"][function_id]["Properties"]["Role"])
    for listed in template["Resources"][role_id]["Properties"]["ManagedPolicyArns"]:
        policy = listed
        if isinstance(listed, dict) and "Fn::If" in listed:
            name, when_true, when_false = listed["Fn::If"]
            policy = when_true if _condition(conditions[name], parameters, conditions) else when_false
        if policy != {"Ref": "AWS::NoValue"}:
            attached |= _references(policy)
    resources = template["Resources"]
    return {
        name
        for name in attached
        if "Condition" not in resources[name]
        or _condition(conditions[resources[name]["Condition"]], parameters, conditions)
    }


def test_security_hub_is_off_by_default_and_a_validated_boolean(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["SecurityHub"]
    assert parameter["Default"] == "false"
    assert sorted(parameter["AllowedValues"]) == ["false", "true"]
    assert template["Globals"]["Function"]["Environment"]["Variables"]["SECURITY_HUB"] == {"Ref": "SecurityHub"}


@pytest.mark.parametrize("function_id", sorted(set(FUNCTIONS) - {"IntentFunction"}))  # intent: its summary only
def test_security_hub_permissions_exist_only_when_it_is_enabled(function_id: str, template: dict[str, Any]) -> None:
    assert "SecurityHubPolicy" not in _deployed_policies(template, function_id)
    assert "SecurityHubPolicy" not in _deployed_policies(template, function_id, SecurityHub="false")
    assert "SecurityHubPolicy" in _deployed_policies(template, function_id, SecurityHub="true")


def test_security_hub_policy_imports_only_own_findings_and_reads_only_this_hub(resources: dict[str, Any]) -> None:
    policy = resources["SecurityHubPolicy"]
    assert policy["Condition"] == "UseSecurityHub"
    statements = {s["Sid"]: s for s in _as_list(policy["Properties"]["PolicyDocument"]["Statement"])}
    assert set(statements) == {"ImportOwnFindings", "ReadOwnFindings"}
    imports, reads = statements["ImportOwnFindings"], statements["ReadOwnFindings"]
    assert imports["Action"] == ["securityhub:BatchImportFindings"]
    arn = "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}"
    assert imports["Resource"] == {"Fn::Sub": f"{arn}:product/${{AWS::AccountId}}/default"}
    assert imports["Condition"] == {"StringEquals": {"securityhub:TargetAccount": {"Ref": "AWS::AccountId"}}}
    assert reads["Action"] == ["securityhub:GetFindings"]
    assert reads["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default"
    }
    granted = {a for s in _all_statements(resources) for a in _as_list(s["Action"]) if a.startswith("securityhub:")}
    assert granted == SECURITY_HUB_ACTIONS
