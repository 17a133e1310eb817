"""CloudTrail-via-EventBridge events -> a :class:`Scope`: the resources to look at, nothing more.

The event never says what the world looks like; handlers re-read it. This module only extracts ids,
tolerating the quirks listed in ``shared/reference/cloudtrail-shapes.md``: ``null`` bodies, ``{}``
or ``""`` for empty collections, ``{"items": [...]}`` lists, odd casing, wrapped newer-style EC2
requests. Anything unknown or malformed yields an empty scope with a reason, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

_ID_PATTERNS = {
    "vpc": re.compile(r"^vpc-[0-9a-f]{8,17}$"),
    "pcx": re.compile(r"^pcx-[0-9a-f]{8,17}$"),
    "rtb": re.compile(r"^rtb-[0-9a-f]{8,17}$"),
    "zone": re.compile(r"^Z[A-Z0-9]{1,32}$"),
}
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_LB_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
_LB_ARN_RE = re.compile(r":loadbalancer/(?:(?:app|net|gwy)/)?([A-Za-z0-9-]{1,32})(?:/[0-9a-f]+)?$")
_MAX_IDS = 100
# Global services: their events name us-east-1 (where AWS delivers them, or whence the us-east-1
# stack forwards them), but say nothing about where to look. Each function reconciles them for its
# own configuration and region.
_GLOBAL_SOURCES = frozenset({"route53.amazonaws.com"})


@dataclass(frozen=True)
class Scope:
    """Where to look. ``whole_region`` means reconcile everything in ``region``."""

    region: str
    account: str = ""
    event_name: str = ""
    vpc_ids: frozenset[str] = frozenset()
    peering_ids: frozenset[str] = frozenset()
    route_table_ids: frozenset[str] = frozenset()
    load_balancers: frozenset[str] = frozenset()
    zone_ids: frozenset[str] = frozenset()
    whole_region: bool = False
    peering_region: str = ""
    ignored_reason: str = ""

    @property
    def empty(self) -> bool:
        return not (
            self.whole_region
            or self.vpc_ids
            or self.peering_ids
            or self.route_table_ids
            or self.load_balancers
            or self.zone_ids
        )

    def to_dict(self) -> dict[str, Any]:
        fields = {
            "region": self.region,
            "event": self.event_name,
            "vpcs": sorted(self.vpc_ids),
            "peerings": sorted(self.peering_ids),
            "route_tables": sorted(self.route_table_ids),
            "load_balancers": sorted(self.load_balancers),
            "zones": sorted(self.zone_ids),
            "whole_region": self.whole_region,
            "ignored_reason": self.ignored_reason,
        }
        return {key: value for key, value in fields.items() if value}


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _strings(value: Any) -> Iterator[str]:
    """Yield the strings of a CloudTrail value: a string, a list, ``{"items": [...]}``, ``{"content": ...}``."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in ("items", "item", "content", "value"):
            if key in value:
                yield from _strings(value[key])
    elif isinstance(value, list):
        for item in value[:_MAX_IDS]:
            yield from _strings(item)


def _ids(kind: str, *values: Any) -> frozenset[str]:
    pattern = _ID_PATTERNS[kind]
    found = {text.strip() for value in values for text in _strings(value)}
    return frozenset(text for text in found if pattern.match(text))


def _zone_id(value: Any) -> frozenset[str]:
    return _ids("zone", *(text.strip().rsplit("/", 1)[-1] for text in _strings(value)))


def _load_balancer_names(request: Any) -> frozenset[str]:
    names = {text for key in ("name", "loadBalancerName") for text in _strings(_dig(request, key))}
    for arn in _strings(_dig(request, "loadBalancerArn")):
        match = _LB_ARN_RE.search(arn)
        if match:
            names.add(match.group(1))
    return frozenset(name for name in names if _LB_NAME_RE.match(name))


def _peering_scope(detail: Mapping[str, Any]) -> dict[str, Any]:
    request, response = detail.get("requestParameters"), detail.get("responseElements")
    connection = _dig(response, "vpcPeeringConnection")
    peer_region = _dig(request, "peerRegion")
    accepter_region = _dig(connection, "accepterVpcInfo", "region")
    region = next((r for r in (accepter_region, peer_region) if isinstance(r, str) and _REGION_RE.match(r)), "")
    return {
        "peering_ids": _ids("pcx", _dig(connection, "vpcPeeringConnectionId"), _dig(request, "vpcPeeringConnectionId")),
        "vpc_ids": _ids("vpc", _dig(request, "vpcId"), _dig(request, "peerVpcId")),
        "peering_region": region,
    }


def _route_table_scope(detail: Mapping[str, Any]) -> dict[str, Any]:
    request, response = detail.get("requestParameters"), detail.get("responseElements")
    return {
        "route_table_ids": _ids("rtb", _dig(request, "routeTableId"), _dig(response, "routeTable", "routeTableId")),
        "vpc_ids": _ids("vpc", _dig(request, "vpcId"), _dig(response, "routeTable", "vpcId")),
    }


def _vpc_scope(detail: Mapping[str, Any]) -> dict[str, Any]:
    request, response = detail.get("requestParameters"), detail.get("responseElements")
    return {
        "vpc_ids": _ids(
            "vpc",
            _dig(request, "vpcId"),
            _dig(response, "vpc", "vpcId"),
            _dig(response, "AssociateVpcCidrBlockResponse", "vpcId"),
            _dig(response, "vpcId"),
        )
    }


def _whole_region(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {"whole_region": True}


def _load_balancer_scope(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {"load_balancers": _load_balancer_names(detail.get("requestParameters"))}


def _zone_scope(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {"zone_ids": _zone_id(_dig(detail, "requestParameters", "hostedZoneId"))}


_PARSERS: dict[tuple[str, str], Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    ("ec2.amazonaws.com", "CreateVpcPeeringConnection"): _peering_scope,
    ("ec2.amazonaws.com", "AcceptVpcPeeringConnection"): _peering_scope,
    ("ec2.amazonaws.com", "CreateRouteTable"): _route_table_scope,
    ("ec2.amazonaws.com", "AssociateRouteTable"): _route_table_scope,
    ("ec2.amazonaws.com", "ReplaceRouteTableAssociation"): _route_table_scope,
    ("ec2.amazonaws.com", "CreateRoute"): _route_table_scope,
    ("ec2.amazonaws.com", "DeleteRoute"): _route_table_scope,
    ("ec2.amazonaws.com", "ReplaceRoute"): _route_table_scope,
    ("ec2.amazonaws.com", "AssociateVpcCidrBlock"): _vpc_scope,
    ("ec2.amazonaws.com", "CreateVpc"): _vpc_scope,
    ("ec2.amazonaws.com", "DeleteFlowLogs"): _whole_region,
    ("elasticloadbalancing.amazonaws.com", "CreateLoadBalancer"): _load_balancer_scope,
    ("elasticloadbalancing.amazonaws.com", "DeleteLoadBalancer"): _load_balancer_scope,
    ("route53.amazonaws.com", "ChangeResourceRecordSets"): _zone_scope,
    ("route53.amazonaws.com", "AssociateVPCWithHostedZone"): _zone_scope,
}


_EVENT_ID_RE = re.compile(r"^[\x21-\x7e]{1,128}$")


def delivery_id(event: Any, context: Any) -> str:
    """What stays the same across retries of one delivery, and changes with the next event.

    The EventBridge event ``id`` (kept when EventBridge retries the target), else the Lambda request
    id (kept when Lambda retries an asynchronous invocation), else "" (the caller makes a fresh one).
    """
    event_id = event.get("id") if isinstance(event, Mapping) else None
    if isinstance(event_id, str) and _EVENT_ID_RE.match(event_id):
        return f"event-{event_id}"
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(request_id, str) and _EVENT_ID_RE.match(request_id):
        return f"request-{request_id}"
    return ""


def _text(value: Any, pattern: re.Pattern[str]) -> str:
    return value if isinstance(value, str) and pattern.match(value) else ""


def scope_from_event(event: Any, default_region: str) -> Scope:
    """Map an EventBridge event to the scope it points at; unknown or failed calls give an empty scope."""
    if not isinstance(event, Mapping):
        return Scope(region=default_region, ignored_reason="event is not an object")
    region = _text(event.get("region"), _REGION_RE) or default_region
    account = _text(event.get("account"), _ACCOUNT_RE)
    if event.get("detail-type") == "Scheduled Event" or event.get("source") in ("aws.events", "aws.scheduler"):
        return Scope(region=region, account=account, event_name="Scheduled Event", whole_region=True)
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return Scope(region=region, account=account, ignored_reason="event has no detail")
    name = detail.get("eventName") if isinstance(detail.get("eventName"), str) else ""
    base = Scope(region=region, account=account, event_name=name or "")
    if detail.get("errorCode"):
        return replace(base, ignored_reason=f"the call failed ({detail.get('errorCode')})")
    recipient = detail.get("recipientAccountId")
    if isinstance(recipient, str) and _ACCOUNT_RE.match(recipient):
        base = replace(base, account=recipient)
    aws_region = detail.get("awsRegion")
    if isinstance(aws_region, str) and _REGION_RE.match(aws_region):
        base = replace(base, region=aws_region)
    if str(detail.get("eventSource")) in _GLOBAL_SOURCES:
        base = replace(base, region=default_region)
    parser = _PARSERS.get((str(detail.get("eventSource")), str(name)))
    if parser is None:
        return replace(base, ignored_reason="unknown event")
    scope = replace(base, **parser(detail))
    if scope.empty:
        return replace(scope, ignored_reason="event names no resource")
    return scope
