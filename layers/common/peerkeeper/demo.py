"""``peerkeeper demo``: the seed lab on an embedded AWS emulator, driven by events, end to end.

moto's server runs in this process on a free loopback port; every client (the demo's own and the
handlers') is pointed at it through ``AWS_ENDPOINT_URL`` with fake credentials, so nothing leaves the
machine. The demo builds the seed lab, then plays a story as the CloudTrail events AWS would put on
EventBridge. Each event is routed by the rules of ``template.yaml`` (:mod:`peerkeeper.rules`) to the
real ``functions/<name>/app.py`` handler, invoked in-process. peerkeeper's own calls are played back
too (AWS logs them like anyone's), which shows that a reconcile that writes is followed at most by a
no-op. The state of the world is checked after every chapter, and the demo ends with ``plan``: it
exits 0 only when every check held and the plan has no action.

Events are built here in the exact EventBridge shape, with the lab's real ids and values, rather than
by substituting the samples of ``events/``: the samples document one situation each, the story needs
values (CIDRs, DNS names, accounts) that match the lab it just built.

moto and PyYAML (the ``peerkeeper[demo]`` extra) and rich (the command line's) are imported inside the
functions, never by a handler. An installed package runs the copies of ``template.yaml`` and
``functions/`` it ships (:func:`project_root`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shlex
import socket
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3

from peerkeeper.clients import Clients

if TYPE_CHECKING:
    from rich.console import Console

    from peerkeeper.rules import Rule

ACCOUNT = "123456789012"  # moto's default account: the one peerkeeper runs in
STRANGER = "210987654321"  # an account that is not on the allowlist
REGION: Final = "us-east-1"
OTHER_REGION: Final = "eu-west-1"  # where api-elb lives; the same stack is deployed there too
ZONE_NAME = "elb.lab.private"
ZONE_ID = "Z0DEMOELBLABPRIVATE"
RECORD = f"api.{ZONE_NAME}"  # owned by api-elb in OTHER_REGION (DNS_RECORDS says api-elb@eu-west-1)
WEB_RECORD = f"web.{ZONE_NAME}"  # owned by web-elb in REGION
LOG_GROUP = "flow-logs-group"
ROLE_NAME = "flow-log-role"
MAX_ECHO_DEPTH = 2  # an event, peerkeeper's reaction, and the no-op that reaction triggers
_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ],
}


class DemoError(RuntimeError):
    """The demo could not run (no free port, template or functions not found)."""


# -- the emulator -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """moto's server on a free loopback port, quiet; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415  (development dependency)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # port 0: the kernel picks a free port when the server binds (no window for another process to take it)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def demo_environ(endpoint: str) -> dict[str, str]:
    """The environment the handlers run with: the emulator, fake keys, the lab's configuration."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_SESSION_TOKEN": "demo",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "PEERKEEPER_MODE": "enforce",
        "ALLOWED_PEER_ACCOUNTS": ACCOUNT,
        "ALLOWED_PEER_VPCS": "",
        "REJECT_UNLISTED": "false",
        # Both stacks (REGION and OTHER_REGION) have these: a pair naming its region means the same
        # load balancer in every region's stack, so the stacks agree on every record.
        "DNS_RECORDS": f"{WEB_RECORD}=web-elb@{REGION},{RECORD}=api-elb@{OTHER_REGION}",
        "DNS_TTL": "300",
        "FLOW_LOG_GROUP": LOG_GROUP,
        "FLOW_LOG_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}",
        "FLOW_LOG_TRAFFIC_TYPE": "ALL",
        "POWERTOOLS_SERVICE_NAME": "peerkeeper",
        "POWERTOOLS_METRICS_NAMESPACE": "Peerkeeper",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }


def configure_process(endpoint: str) -> None:
    """Point this process at the emulator (handlers read ``os.environ``, as in Lambda)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull  # a user's profiles must not leak in
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
        os.environ.pop(name)
    os.environ.update(demo_environ(endpoint))
    from peerkeeper.clients import default_clients  # noqa: PLC0415
    from peerkeeper.observability import logger  # noqa: PLC0415
    from peerkeeper.settings import get_settings  # noqa: PLC0415

    get_settings.cache_clear()
    default_clients.cache_clear()
    logger.setLevel(logging.CRITICAL)  # the timeline tells the story; the JSON logs would drown it
    warnings.filterwarnings("ignore", message="No application metrics to publish")


# -- the seed lab -----------------------------------------------------------------------------
@dataclass
class Network:
    name: str
    vpc: str
    cidr: str
    tables: list[str]
    subnets: list[str]


@dataclass
class Lab:
    web: Network
    api: Network
    load_balancers: dict[str, dict[str, str]]  # name (name@region outside REGION) -> {"arn", "dns"}
    zone_id: str
    role_arn: str
    api_eu: Network | None = None  # api-eu-vpc in OTHER_REGION, home of api-elb@eu-west-1

    @property
    def networks(self) -> list[Network]:
        return [self.web, self.api]


def build_network(ec2: Any, name: str, cidr: str, region: str = REGION) -> Network:
    """A VPC with two subnets (two AZs), its main route table and one more, associated with a subnet."""
    prefix = cidr.rsplit(".", 2)[0]  # "10.0.0.0/16" -> "10.0"
    tags = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}]
    vpc = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=tags)["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i + 1}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    private = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for subnet in subnets:
        ec2.associate_route_table(RouteTableId=private, SubnetId=subnet)
    return Network(name, vpc, cidr, [main, private], subnets)


def create_load_balancer(clients: Clients, name: str, subnets: list[str], region: str = REGION) -> dict[str, str]:
    created = clients.elbv2(region).create_load_balancer(
        Name=name, Subnets=subnets, Scheme="internal", Type="application"
    )["LoadBalancers"][0]
    return {"arn": created["LoadBalancerArn"], "dns": created["DNSName"], "vpc": created.get("VpcId", "")}


def create_private_zone(clients: Clients, vpc: str) -> str:
    """``elb.lab.private`` on ``vpc``, with an id shaped like a real one.

    Real hosted zone ids start with ``Z`` (events.py accepts only those); moto's random ones mostly
    don't, so the id is chosen through moto's custom-id hook (the server runs in this process).
    """
    from moto.route53.models import HostedZoneIdentifier  # noqa: PLC0415  (development dependency)
    from moto.utilities.id_generator import moto_id_manager  # noqa: PLC0415

    identifier = HostedZoneIdentifier(ACCOUNT, f"{ZONE_NAME}.", None)
    moto_id_manager.set_custom_id(identifier, ZONE_ID)
    try:
        created = clients.route53().create_hosted_zone(
            Name=ZONE_NAME,
            CallerReference=f"peerkeeper-demo-{uuid.uuid4()}",
            VPC={"VPCRegion": REGION, "VPCId": vpc},
            HostedZoneConfig={"Comment": "peerkeeper demo", "PrivateZone": True},
        )
    finally:
        moto_id_manager.unset_custom_id(identifier)
    return str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def build_lab(clients: Clients, endpoint: str) -> Lab:
    """web-vpc and api-vpc, their load balancers, the private zone, the flow-log group and role."""
    ec2 = clients.ec2(REGION)
    web = build_network(ec2, "web-vpc", "10.0.0.0/16")
    api = build_network(ec2, "api-vpc", "10.1.0.0/16")
    load_balancers = {
        "web-elb": create_load_balancer(clients, "web-elb", web.subnets),
        "api-elb": create_load_balancer(clients, "api-elb", api.subnets),
    }
    # Load balancer names are unique per region only: api-elb exists in both regions.
    api_eu = build_network(clients.ec2(OTHER_REGION), "api-eu-vpc", "10.3.0.0/16", region=OTHER_REGION)
    load_balancers[f"api-elb@{OTHER_REGION}"] = create_load_balancer(clients, "api-elb", api_eu.subnets, OTHER_REGION)
    zone = create_private_zone(clients, web.vpc)
    clients.route53().associate_vpc_with_hosted_zone(
        HostedZoneId=zone, VPC={"VPCRegion": OTHER_REGION, "VPCId": api_eu.vpc}
    )
    clients.session.client("logs", region_name=REGION, endpoint_url=endpoint).create_log_group(logGroupName=LOG_GROUP)
    role = clients.session.client("iam", region_name=REGION, endpoint_url=endpoint).create_role(
        RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(_TRUST_POLICY)
    )["Role"]["Arn"]
    return Lab(web, api, load_balancers, zone, role, api_eu)


def stranger_clients(clients: Clients, endpoint: str) -> Clients:
    """moto: credentials from assume_role into another account id act as that account."""
    credentials = clients.sts(REGION).assume_role(
        RoleArn=f"arn:aws:iam::{STRANGER}:role/partner-admin", RoleSessionName="partner"
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return Clients(session, endpoint_url=endpoint)


# -- events, as EventBridge delivers them -----------------------------------------------------
_SOURCES = {
    "ec2.amazonaws.com": "aws.ec2",
    "elasticloadbalancing.amazonaws.com": "aws.elasticloadbalancing",
    "route53.amazonaws.com": "aws.route53",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity(account: str, actor: str) -> dict[str, Any]:
    role = "NetworkAdmin" if actor != "peerkeeper" else "peerkeeper-function-role"
    return {
        "type": "AssumedRole",
        "principalId": f"AROADEMO{account[-4:]}:{actor}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{actor}",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account},
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
) -> dict[str, Any]:
    """An "AWS API Call via CloudTrail" event. Route 53 is global: its events arrive in us-east-1."""
    request_id = str(uuid.uuid4())
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
            "userIdentity": _identity(account, actor),
            "eventTime": _now(),
            "eventSource": event_source,
            "eventName": name,
            "awsRegion": "us-east-1" if event_source == "route53.amazonaws.com" else region,
            "sourceIPAddress": "198.51.100.24" if actor != "peerkeeper" else "lambda.amazonaws.com",
            "userAgent": "aws-cli/2.22.0" if actor != "peerkeeper" else "Boto3 peerkeeper",
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


def route_event(name: str, table: str, destination: str, pcx: str = "", *, actor: str = "alice") -> dict[str, Any]:
    request = {"routeTableId": table, "destinationCidrBlock": destination}
    if pcx:
        request["vpcPeeringConnectionId"] = pcx
    return cloudtrail_event("ec2.amazonaws.com", name, request, {"_return": True}, actor=actor)


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


def change_record_event(zone_id: str, record: str, value: str, ttl: int, *, actor: str = "alice") -> dict[str, Any]:
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
    return cloudtrail_event("route53.amazonaws.com", "ChangeResourceRecordSets", request, response, actor=actor)


def echo_event(action: Mapping[str, Any], lab: Lab, clients: Clients) -> dict[str, Any] | None:
    """The CloudTrail event AWS logs for one of peerkeeper's own successful calls (None: no such event)."""
    kind, resource = action.get("kind"), str(action.get("resource", ""))
    if kind == "accept-peering":
        request: dict[str, Any] = {"vpcPeeringConnectionId": resource}
        response = {"vpcPeeringConnection": {"vpcPeeringConnectionId": resource, "status": {"code": "provisioning"}}}
        return cloudtrail_event(
            "ec2.amazonaws.com", "AcceptVpcPeeringConnection", request, response, actor="peerkeeper"
        )
    if kind in ("create-route", "replace-route"):
        name = "CreateRoute" if kind == "create-route" else "ReplaceRoute"
        return route_event(name, resource, "", actor="peerkeeper")
    if kind == "upsert-record":
        value = cname(clients, lab.zone_id, resource)
        return change_record_event(lab.zone_id, resource, value, 300, actor="peerkeeper")
    if kind == "create-flow-logs":
        wrapped = {"CreateFlowLogsRequest": {"ResourceId": {"content": resource, "tag": 1}}}
        return cloudtrail_event("ec2.amazonaws.com", "CreateFlowLogs", wrapped, {}, actor="peerkeeper")
    return None


# -- invoking the functions -------------------------------------------------------------------
@dataclass
class LambdaContext:
    """What Lambda passes as ``context`` (the fields Powertools and peerkeeper read)."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "demo"
    timeout_ms: int = 60_000
    region: str = REGION

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


BUNDLE = Path(__file__).resolve().parent / "_bundle"  # copies of template.yaml and functions/ in a wheel
DEMO_EXTRA = "pip install 'peerkeeper[demo]'"


def project_root(start: Path | None = None) -> Path:
    """Where ``template.yaml`` and ``functions/`` are (the demo runs the real files).

    The checkout this module lives in (a development install), else the copies a built package
    ships under ``peerkeeper/_bundle`` (pyproject.toml), else a checkout in the working directory.
    """
    here = (start or Path(__file__).resolve()).parents
    for candidate in [*here, BUNDLE, Path.cwd()]:
        if (candidate / "template.yaml").is_file() and (candidate / "functions").is_dir():
            return candidate
    raise DemoError("template.yaml and functions/ not found: reinstall peerkeeper or run the demo from a checkout")


def missing_requirements() -> list[str]:
    """The demo's own imports (the emulator, the template reader, the handlers' tracer) that are absent."""
    wanted = ("moto", "yaml", "werkzeug", "aws_xray_sdk")
    return [name for name in wanted if importlib.util.find_spec(name) is None]


class Functions:
    """The real ``functions/<name>/app.py`` handlers, loaded by path (no ``sys.path`` edits)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._handlers: dict[str, Handler] = {}

    def __getitem__(self, name: str) -> Handler:
        if name not in self._handlers:
            path = self.root / "functions" / name / "app.py"
            spec = importlib.util.spec_from_file_location(f"peerkeeper_demo_functions.{name}.app", path)
            if spec is None or spec.loader is None:
                raise DemoError(f"{path} not found")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._handlers[name] = module.lambda_handler
        return self._handlers[name]


@contextlib.contextmanager
def stack_in(region: str) -> Iterator[None]:
    """Run the handlers as the stack deployed in ``region`` (the same template and parameters)."""
    from peerkeeper.clients import default_clients  # noqa: PLC0415
    from peerkeeper.settings import get_settings  # noqa: PLC0415

    if region == REGION:
        yield
        return
    saved = {name: os.environ[name] for name in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    os.environ.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region})
    get_settings.cache_clear()
    default_clients.cache_clear()
    try:
        yield
    finally:
        os.environ.update(saved)
        get_settings.cache_clear()
        default_clients.cache_clear()


# -- the story --------------------------------------------------------------------------------
_FINDINGS = (("refused", "refused", "yellow"), ("conflicts", "conflict", "magenta"), ("problems", "problem", "red"))
_OUTCOME_MARKS = {"done": "[green]✓[/green]", "converged": "[green]=[/green]", "failed": "[red]✗[/red]"}


@dataclass
class Story:
    console: Console
    rules: list[Rule]
    functions: Functions
    lab: Lab
    clients: Clients
    failures: list[str] = field(default_factory=list)
    delivered: int = 0

    def chapter(self, title: str) -> None:
        self.console.print()
        self.console.rule(f"[bold]{title}[/bold]", align="left")

    def note(self, text: str) -> None:
        self.console.print(f"  [dim]{text}[/dim]")

    def check(self, description: str, ok: bool) -> None:
        mark = "[green]✔[/green]" if ok else "[bold red]✘[/bold red]"
        self.console.print(f"  {mark} {description}")
        if not ok:
            self.failures.append(description)

    def deliver(
        self, event: dict[str, Any], label: str = "", depth: int = 0, region: str = REGION
    ) -> list[dict[str, Any]]:
        """Route ``event`` by the template's rules, invoke each target, play back peerkeeper's own calls.

        ``region`` is the stack that receives it: this one, or the one in OTHER_REGION.
        """
        from peerkeeper.rules import rules_matching  # noqa: PLC0415  (moto's pattern matcher)

        indent = "  " + "    " * depth
        name = event.get("detail", {}).get("eventName") or event.get("detail-type", "")
        who = "peerkeeper" if depth else event.get("account", "")
        where = "" if region == REGION else f", [bold]to the {region} stack[/bold]"
        self.console.print(
            f"{indent}[bold cyan]▶ {name}[/bold cyan] {label} [dim]({event['source']}, {who}{where})[/dim]"
        )
        matched = rules_matching(event, self.rules)
        if not matched:
            self.console.print(f"{indent}  [dim]no rule matches: nothing is invoked[/dim]")
        summaries = []
        for rule in matched:
            self.delivered += 1
            self.console.print(f"{indent}  → rule [magenta]{rule.name}[/magenta] → [bold]{rule.function}[/bold]")
            summary = self.invoke(rule.function, event, indent, region)
            summaries.append(summary)
            self.echo(summary, depth)
        return summaries

    def deliver_everywhere(self, event: dict[str, Any], label: str = "", depth: int = 0) -> list[dict[str, Any]]:
        """A Route 53 event: delivered in us-east-1, whose stack forwards it to the other region's bus."""
        summaries = self.deliver(event, label, depth)
        forwarded = f"{label} [dim](forwarded from {REGION})[/dim]"
        return summaries + self.deliver(event, forwarded, depth, region=OTHER_REGION)

    def invoke(self, function: str, event: dict[str, Any], indent: str, region: str = REGION) -> dict[str, Any]:
        from peerkeeper.reconcile import ReconcileError  # noqa: PLC0415

        context = LambdaContext(f"peerkeeper-{function.replace('_', '-')}", region=region)
        try:
            with stack_in(region):
                summary = self.functions[function](event, context)
        except ReconcileError as error:
            self.console.print(f"{indent}    [red]✗ raised (EventBridge would retry): {error}[/red]")
            self.failures.append(f"{function} raised: {error}")
            return {"actions": []}
        self.show(summary, indent + "    ")
        return summary

    def show(self, summary: Mapping[str, Any], indent: str) -> None:
        for action in summary.get("actions", []):
            mark = _OUTCOME_MARKS.get(action.get("outcome", ""), "•")
            where = "" if action["resource"] in action["reason"] else f" [bold]{action['resource']}[/bold]:"
            error = f" [red]{action['error']}[/red]" if action.get("error") else ""
            self.console.print(f"{indent}{mark} {action['kind']}{where} {action['reason']}{error}")
        for key, label, style in _FINDINGS:
            for finding in summary.get(key, []):
                where = f"{finding['resource']}: " if finding["resource"] not in finding["reason"] else ""
                self.console.print(f"{indent}[{style}]⊘ {label}[/{style}] {where}{finding['reason']}")
        if not any(summary.get(key) for key in ("actions", "refused", "conflicts", "problems")):
            reason = summary.get("ignored") or "in sync"
            self.console.print(f"{indent}[dim]· no action ({reason})[/dim]")

    def echo(self, summary: Mapping[str, Any], depth: int) -> None:
        """Play back the events of peerkeeper's own calls that a rule would deliver."""
        from peerkeeper.rules import rules_matching  # noqa: PLC0415

        done = [a for a in summary.get("actions", []) if a.get("outcome") == "done"]
        if not done:
            return
        if depth >= MAX_ECHO_DEPTH:
            self.failures.append(f"peerkeeper's own calls keep triggering changes: {[a['kind'] for a in done]}")
            return
        for action in done:
            event = echo_event(action, self.lab, self.clients)
            if event is None or not rules_matching(event, self.rules):
                continue
            label = f"[dim]by peerkeeper: {action['resource']}[/dim]"
            if event["source"] == "aws.route53":
                self.deliver_everywhere(event, label, depth + 1)
            else:
                self.deliver(event, label, depth + 1)


# -- checks on the world ----------------------------------------------------------------------
def flow_logged(clients: Clients) -> set[str]:
    flow_logs = clients.ec2(REGION).describe_flow_logs()["FlowLogs"]
    return {fl["ResourceId"] for fl in flow_logs if fl.get("LogGroupName") == LOG_GROUP}


def route_targets(clients: Clients, table: str) -> dict[str, str]:
    found = clients.ec2(REGION).describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    return {r.get("DestinationCidrBlock", ""): r.get("VpcPeeringConnectionId", "") for r in found}


def peering_status(clients: Clients, pcx: str) -> str:
    found = clients.ec2(REGION).describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    return str(found["VpcPeeringConnections"][0]["Status"]["Code"])


def cname(clients: Clients, zone_id: str, name: str = RECORD) -> str:
    records = clients.route53().list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    values = [
        value["Value"].rstrip(".")
        for record in records
        if record["Name"].rstrip(".") == name and record["Type"] == "CNAME"
        for value in record.get("ResourceRecords", [])
    ]
    return ",".join(values)


def routed(clients: Clients, network: Network, destination: str, pcx: str) -> bool:
    return all(route_targets(clients, table).get(destination) == pcx for table in network.tables)


# -- main -------------------------------------------------------------------------------------
def chapter_vpcs(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter("1. The VPCs are created")
    for network in lab.networks:
        story.deliver(create_vpc_event(network), f"{network.name} {network.vpc}")
    story.check("every VPC delivers flow logs to flow-logs-group", flow_logged(clients) >= {lab.web.vpc, lab.api.vpc})


def chapter_load_balancers(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter(f"2. The load balancers are created: web-elb here, api-elb here and in {OTHER_REGION}")
    story.note(f"DNS_RECORDS={os.environ['DNS_RECORDS']}, the same in the {REGION} and {OTHER_REGION} stacks")
    remote, api_eu = lab.load_balancers[f"api-elb@{OTHER_REGION}"], lab.api_eu
    if api_eu is not None:
        event = create_load_balancer_event("api-elb", remote, api_eu.subnets, OTHER_REGION)
        story.note(f"logged in {OTHER_REGION}: its own stack hears it, the {REGION} stack does not")
        story.deliver(event, f"api-elb in {OTHER_REGION}", region=OTHER_REGION)
    for name, network in (("web-elb", lab.web), ("api-elb", lab.api)):
        story.deliver(
            create_load_balancer_event(name, lab.load_balancers[name], network.subnets), f"{name} in {REGION}"
        )
    web_dns = lab.load_balancers["web-elb"]["dns"]
    story.check(f"{WEB_RECORD} is a CNAME to web-elb ({web_dns})", cname(clients, lab.zone_id, WEB_RECORD) == web_dns)
    story.check(
        f"{RECORD} is a CNAME to api-elb in {OTHER_REGION} ({remote['dns']}), not to its {REGION} namesake",
        cname(clients, lab.zone_id) == remote["dns"] != lab.load_balancers["api-elb"]["dns"],
    )


def chapter_peering(story: Story) -> str:
    lab, clients = story.lab, story.clients
    web, api = lab.web, lab.api
    story.chapter("3. api-vpc asks to peer with web-vpc")
    created = clients.ec2(REGION).create_vpc_peering_connection(VpcId=api.vpc, PeerVpcId=web.vpc)
    pcx = created["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    requester = {"owner": ACCOUNT, "vpc": api.vpc, "cidr": api.cidr}
    story.deliver(peering_request_event(pcx, requester, {"owner": ACCOUNT, "vpc": web.vpc}), pcx)
    story.check(f"{pcx} is active", peering_status(clients, pcx) == "active")
    story.check(f"every web-vpc table routes {api.cidr} to it", routed(clients, web, api.cidr, pcx))
    story.check(f"every api-vpc table routes {web.cidr} to it", routed(clients, api, web.cidr, pcx))
    return pcx


def launch(ec2: Any, network: Network, name: str, ingress: list[dict[str, Any]]) -> tuple[str, str]:
    """An instance in the network's first subnet with its own security group; (instance id, group id)."""
    group = ec2.create_security_group(GroupName=name, Description=f"{name} (demo)", VpcId=network.vpc)["GroupId"]
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=ingress)
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=network.subnets[0], SecurityGroupIds=[group]
    )["Instances"][0]
    return str(instance["InstanceId"]), str(group)


def run_fix(clients: Clients, fix: str) -> None:
    """Carry out an ``aws ec2 authorize-security-group-ingress`` fix as the AWS CLI would (no CLI here)."""
    words = shlex.split(fix)
    if words[:3] != ["aws", "ec2", "authorize-security-group-ingress"]:
        raise DemoError(f"the demo only carries out security group fixes, not {fix!r}")
    options = dict(zip(words[3::2], words[4::2], strict=True))
    low, _, high = options["--port"].lstrip("-").partition("-")
    ports = (-1, -1) if options["--port"] == "-1" else (int(low), int(high or low))
    clients.ec2(options.get("--region", REGION)).authorize_security_group_ingress(
        GroupId=options["--group-id"],
        IpProtocol=options["--protocol"],
        FromPort=ports[0],
        ToPort=ports[1],
        CidrIp=options["--cidr"],
    )


def chapter_ping(story: Story) -> None:
    """The seed's troubleshooting: peering active, routes right both ways, and still no ping."""
    from peerkeeper.reach import command, render  # noqa: PLC0415  (only this chapter)

    lab, clients = story.lab, story.clients
    story.chapter("3b. An instance in each VPC: api pings web, and the ping fails")
    ec2 = clients.ec2(REGION)
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": lab.api.cidr}]}
    web, web_group = launch(ec2, lab.web, "web-sg", [ssh])
    api, _ = launch(ec2, lab.api, "api-sg", [])
    story.note(f"web-sg ({web_group}) allows SSH from {lab.api.cidr} and nothing else: the seed's mistake")
    story.console.print(f"  [bold]$ peerkeeper why {api} {web} --protocol icmp[/bold]")
    ping = command.traffic_of("icmp", None)
    answer = command.why(clients, [REGION], api, web, ping)
    render.render(story.console, answer)
    found = [(e.code, e.direction, e.component) for e in answer.explanations]
    story.check(
        f"why blames web-sg's ingress, and only it ({answer.reads.total()} reads, no change)",
        found == [("ENI_SG_RULES_MISMATCH", "forward", web_group)] and not answer.reachable,
    )
    fix = answer.fixes[0]
    story.console.print(f"  [bold]$ {render.escape(fix)}[/bold]", soft_wrap=True)
    run_fix(clients, fix)
    story.console.print(f"  [bold]$ peerkeeper why {api} {web} --protocol icmp[/bold]")
    answer = command.why(clients, [REGION], api, web, ping)
    render.verdict(story.console, answer)
    story.check("why says reachable: the ping gets there and back", answer.reachable)
    ssh_answer = command.why(clients, [REGION], api, web, command.traffic_of("tcp", "22"))
    story.check(f"SSH from {api} to {web} was never in question", ssh_answer.reachable)


def hand_edit(story: Story, record: str, value: str) -> list[dict[str, Any]]:
    """Someone UPSERTs ``record`` by hand; the event reaches us-east-1 and is forwarded from there."""
    change: Any = {
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": record, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": value}]},
    }
    zone = story.lab.zone_id
    story.clients.route53().change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [change]})
    return story.deliver_everywhere(change_record_event(zone, record, value, 60), f"{record} → {value}")


def chapter_dns_drift(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter("4. DNS: web-elb is recreated, then both records are edited by hand")
    old = lab.load_balancers["web-elb"]
    clients.elbv2(REGION).delete_load_balancer(LoadBalancerArn=old["arn"])
    story.deliver(delete_load_balancer_event(old), "web-elb")
    story.check(
        "the record is left as it was while web-elb is gone", cname(clients, lab.zone_id, WEB_RECORD) == old["dns"]
    )
    new = lab.load_balancers["web-elb"] = create_load_balancer(clients, "web-elb", lab.web.subnets)
    story.note("moto gives a recreated load balancer the same DNS name; in AWS it changes and sync_dns upserts it")
    story.deliver(create_load_balancer_event("web-elb", new, lab.web.subnets), "web-elb")
    story.check(f"{WEB_RECORD} points at the new web-elb", cname(clients, lab.zone_id, WEB_RECORD) == new["dns"])
    hand_edit(story, WEB_RECORD, "old-web.example.com")
    story.check(f"{WEB_RECORD} is restored to {new['dns']}", cname(clients, lab.zone_id, WEB_RECORD) == new["dns"])
    namesake, remote = lab.load_balancers["api-elb"]["dns"], lab.load_balancers[f"api-elb@{OTHER_REGION}"]["dns"]
    story.note(f"{RECORD} is pointed at api-elb of {REGION}: the right name, the wrong region")
    summaries = hand_edit(story, RECORD, namesake)
    story.check(f"{RECORD} is restored to api-elb in {OTHER_REGION} ({remote})", cname(clients, lab.zone_id) == remote)
    writes = [a for s in summaries for a in s.get("actions", []) if a.get("outcome") == "done"]
    story.check(f"the {REGION} and {OTHER_REGION} stacks agree: one write between them", len(writes) == 1)


def chapter_route_drift(story: Story, pcx: str) -> None:
    lab, clients = story.lab, story.clients
    story.chapter("5. Someone deletes a route by hand")
    table, destination = lab.web.tables[1], lab.api.cidr
    clients.ec2(REGION).delete_route(RouteTableId=table, DestinationCidrBlock=destination)
    story.deliver(route_event("DeleteRoute", table, destination), f"{table} {destination}")
    story.check(f"{table} routes {destination} to {pcx} again", route_targets(clients, table).get(destination) == pcx)


def chapter_hijack(story: Story, pcx: str) -> None:
    """A compromised peer associates a public block, hoping every table will send it that traffic."""
    lab, clients = story.lab, story.clients
    public = "52.94.0.0/16"
    story.chapter(f"6. api-vpc's owner associates the public block {public} (a hijack attempt)")
    clients.ec2(REGION).associate_vpc_cidr_block(VpcId=lab.api.vpc, CidrBlock=public)
    story.note("AWS allows publicly routable secondary blocks; ALLOWED_PEER_CIDRS says which a peer may announce")
    summaries = story.deliver(associate_cidr_event(lab.api.vpc, public), f"{lab.api.vpc} {public}")
    reported = {f["resource"] for s in summaries for f in s.get("conflicts", []) if f.get("destination") == public}
    story.check(
        f"no web-vpc table routes {public}",
        all(public not in route_targets(clients, table) for table in lab.web.tables),
    )
    story.check(
        f"the refusal is reported as a conflict for each web-vpc table ({len(reported)})",
        reported == set(lab.web.tables),
    )
    story.check(
        f"every web-vpc table still routes {lab.api.cidr} to {pcx}", routed(clients, lab.web, lab.api.cidr, pcx)
    )


def chapter_stranger(story: Story, endpoint: str) -> str:
    lab, clients = story.lab, story.clients
    story.chapter(f"7. Account {STRANGER} (not on the allowlist) asks to peer with web-vpc")
    stranger = stranger_clients(clients, endpoint).ec2(REGION)
    vpc = build_network(stranger, "stranger-vpc", "10.2.0.0/16")
    created = stranger.create_vpc_peering_connection(VpcId=vpc.vpc, PeerVpcId=lab.web.vpc, PeerOwnerId=ACCOUNT)
    pcx = created["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    story.note(f"in AWS this event stays in account {STRANGER}; here it is forwarded to this account's bus")
    requester = {"owner": STRANGER, "vpc": vpc.vpc, "cidr": vpc.cidr}
    event = peering_request_event(pcx, requester, {"owner": ACCOUNT, "vpc": lab.web.vpc}, account=STRANGER)
    story.deliver(event, pcx)
    story.check(f"{pcx} is refused and left pending", peering_status(clients, pcx) == "pending-acceptance")
    return pcx


def chapter_sweep(story: Story, stranger_pcx: str) -> None:
    lab, clients = story.lab, story.clients
    story.chapter("8. The scheduled sweep")
    summaries = story.deliver(scheduled_event(), "rate(15 minutes)")
    refused = {f["resource"] for s in summaries for f in s.get("refused", [])}
    changed = {(a["kind"], a["resource"]) for s in summaries for a in s.get("actions", [])}
    default = clients.ec2(REGION).describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    default_vpc = default[0]["VpcId"] if default else ""
    story.check("the sweep is delivered", bool(summaries))
    story.check(f"the sweep finds {stranger_pcx} and still refuses it", stranger_pcx in refused)
    story.check(
        f"the sweep gives the default VPC {default_vpc}, which no event announced, its flow log",
        not default_vpc or ("create-flow-logs", default_vpc) in changed,
    )
    story.check("the sweep has nothing else to do", changed <= {("create-flow-logs", default_vpc)})
    story.check(f"{stranger_pcx} is still pending", peering_status(clients, stranger_pcx) == "pending-acceptance")
    tables = [table for network in lab.networks for table in network.tables]
    story.check(
        "no route to the stranger's 10.2.0.0/16", all("10.2.0.0/16" not in route_targets(clients, t) for t in tables)
    )


def play(story: Story, endpoint: str) -> None:
    chapter_vpcs(story)
    chapter_load_balancers(story)
    pcx = chapter_peering(story)
    chapter_ping(story)
    chapter_dns_drift(story)
    chapter_route_drift(story, pcx)
    chapter_hijack(story, pcx)
    stranger_pcx = chapter_stranger(story, endpoint)
    chapter_sweep(story, stranger_pcx)


def final_plan(story: Story, endpoint: str) -> None:
    from peerkeeper import cli  # noqa: PLC0415
    from peerkeeper.settings import Settings  # noqa: PLC0415

    story.chapter("9. peerkeeper plan")
    settings = Settings.from_env(os.environ)
    target = cli.Target(Clients(endpoint_url=endpoint), ACCOUNT, (settings,))
    doc = cli.run(cli.dry_run(target), "plan").document()
    cli.render_actions(story.console, doc, "Plan")
    cli.render_findings(story.console, doc)
    story.check("the plan has no action", doc["counts"]["actions"] == 0 and not doc["errors"])


def picture(console: Console, endpoint: str, path: Path, when: str) -> None:
    """``peerkeeper graph --format html`` of the lab as it is now, written to ``path``."""
    from peerkeeper import cli, graph  # noqa: PLC0415
    from peerkeeper.settings import Settings  # noqa: PLC0415

    target = cli.Target(Clients(endpoint_url=endpoint), ACCOUNT, (Settings.from_env(os.environ),))
    result = cli.run(cli.dry_run(target), "graph")
    observed = graph.observed(result.account_id, result.reports, result.inventories)
    graph.write_atomically(path, graph.render(graph.picture(observed, errors=result.errors), "html"))
    console.print(f"  [bold]picture of the lab {when}:[/bold] {path} [dim](open it in a browser)[/dim]")


def main() -> int:
    from rich.console import Console  # noqa: PLC0415

    from peerkeeper.rules import load_rules  # noqa: PLC0415

    console = Console(highlight=False)
    missing = missing_requirements()
    if missing:
        sys.stderr.write(
            f"peerkeeper: error: the demo needs its emulator ({', '.join(missing)} missing): {DEMO_EXTRA}\n"
        )
        return 1
    try:
        root = project_root()
        rules = load_rules(root / "template.yaml")
        with emulator() as endpoint:
            configure_process(endpoint)
            console.print(f"[bold]peerkeeper demo[/bold]: moto's AWS emulator at {endpoint} (loopback only)")
            clients = Clients(endpoint_url=endpoint)
            lab = build_lab(clients, endpoint)
            console.print(
                f"  seed lab: web-vpc {lab.web.vpc} 10.0.0.0/16, api-vpc {lab.api.vpc} 10.1.0.0/16, "
                f"internal ALBs web-elb and api-elb in {REGION}, api-eu-vpc 10.3.0.0/16 with an internal ALB also "
                f"named api-elb in {OTHER_REGION}, private zone {ZONE_NAME} ({lab.zone_id}) on web-vpc and "
                f"api-eu-vpc, log group {LOG_GROUP}, role {ROLE_NAME}"
            )
            console.print(f"  {len(rules)} rules from template.yaml route the events to functions/*/app.py")
            console.print("  peerkeeper's own calls are played back too, when a rule would deliver them")
            story = Story(console, rules, Functions(root), lab, clients)
            picture(console, endpoint, Path.cwd() / "demo-before.html", "before reconciling")
            play(story, endpoint)
            final_plan(story, endpoint)
            picture(console, endpoint, Path.cwd() / "demo-after.html", "after reconciling")
    except DemoError as error:
        console.print(f"[bold red]demo failed:[/bold red] {error}")
        return 1
    console.print()
    if story.failures:
        console.print(f"[bold red]✘ demo failed: {len(story.failures)} check(s) did not hold[/bold red]")
        for failure in story.failures:
            console.print(f"  - {failure}")
        return 1
    console.print(
        f"[bold green]✔ converged[/bold green]: {story.delivered} deliveries, every check held, plan is empty"
    )
    return 0
