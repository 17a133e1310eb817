"""Helpers shared by the tests: ids of the sample events, a fake Lambda context, a lab, a call recorder."""

from __future__ import annotations

import copy
import importlib
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from peerkeeper.clients import default_clients
from peerkeeper.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"

# The fixed ids used in events/*.json, replaced by real (moto) ids in tests.
SAMPLE_IDS = {
    "account": "111122223333",
    "web_vpc": "vpc-0a1b2c3d4e5f60001",
    "api_vpc": "vpc-0a1b2c3d4e5f60002",
    "peering": "pcx-0a1b2c3d4e5f60003",
    "route_table": "rtb-0a1b2c3d4e5f60004",
    "subnet": "subnet-0a1b2c3d4e5f60005",
    "association": "rtbassoc-0a1b2c3d4e5f60006",
    "flow_log": "fl-0a1b2c3d4e5f60007",
    "zone": "Z0A1B2C3D4E5F60008",
    "new_vpc": "vpc-0a1b2c3d4e5f60009",
}

BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "ALLOWED_PEER_ACCOUNTS": ACCOUNT,
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "peerkeeper",
    "POWERTOOLS_METRICS_NAMESPACE": "Peerkeeper",
    "POWERTOOLS_DEV": "false",
}
CONTRACT_VARS = (
    "PEERKEEPER_MODE",
    "ALLOWED_PEER_VPCS",
    "ALLOWED_PEER_CIDRS",
    "ROUTE_OVER_AGGREGATES",
    "REJECT_UNLISTED",
    "DNS_RECORDS",
    "DNS_TTL",
    "FLOW_LOG_GROUP",
    "FLOW_LOG_ROLE_ARN",
    "FLOW_LOG_TRAFFIC_TYPE",
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "PEERKEEPER_NOTIFY_TOPIC_ARN",
    "PEERKEEPER_RETRY_MODE",
    "PEERKEEPER_SWEEP_SCHEDULE",
    "SECURITY_HUB",
    "CONCERNS",
    "FLOW_LOG_DESTINATION",
    "ORGANIZATION_ROLE_ARN",
)


def clear_caches() -> None:
    get_settings.cache_clear()
    default_clients.cache_clear()


@dataclass
class FakeContext:
    function_name: str = "peerkeeper-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:peerkeeper-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/peerkeeper-test"
    log_stream_name: str = "2026/11/23/[$LATEST]abc"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _substitute(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in mapping.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {key: _substitute(item, mapping) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, mapping) for item in value]
    return value


def load_event(name: str, **ids: str) -> dict[str, Any]:
    """``events/<name>.json`` with sample ids replaced: ``load_event("x", web_vpc="vpc-...")``.

    The sample account always becomes moto's account unless ``account=`` says otherwise.
    """
    event = json.loads((EVENTS / f"{name}.json").read_text())
    mapping = {SAMPLE_IDS[key]: value for key, value in ids.items()}
    mapping.setdefault(SAMPLE_IDS["account"], ACCOUNT)
    return _substitute(copy.deepcopy(event), mapping)


def event_names(prefix: str = "") -> list[str]:
    return sorted(path.stem for path in EVENTS.glob(f"{prefix}*.json"))


def handler(function: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The real ``lambda_handler`` of ``functions/<function>/app.py``."""
    return importlib.import_module(f"functions.{function}.app").lambda_handler


MUTATING_PREFIXES = ("Describe", "List", "Get")


@dataclass
class CallRecorder:
    """Every AWS call made through peerkeeper's clients (a botocore ``before-call`` hook)."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, params))

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def mutating(self) -> list[str]:
        return [name for name in self.operations if not name.startswith(MUTATING_PREFIXES)]

    def clear(self) -> None:
        self.calls.clear()


@dataclass
class Lab:
    """The seed lab's network: web-vpc (accepter) and api-vpc (requester), two route tables each."""

    web_vpc: str
    api_vpc: str
    web_tables: list[str]
    api_tables: list[str]
    web_subnet: str
    api_subnet: str

    @property
    def tables(self) -> list[str]:
        return self.web_tables + self.api_tables


def ec2_client(region: str = REGION) -> Any:
    return boto3.client("ec2", region_name=region)


def build_vpc(ec2: Any, cidr: str, name: str, extra_tables: int = 1) -> tuple[str, list[str], str]:
    vpc = ec2.create_vpc(
        CidrBlock=cidr, TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}]
    )["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]["SubnetId"]
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    tables = [main]
    for _ in range(extra_tables):
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        tables.append(table)
    ec2.associate_route_table(RouteTableId=tables[-1], SubnetId=subnet)
    return vpc, tables, subnet


def request_peering(ec2: Any, requester: str, accepter: str, **kwargs: Any) -> str:
    return ec2.create_vpc_peering_connection(VpcId=requester, PeerVpcId=accepter, **kwargs)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]


def routes_of(ec2: Any, table_id: str) -> dict[str, str]:
    """destination -> target of one route table."""
    table = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
    result = {}
    for route in table["Routes"]:
        destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
        target = route.get("VpcPeeringConnectionId") or route.get("GatewayId") or route.get("NatGatewayId") or ""
        result[destination] = target
    return result


def peering_status(ec2: Any, peering_id: str) -> str:
    found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"]
    return found[0]["Status"]["Code"]


OTHER_ACCOUNT = "210987654321"


def other_account_client(service: str, account: str = OTHER_ACCOUNT, region: str = REGION) -> Any:
    """moto: credentials from assume_role into another account id act as that account."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/partner", RoleSessionName="partner"
    )["Credentials"]
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def internal_load_balancer(vpc: str, cidr_prefix: str, name: str = "api-elb") -> str:
    """An internal application load balancer in two new subnets (two AZs) of ``vpc``; its DNS name."""
    ec2 = ec2_client()
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr_prefix}.{10 + i}.0/24", AvailabilityZone=f"{REGION}{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    created = boto3.client("elbv2", region_name=REGION).create_load_balancer(
        Name=name, Subnets=subnets, Scheme="internal", Type="application"
    )
    return str(created["LoadBalancers"][0]["DNSName"])


def reset_emulator(endpoint: str) -> str:
    """Empty moto's server (every account and region): each test starts from a fresh AWS.

    Resetting a server that has served many accounts and regions takes seconds on a loaded machine:
    the timeout is generous, the request is loopback only.
    """
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200
    return endpoint


def hook_sessions(
    monkeypatch: Any, event: str, handler: Any, *, only: Callable[[dict[str, Any]], bool] | None = None
) -> None:
    """Register ``handler`` for ``event`` on every boto3 session made from now on (the CLI makes its own).

    ``only`` picks the sessions by the keyword arguments they were made with.
    """
    real_session = boto3.Session

    def session(*args: Any, **kwargs: Any) -> boto3.Session:
        made = real_session(*args, **kwargs)
        if only is None or only(kwargs):
            made.events.register(event, handler)
        return made

    monkeypatch.setattr(boto3, "Session", session)
