"""The reliability lab: every concern has work, and the user owns routes, records and flow logs
peerkeeper must never touch. Plus hooks to inject faults and to make botocore's backoff instant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.retries import standard

from peerkeeper.clients import default_clients
from peerkeeper.reconcile import ReconcileError
from tests.reliability.faults import Backoffs
from tests.support import (
    REGION,
    Lab,
    build_vpc,
    ec2_client,
    event_names,
    handler,
    internal_load_balancer,
    load_event,
    peering_status,
    request_peering,
    routes_of,
)

RECORD, ZONE_NAME, LB = "api.elb.lab.private", "elb.lab.private", "api-elb"
LOG_GROUP, OTHER_LOG_GROUP = "flow-logs-group", "audit-flow-logs"
ALL_EVENTS = event_names()
FUNCTIONS = ("accept_peering", "repair_routes", "sync_dns", "enable_flow_logs", "sweep")


@dataclass
class World:
    """The lab plus what each concern needs, and the user's own things (``user_*``)."""

    lab: Lab
    pcx: str  # api-vpc -> web-vpc, pending: the accept event's connection
    db_vpc: str
    db_tables: list[str]
    db_pcx: str  # db-vpc -> web-vpc, accepted by hand, unrouted
    new_vpc: str
    zone_id: str
    dns_name: str
    user_routes: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> destination -> target
    user_records: list[tuple[str, str]] = field(default_factory=list)  # (name, type)
    user_flow_log: str = ""

    def ids(self) -> dict[str, str]:
        """The substitutions that turn events/ samples into events about this world."""
        lab = self.lab
        return {
            "web_vpc": lab.web_vpc,
            "api_vpc": lab.api_vpc,
            "peering": self.pcx,
            "route_table": lab.web_tables[-1],
            "subnet": lab.web_subnet,
            "zone": self.zone_id,
            "new_vpc": self.new_vpc,
        }

    def event(self, name: str) -> dict[str, Any]:
        return load_event(name, **self.ids())


def function_of(event_name: str) -> str:
    return event_name.split("__", 1)[0]


def change(zone_id: str, name: str, kind: str, value: str, ttl: int = 300) -> None:
    record: Any = {"Name": name, "Type": kind, "TTL": ttl, "ResourceRecords": [{"Value": value}]}
    boto3.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )


def record_sets(zone_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
    found = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [
        (r["Name"].rstrip("."), r["Type"], tuple(v["Value"].rstrip(".") for v in r.get("ResourceRecords", [])))
        for r in found
    ]


def flow_logs() -> list[dict[str, Any]]:
    return list(ec2_client().describe_flow_logs()["FlowLogs"])


def build_world(lab: Lab) -> World:
    ec2 = ec2_client()
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=LOG_GROUP)
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    db_vpc, db_tables, _ = build_vpc(ec2, "10.2.0.0/16", "db-vpc")
    db_pcx = request_peering(ec2, db_vpc, lab.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=db_pcx)
    new_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    dns_name = internal_load_balancer(lab.web_vpc, "10.0")
    zone = boto3.client("route53").create_hosted_zone(
        Name=ZONE_NAME,
        CallerReference="reliability",
        VPC={"VPCRegion": "us-east-1", "VPCId": lab.web_vpc},
        HostedZoneConfig={"PrivateZone": True},
    )
    zone_id = str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    change(zone_id, RECORD, "CNAME", "old-api-elb.example.com", ttl=60)
    world = World(lab, pcx, db_vpc, db_tables, db_pcx, new_vpc, zone_id, dns_name)
    add_user_things(world)
    return world


def add_user_things(world: World) -> None:
    """Routes to an internet gateway, a NAT gateway, a transit gateway and another peering; records
    of other names and types; a flow log of another group and traffic type. None is peerkeeper's."""
    ec2, lab = ec2_client(), world.lab
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=lab.web_vpc)
    nat = ec2.create_nat_gateway(SubnetId=lab.web_subnet)["NatGateway"]["NatGatewayId"]
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    partner_vpc, _, _ = build_vpc(ec2, "10.7.0.0/16", "partner-vpc")
    partner_pcx = request_peering(ec2, partner_vpc, lab.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=partner_pcx)
    web_main, web_extra = lab.web_tables[0], lab.web_tables[-1]
    ec2.create_route(RouteTableId=web_main, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.create_route(RouteTableId=web_extra, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.create_route(RouteTableId=web_extra, DestinationCidrBlock="172.16.0.0/12", TransitGatewayId=tgw)
    for table in lab.web_tables:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.7.0.0/16", VpcPeeringConnectionId=partner_pcx)
    world.user_routes = {table: dict(routes_of(ec2, table)) for table in lab.tables + world.db_tables}
    change(world.zone_id, f"db.{ZONE_NAME}", "A", "10.2.1.10")
    change(world.zone_id, f"txt.{ZONE_NAME}", "TXT", '"owned by the database team"')
    change(world.zone_id, f"www.{ZONE_NAME}", "CNAME", "somewhere-else.example.com")
    world.user_records = [(name, kind) for name, kind, _ in record_sets(world.zone_id) if name != RECORD]
    world.user_flow_log = ec2.create_flow_logs(
        ResourceIds=[lab.web_vpc],
        ResourceType="VPC",
        TrafficType="REJECT",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=OTHER_LOG_GROUP,
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/audit-flow-logs",
    )["FlowLogIds"][0]


def assert_converged(world: World) -> None:
    """Every concern's desired state, and every user thing intact."""
    ec2, lab = ec2_client(), world.lab
    assert peering_status(ec2, world.pcx) == "active"
    for table in lab.web_tables:
        routes = routes_of(ec2, table)
        assert routes["10.1.0.0/16"] == world.pcx, table
        assert routes["10.2.0.0/16"] == world.db_pcx, table
    for table in lab.api_tables:
        assert routes_of(ec2, table)["10.0.0.0/16"] == world.pcx, table
    for table in world.db_tables:
        assert routes_of(ec2, table)["10.0.0.0/16"] == world.db_pcx, table
    cname = [values for name, kind, values in record_sets(world.zone_id) if name == RECORD and kind == "CNAME"]
    assert cname == [(world.dns_name,)]
    ours = {fl["ResourceId"] for fl in flow_logs() if fl.get("LogGroupName") == LOG_GROUP}
    assert ours >= {lab.web_vpc, lab.api_vpc, world.db_vpc, world.new_vpc}
    assert_user_things_intact(world)


def assert_user_things_intact(world: World) -> None:
    ec2 = ec2_client()
    for table, routes in world.user_routes.items():
        now = routes_of(ec2, table)
        assert {dest: now.get(dest) for dest in routes} == routes, table
    names = {(name, kind) for name, kind, _ in record_sets(world.zone_id)}
    assert set(world.user_records) <= names
    assert world.user_flow_log in {fl["FlowLogId"] for fl in flow_logs()}


def deliver(function: str, event: dict[str, Any], context: Any, attempts: int = 1) -> tuple[dict[str, Any], int]:
    """Invoke like EventBridge/Lambda: a ReconcileError is retried, up to ``attempts`` deliveries."""
    lambda_handler = handler(function)
    for delivery in range(1, attempts + 1):
        try:
            return lambda_handler(event, context), delivery
        except ReconcileError:
            if delivery == attempts:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def world(lab: Lab, configure: Callable[..., None]) -> World:
    configure(DNS_RECORDS=f"{RECORD}={LB}", FLOW_LOG_GROUP=LOG_GROUP)
    return build_world(lab)


@pytest.fixture
def hook(aws: None) -> Callable[[str, Any], None]:
    """Register a handler *first* on peerkeeper's session (before moto's ``before-send``).

    Clients copy the session's hooks when made, and peerkeeper makes them on first use: call this
    before invoking a handler.
    """

    def _hook(event: str, function: Any) -> None:
        default_clients().session.events.register_first(event, function)

    return _hook


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> Backoffs:
    """Keep botocore's retry decisions, record the backoff it computed, and sleep 0 s instead."""
    recorded = Backoffs()
    original = standard.ExponentialBackoff.delay_amount

    def delay_amount(self: Any, context: Any) -> float:
        recorded.delays.append(original(self, context))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", delay_amount)
    return recorded
