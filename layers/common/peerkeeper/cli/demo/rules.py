"""The template's own EventBridge rules, for routing sample events in the demo and the tests.

Reads `template.yaml` (SAM `EventBridgeRule` / `Schedule` function events and explicit
`AWS::Events::Rule` resources) and matches events with moto's implementation of EventBridge
patterns. PyYAML and moto are imported inside the functions: the Lambda runtime ships neither,
and nothing on the Lambda path imports this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    resources: dict[str, Any] = load_template(template_path).get("Resources", {})
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
