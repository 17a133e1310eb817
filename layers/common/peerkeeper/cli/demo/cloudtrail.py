"""The story's events, in the exact shape EventBridge delivers CloudTrail records."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from peerkeeper.cli.demo.lab import ACCOUNT, REGION, Lab, Network, cname
from peerkeeper.clients import Clients

if TYPE_CHECKING:
    pass


_SOURCES = {
    "ec2.amazonaws.com": "aws.ec2",
    "elasticloadbalancing.amazonaws.com": "aws.elasticloadbalancing",
    "route53.amazonaws.com": "aws.route53",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity(account: str, actor: str, role_arn: str) -> dict[str, Any]:
    """An assumed role's session: a person's (NetworkAdmin) or a function's (its stack's role, session = function)."""
    role_arn = role_arn or f"arn:aws:iam::{account}:role/NetworkAdmin"
    role = role_arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROADEMO{account[-4:]}:{actor}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{actor}",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROADEMO{account[-4:]}",
                "arn": role_arn,
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": _now(), "mfaAuthenticated": "false"},
        },
    }


def cloudtrail_event(
    event_source: str,
    name: str,
    request: Mapping[str, Any] | None,
    response: Mapping[str, Any] | None,
    *,
    account: str = ACCOUNT,
    region: str = REGION,
    actor: str = "alice",
    role_arn: str = "",
) -> dict[str, Any]:
    """An "AWS API Call via CloudTrail" event. Route 53 is global: its events arrive in us-east-1.

    ``role_arn``: the call was made by a session of that role named ``actor`` (a function's role and
    name); otherwise ``actor`` is a person working as NetworkAdmin.
    """
    request_id = str(uuid.uuid4())
    by_function = bool(role_arn)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": _SOURCES[event_source],
        "account": account,
        "time": _now(),
        "region": "us-east-1" if event_source == "route53.amazonaws.com" else region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": _identity(account, actor, role_arn),
            "eventTime": _now(),
            "eventSource": event_source,
            "eventName": name,
            "awsRegion": "us-east-1" if event_source == "route53.amazonaws.com" else region,
            "sourceIPAddress": "lambda.amazonaws.com" if by_function else "198.51.100.24",
            "userAgent": "Boto3 peerkeeper" if by_function else "aws-cli/2.22.0",
            "requestParameters": dict(request) if request is not None else None,
            "responseElements": dict(response) if response is not None else None,
            "requestID": request_id,
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        },
    }


def scheduled_event(rule: str = "peerkeeper-SweepFunctionSchedule") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": _now(),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


def create_vpc_event(network: Network) -> dict[str, Any]:
    request = {"cidrBlock": network.cidr, "instanceTenancy": "default"}
    response = {"vpc": {"vpcId": network.vpc, "cidrBlock": network.cidr, "state": "pending"}}
    return cloudtrail_event("ec2.amazonaws.com", "CreateVpc", request, response)


def create_load_balancer_event(
    name: str, lb: Mapping[str, str], subnets: list[str], region: str = REGION
) -> dict[str, Any]:
    request = {"name": name, "subnets": subnets, "scheme": "internal", "type": "application"}
    response = {
        "loadBalancers": [
            {
                "loadBalancerArn": lb["arn"],
                "dNSName": lb["dns"],
                "loadBalancerName": name,
                "scheme": "internal",
                "vpcId": lb.get("vpc", ""),
                "type": "application",
            }
        ]
    }
    return cloudtrail_event(
        "elasticloadbalancing.amazonaws.com", "CreateLoadBalancer", request, response, region=region
    )


def delete_load_balancer_event(lb: Mapping[str, str]) -> dict[str, Any]:
    # A successful DeleteLoadBalancer has a null responseElements.
    return cloudtrail_event(
        "elasticloadbalancing.amazonaws.com", "DeleteLoadBalancer", {"loadBalancerArn": lb["arn"]}, None
    )


def peering_request_event(
    pcx: str, requester: Mapping[str, str], accepter: Mapping[str, str], *, account: str = ACCOUNT
) -> dict[str, Any]:
    request: dict[str, Any] = {"vpcId": requester["vpc"], "peerVpcId": accepter["vpc"]}
    if accepter["owner"] != account:
        request["peerOwnerId"] = accepter["owner"]
    response = {
        "vpcPeeringConnection": {
            "vpcPeeringConnectionId": pcx,
            "requesterVpcInfo": {
                "ownerId": requester["owner"],
                "vpcId": requester["vpc"],
                "cidrBlock": requester["cidr"],
                "cidrBlockSet": {"items": [{"cidrBlock": requester["cidr"]}]},
                "region": REGION,
            },
            "accepterVpcInfo": {"ownerId": accepter["owner"], "vpcId": accepter["vpc"], "region": REGION},
            "status": {"code": "initiating-request", "message": f"Initiating Request to {accepter['owner']}"},
            "tagSet": {},
        }
    }
    return cloudtrail_event("ec2.amazonaws.com", "CreateVpcPeeringConnection", request, response, account=account)


def route_event(
    name: str,
    table: str,
    destination: str,
    pcx: str = "",
    *,
    actor: str = "alice",
    role_arn: str = "",
    region: str = REGION,
) -> dict[str, Any]:
    request = {"routeTableId": table, "destinationCidrBlock": destination}
    if pcx:
        request["vpcPeeringConnectionId"] = pcx
    return cloudtrail_event(
        "ec2.amazonaws.com", name, request, {"_return": True}, actor=actor, role_arn=role_arn, region=region
    )


def associate_cidr_event(vpc: str, cidr: str, *, actor: str = "mallory") -> dict[str, Any]:
    request = {"vpcId": vpc, "cidrBlock": cidr}
    response = {
        "vpcId": vpc,
        "cidrBlockAssociation": {
            "associationId": f"vpc-cidr-assoc-{uuid.uuid4().hex[:17]}",
            "cidrBlock": cidr,
            "cidrBlockState": {"state": "associating"},
        },
    }
    return cloudtrail_event("ec2.amazonaws.com", "AssociateVpcCidrBlock", request, response, actor=actor)


def change_record_event(
    zone_id: str, record: str, value: str, ttl: int, *, actor: str = "alice", role_arn: str = ""
) -> dict[str, Any]:
    change = {
        "action": "UPSERT",
        "resourceRecordSet": {
            "name": record,
            "type": "CNAME",
            "tTL": ttl,
            "resourceRecords": [{"value": value}],
        },
    }
    request = {"hostedZoneId": zone_id, "changeBatch": {"changes": [change]}}
    response = {"changeInfo": {"id": f"/change/C{uuid.uuid4().hex[:12].upper()}", "status": "PENDING"}}
    return cloudtrail_event(
        "route53.amazonaws.com", "ChangeResourceRecordSets", request, response, actor=actor, role_arn=role_arn
    )


def create_hosted_zone_event(zone_id: str, name: str, vpc: str, region: str = REGION) -> dict[str, Any]:
    """A private hosted zone created with its first VPC (the seed's step 2, by hand)."""
    request = {
        "name": name,
        "vPC": {"vPCRegion": region, "vPCId": vpc},
        "callerReference": str(uuid.uuid4()),
        "hostedZoneConfig": {"comment": "the seed lab", "privateZone": True},
    }
    response = {
        "hostedZone": {"id": f"/hostedzone/{zone_id}", "name": f"{name}.", "config": {"privateZone": True}},
        "vPC": {"vPCRegion": region, "vPCId": vpc},
    }
    return cloudtrail_event("route53.amazonaws.com", "CreateHostedZone", request, response)


def associate_zone_event(zone_id: str, vpc: str, region: str) -> dict[str, Any]:
    request = {"hostedZoneId": zone_id, "vPC": {"vPCRegion": region, "vPCId": vpc}}
    response = {"changeInfo": {"id": f"/change/C{uuid.uuid4().hex[:12].upper()}", "status": "PENDING"}}
    return cloudtrail_event("route53.amazonaws.com", "AssociateVPCWithHostedZone", request, response)


def echo_event(
    action: Mapping[str, Any], lab: Lab, clients: Clients, *, function: str, role_arn: str
) -> dict[str, Any] | None:
    """The CloudTrail event AWS logs for one of peerkeeper's own successful calls (None: no such event).

    The call is made by ``function`` as ``role_arn`` (its stack's role), in the action's region.
    """
    kind, resource = action.get("kind"), str(action.get("resource", ""))
    by: dict[str, Any] = {"actor": function, "role_arn": role_arn, "region": str(action.get("region") or REGION)}
    if kind == "accept-peering":
        request: dict[str, Any] = {"vpcPeeringConnectionId": resource}
        response = {"vpcPeeringConnection": {"vpcPeeringConnectionId": resource, "status": {"code": "provisioning"}}}
        return cloudtrail_event("ec2.amazonaws.com", "AcceptVpcPeeringConnection", request, response, **by)
    if kind in ("create-route", "replace-route"):
        name = "CreateRoute" if kind == "create-route" else "ReplaceRoute"
        return route_event(name, resource, "", **by)
    if kind == "upsert-record":
        value = cname(clients, lab.zone_id, resource)
        return change_record_event(lab.zone_id, resource, value, 300, actor=function, role_arn=role_arn)
    if kind == "create-flow-logs":
        wrapped = {"CreateFlowLogsRequest": {"ResourceId": {"content": resource, "tag": 1}}}
        return cloudtrail_event("ec2.amazonaws.com", "CreateFlowLogs", wrapped, {}, **by)
    return None
