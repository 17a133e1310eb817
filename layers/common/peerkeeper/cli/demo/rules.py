"""The template's own EventBridge rules, for routing sample events in the demo and the tests.

Reads `template.yaml` (SAM `EventBridgeRule` / `Schedule` function events and explicit
`AWS::Events::Rule` resources) and matches events with moto's implementation of EventBridge
patterns. PyYAML and moto are imported inside the functions: the Lambda runtime ships neither,
and nothing on the Lambda path imports this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

# What a schedule delivers; the sweep's Schedule event stands for this pattern.
SCHEDULED_EVENT_PATTERN: dict[str, Any] = {"source": ["aws.events"], "detail-type": ["Scheduled Event"]}

_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


@dataclass(frozen=True)
class Rule:
    """One EventBridge rule of the template and the function folder it invokes."""

    name: str
    function: str
    pattern: dict[str, Any] = field(hash=False)


def load_template(template_path: str | Path = "template.yaml") -> dict[str, Any]:
    """The template as plain data; short tags become their long form (`!Ref X` -> `{"Ref": "X"}`)."""
    import yaml  # noqa: PLC0415  (not in the Lambda runtime)

    # A SafeLoader that reads CloudFormation short tags instead of rejecting them.
    loader_class: Any = type("_CloudFormationLoader", (yaml.SafeLoader,), {})

    def _intrinsic(loader: Any, tag_suffix: str, node: Any) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag_suffix == "Ref":
            return {"Ref": value}
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{tag_suffix}": value}

    loader_class.add_multi_constructor("!", _intrinsic)
    with Path(template_path).open(encoding="utf-8") as stream:
        loaded = yaml.load(stream, Loader=loader_class)  # noqa: S506  (a SafeLoader subclass)
    if not isinstance(loaded, dict):
        msg = f"{template_path} is not a template"
        raise TypeError(msg)
    return loaded


def load_rules(template_path: str | Path = "template.yaml") -> list[Rule]:
    """Every rule of the template: function events first, then explicit `AWS::Events::Rule`s."""
    return template_rules(load_template(template_path))


def template_rules(template: Mapping[str, Any]) -> list[Rule]:
    """:func:`load_rules` of a template already read."""
    resources: dict[str, Any] = template.get("Resources", {})
    folders = {
        logical_id: _function_folder(resource)
        for logical_id, resource in resources.items()
        if resource.get("Type") in _FUNCTION_TYPES
    }
    rules: list[Rule] = []
    for logical_id, folder in folders.items():
        events = resources[logical_id].get("Properties", {}).get("Events", {}) or {}
        for event_id, event in events.items():
            pattern = _event_pattern(event)
            if pattern is not None:
                # SAM names the generated rule <function logical id><event id>.
                rules.append(Rule(name=f"{logical_id}{event_id}", function=folder, pattern=pattern))
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        properties = resource.get("Properties", {})
        pattern = properties.get("EventPattern")
        if properties.get("ScheduleExpression") is not None:
            pattern = SCHEDULED_EVENT_PATTERN
        for target in properties.get("Targets", []):
            target_id = _referenced_resource(target.get("Arn"))
            if isinstance(pattern, dict) and target_id in folders:
                rules.append(Rule(name=logical_id, function=folders[target_id], pattern=pattern))
    return rules


def rules_matching(event: dict[str, Any], rules: list[Rule]) -> list[Rule]:
    """The rules whose pattern matches `event`, by moto's EventBridge pattern matcher."""
    from moto.events.models import EventPattern  # noqa: PLC0415  (test and demo dependency only)

    matching: list[Rule] = []
    for rule in rules:
        # moto types the event as its own TypedDict; a delivered event is a plain dict.
        matcher: Any = EventPattern.load(json.dumps(rule.pattern))
        if matcher.matches_event(event):
            matching.append(rule)
    return matching


FORWARD_RULE = "Route53EventForwardRule"  # us-east-1: Route 53 events to the other regions' buses


@dataclass(frozen=True)
class Stack:
    """One deployment of the template in a region, its rules resolved as CloudFormation would.

    Each rule's self-filter lists the ARNs of this stack's own function roles (``!GetAtt
    <Role>.Arn``), so a call made by this stack's functions reaches none of its rules, while a call
    made by another stack (another region's roles are other roles) is like anyone's.
    """

    region: str
    rules: list[Rule]
    roles: dict[str, str]  # function folder -> the ARN of the role it runs as
    forward: Rule | None = None  # Route53EventForwardRule, when this stack forwards Route 53 events
    forwards_to: tuple[str, ...] = ()  # DnsEventRegions

    def forwarding(self, regions: tuple[str, ...]) -> Stack:
        """The same stack with ``DnsEventRegions`` set (a parameter update)."""
        return replace(self, forwards_to=regions)


def role_arn(account: str, region: str, logical_id: str, stack_name: str = "peerkeeper") -> str:
    """A role name as CloudFormation makes it: ``<stack>-<logical id>-<suffix>``, unique per stack."""
    suffix = hashlib.sha256(f"{region}/{stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
    return f"arn:aws:iam::{account}:role/{stack_name}-{logical_id}-{suffix}"


def deploy(template: Mapping[str, Any], region: str, account: str) -> Stack:
    """The stack ``template`` makes in ``region`` of ``account``: its rules, roles and forward rule."""
    resources: dict[str, Any] = template.get("Resources", {})
    role_ids = [logical_id for logical_id, r in resources.items() if r.get("Type") == "AWS::IAM::Role"]
    arns = {logical_id: role_arn(account, region, logical_id) for logical_id in role_ids}

    def resolved(rule: Rule) -> Rule:
        text = json.dumps(rule.pattern)
        for logical_id, arn in arns.items():
            text = text.replace(json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}), json.dumps(arn))
        return Rule(rule.name, rule.function, json.loads(text))

    roles = {
        _function_folder(resource): arns[str(role)]
        for resource in resources.values()
        if resource.get("Type") in _FUNCTION_TYPES
        and (role := _referenced_resource(resource.get("Properties", {}).get("Role"))) in arns
    }
    forward = resources.get(FORWARD_RULE, {}).get("Properties", {}).get("EventPattern")
    return Stack(
        region=region,
        rules=[resolved(rule) for rule in template_rules(template)],
        roles=roles,
        forward=resolved(Rule(FORWARD_RULE, "", forward)) if isinstance(forward, dict) else None,
    )


def _function_folder(resource: dict[str, Any]) -> str:
    code_uri = resource.get("Properties", {}).get("CodeUri", "")
    return PurePosixPath(code_uri).name if isinstance(code_uri, str) else ""


def _event_pattern(event: dict[str, Any]) -> dict[str, Any] | None:
    kind = event.get("Type")
    if kind == "EventBridgeRule":
        pattern = event.get("Properties", {}).get("Pattern")
        return pattern if isinstance(pattern, dict) else None
    if kind == "Schedule":
        return SCHEDULED_EVENT_PATTERN
    return None


def _referenced_resource(value: Any) -> str | None:
    """`X` from `{"Fn::GetAtt": ["X", "Arn"]}` or `{"Ref": "X"}`."""
    if not isinstance(value, dict):
        return None
    if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
        return str(value["Fn::GetAtt"][0])
    if "Ref" in value:
        return str(value["Ref"])
    return None
