"""Every AWS call a path makes, judged as IAM would judge it against the policies of a template role.

moto answers every call whatever the caller may do; AWS answers ``UnauthorizedOperation`` /
``AccessDenied``. The tests that prove peerkeeper's roles sufficient record each call (a botocore
``before-parameter-build`` hook), turn it into the IAM requests AWS makes for it (action, resource ARN, the
condition keys the policies use: Service Authorization Reference), and ask the evaluator of
``tests/infrastructure/test_security.py`` (CloudFormation intrinsics, IAM condition operators)
whether the role's statements allow each one. The resources and tags are read from moto's world
(with a client of its own, not recorded) at the time of the call.

An operation not modelled in :func:`requests_for` is judged on ``Resource: "*"`` only, so a
resource-scoped statement never grants it by accident: add the operation here when it is new.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.infrastructure.test_security import Stack, allowed

IGNORE_TAG = "aws:ResourceTag/peerkeeper:ignore"
# Answered for every authenticated caller whatever its policies say (STS documentation).
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


@dataclass(frozen=True)
class Call:
    """One AWS call: the IAM action prefix (the signing name), the operation, where, and with what."""

    prefix: str
    operation: str
    region: str
    params: Mapping[str, Any]

    @property
    def action(self) -> str:
        return f"{self.prefix}:{self.operation}"


@dataclass(frozen=True)
class Request:
    """One authorisation AWS makes for a call (a call may need several: CreateFlowLogs needs PassRole)."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        keys = ", ".join(f"{key}={value}" for key, value in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" ({keys})" if keys else "")


@dataclass
class Recorder:
    """A ``before-parameter-build`` hook (it sees the API parameters): every call made while
    ``recording`` (the test's own setup is not)."""

    calls: list[Call] = field(default_factory=list)
    recording: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)  # bulk reads come from a thread pool

    def __call__(
        self, model: Any, params: Mapping[str, Any], context: Mapping[str, Any] | None = None, **_: Any
    ) -> None:
        if not self.recording:
            return
        service = model.service_model
        region = str((context or {}).get("client_region") or "")
        with self._lock:
            self.calls.append(Call(service.signing_name or service.endpoint_prefix, model.name, region, dict(params)))

    @property
    def actions(self) -> set[str]:
        return {call.action for call in self.calls}


class World:
    """What the resources of the calls look like (account, tags, peering sides), read from moto."""

    def __init__(self, account_id: str, ec2_in: Callable[[str], Any]) -> None:
        self.account_id = account_id
        self._ec2_in = ec2_in

    def tags(self, region: str, kind: str, resource_id: str) -> dict[str, str]:
        ec2 = self._ec2_in(region)
        if kind == "route-table":
            found = ec2.describe_route_tables(RouteTableIds=[resource_id])["RouteTables"]
        elif kind == "vpc":
            found = ec2.describe_vpcs(VpcIds=[resource_id])["Vpcs"]
        else:
            found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[resource_id])["VpcPeeringConnections"]
        tags = (found[0].get("Tags") or []) if found else []
        return {tag["Key"]: tag["Value"] for tag in tags}

    def peering(self, region: str, peering_id: str) -> dict[str, Any]:
        found = self._ec2_in(region).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
        return dict(found["VpcPeeringConnections"][0])


def _tag_context(tags: Mapping[str, str]) -> dict[str, str]:
    return {IGNORE_TAG: tags["peerkeeper:ignore"]} if "peerkeeper:ignore" in tags else {}


def _ec2_arn(region: str, account: str, kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:{kind}/{resource_id}"


def _peering_requests(call: Call, world: World) -> list[Request]:
    """Accept and reject authorise on the connection (the requester's) and, for accept, the accepter VPC."""
    peering_id = str(call.params["VpcPeeringConnectionId"])
    found = world.peering(call.region, peering_id)
    requester, accepter = found["RequesterVpcInfo"], found["AccepterVpcInfo"]
    requester_vpc = _ec2_arn(requester.get("Region") or call.region, requester["OwnerId"], "vpc", requester["VpcId"])
    accepter_vpc = _ec2_arn(accepter.get("Region") or call.region, accepter["OwnerId"], "vpc", accepter["VpcId"])
    context = {"ec2:RequesterVpc": requester_vpc, "ec2:AccepterVpc": accepter_vpc}
    connection = _ec2_arn(
        requester.get("Region") or call.region, requester["OwnerId"], "vpc-peering-connection", peering_id
    )
    requests = [
        Request(call.action, connection, {**context, **_tag_context(world.tags(call.region, "pcx", peering_id))})
    ]
    if call.operation == "AcceptVpcPeeringConnection":
        own_vpc_tags = world.tags(accepter.get("Region") or call.region, "vpc", accepter["VpcId"])
        requests.append(Request(call.action, accepter_vpc, {**context, **_tag_context(own_vpc_tags)}))
    return requests


def _route53_change(call: Call) -> list[Request]:
    changes = call.params["ChangeBatch"]["Changes"]
    context = {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
            str(change["ResourceRecordSet"]["Name"]).rstrip(".").lower() for change in changes
        ],
        "route53:ChangeResourceRecordSetsRecordTypes": [change["ResourceRecordSet"]["Type"] for change in changes],
        "route53:ChangeResourceRecordSetsActions": [change["Action"] for change in changes],
    }
    return [Request(call.action, _zone_arn(call.params["HostedZoneId"]), context)]


def _zone_arn(zone_id: Any) -> str:
    return f"arn:aws:route53:::hostedzone/{str(zone_id).rsplit('/', 1)[-1]}"


def _route_requests(call: Call, world: World) -> list[Request]:
    table = str(call.params["RouteTableId"])
    tags = world.tags(call.region, "route-table", table)
    return [Request(call.action, _ec2_arn(call.region, world.account_id, "route-table", table), _tag_context(tags))]


def _flow_log_requests(call: Call, world: World) -> list[Request]:
    """On each VPC and on the new flow log; and PassRole of the delivery role to the service."""
    region, account = call.region, world.account_id
    requests = [
        Request(call.action, _ec2_arn(region, account, "vpc", vpc), _tag_context(world.tags(region, "vpc", vpc)))
        for vpc in call.params["ResourceIds"]
    ]
    requests.append(Request(call.action, _ec2_arn(region, account, "vpc-flow-log", "*")))
    if call.params.get("DeliverLogsPermissionArn"):
        passed = {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}
        requests.append(Request("iam:PassRole", str(call.params["DeliverLogsPermissionArn"]), passed))
    return requests


def _findings_requests(call: Call, world: World) -> list[Request]:
    return [
        Request(call.action, str(finding["ProductArn"]), {"securityhub:TargetAccount": finding["AwsAccountId"]})
        for finding in call.params["Findings"]
    ]


def _stack_requests(call: Call, world: World) -> list[Request]:
    name = str(call.params.get("StackName", "*"))
    if name.startswith("arn:"):
        return [Request(call.action, name)]
    return [Request(call.action, f"arn:aws:cloudformation:{call.region}:{world.account_id}:stack/{name}/*")]


def _item_requests(call: Call, world: World) -> list[Request]:
    """On the table; ``dynamodb:LeadingKeys`` is the item's partition key."""
    table = f"arn:aws:dynamodb:{call.region}:{world.account_id}:table/{call.params['TableName']}"
    keys = [value.get("S", "") if isinstance(value, Mapping) else str(value) for value in call.params["Key"].values()]
    return [Request(call.action, table, {"dynamodb:LeadingKeys": keys[:1]})]


def _prefix_list_requests(call: Call, world: World) -> list[Request]:
    """On the list (the test worlds' lists are their own account's; AWS-managed ones are owned by ``aws``)."""
    prefix_list = str(call.params["PrefixListId"])
    return [Request(call.action, _ec2_arn(call.region, world.account_id, "prefix-list", prefix_list))]


def _parameter_requests(call: Call, world: World) -> list[Request]:
    name = str(call.params["Name"])
    path = name if name.startswith("/") else f"/{name}"
    return [Request(call.action, f"arn:aws:ssm:{call.region}:{world.account_id}:parameter{path}")]


_MODELLED: dict[str, Callable[[Call, World], list[Request]]] = {
    "ssm:GetParameter": _parameter_requests,
    "ec2:GetManagedPrefixListEntries": _prefix_list_requests,
    "dynamodb:GetItem": _item_requests,
    "dynamodb:UpdateItem": _item_requests,
    "ec2:CreateRoute": _route_requests,
    "ec2:ReplaceRoute": _route_requests,
    "ec2:AcceptVpcPeeringConnection": _peering_requests,
    "ec2:RejectVpcPeeringConnection": _peering_requests,
    "ec2:CreateFlowLogs": _flow_log_requests,
    "route53:GetHostedZone": lambda call, _: [Request(call.action, _zone_arn(call.params["Id"]))],
    "route53:ListResourceRecordSets": lambda call, _: [Request(call.action, _zone_arn(call.params["HostedZoneId"]))],
    "route53:ChangeResourceRecordSets": lambda call, _: _route53_change(call),
    "sns:Publish": lambda call, _: [Request(call.action, str(call.params["TopicArn"]))],
    "securityhub:BatchImportFindings": _findings_requests,
    "securityhub:GetFindings": lambda call, world: [
        Request(call.action, f"arn:aws:securityhub:{call.region}:{world.account_id}:hub/default")
    ],
    "cloudformation:DescribeStacks": _stack_requests,
}


def requests_for(call: Call, world: World) -> list[Request]:
    """The authorisations AWS makes for ``call`` (Service Authorization Reference, per action)."""
    if call.action in ALWAYS_ALLOWED:
        return []
    modelled = _MODELLED.get(call.action)
    return modelled(call, world) if modelled is not None else [Request(call.action, "*")]


def refused(calls: Iterable[Call], statements: list[dict[str, Any]], world: World) -> list[str]:
    """Each request of ``calls`` that ``statements`` do not allow (an explicit deny wins), once."""
    found: dict[str, None] = {}
    for call in calls:
        for request in requests_for(call, world):
            if not allowed(statements, request.action, request.resource, **request.context):
                found[str(request)] = None
    return list(found)


def stack_for(template: dict[str, Any], account_id: str, region: str = "us-east-1", **parameters: str) -> Stack:
    """The template deployed in ``account_id`` (moto's account) with ``parameters``."""
    stack = Stack(template, region, **parameters)
    stack.pseudo["AWS::AccountId"] = account_id
    return stack


def function_ids(template: dict[str, Any]) -> dict[str, str]:
    """``functions/<name>/`` -> the logical id of the function."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            found[properties["CodeUri"].strip("/").rsplit("/", 1)[-1]] = logical_id
    return found


def own_environment(stack: Stack, function_id: str) -> dict[str, str]:
    """A function's own ``Environment`` (beside the ``Globals``), as CloudFormation would set it."""
    resource = stack.template["Resources"][function_id]
    variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    return {name: str(value) for name, value in stack.value(variables).items()}


def function_roles(template: dict[str, Any]) -> dict[str, str]:
    """``functions/<name>/`` -> the logical id of its role, for every function of the template."""
    roles = {}
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            folder = properties["CodeUri"].strip("/").rsplit("/", 1)[-1]
            roles[folder] = properties["Role"]["Fn::GetAtt"][0]
    return roles


def with_physical(value: Any, physical: Mapping[str, str]) -> Any:
    """``value`` with the evaluator's placeholders of the stack's own resources (``<Table>``,
    ``<Table.Arn>``) replaced by what the test created in moto."""
    text = json.dumps(value)
    for placeholder, real in physical.items():
        text = text.replace(placeholder, real)
    return json.loads(text)


def function_environment(stack: Stack, physical: Mapping[str, str] | None = None) -> dict[str, str]:
    """The functions' environment (``Globals``) as CloudFormation would set it for ``stack``."""
    variables = stack.value(stack.template["Globals"]["Function"]["Environment"]["Variables"])
    return {name: str(value) for name, value in with_physical(variables, physical or {}).items()}
