"""Small labs for one event each, built through the API, with the ids ``events/*.json`` stand for.

``build(clients, case)`` returns the ids keyed like ``tests.support.SAMPLE_IDS`` so the sample
event of the case can be loaded with its fixed ids replaced by the lab's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.emulator import ACCOUNT, REGION
from tests.support import SAMPLE_IDS, load_event

RECORD, ZONE_NAME, LB = "api.elb.lab.private", "elb.lab.private", "api-elb"
LOG_GROUP = "flow-logs-group"
# The environment every function gets (the template gives all of them the same variables).
FUNCTION_ENV = {
    "ALLOWED_PEER_ACCOUNTS": ACCOUNT,
    "DNS_RECORDS": f"{RECORD}={LB}",
    "FLOW_LOG_GROUP": LOG_GROUP,
    "POWERTOOLS_SERVICE_NAME": "peerkeeper",
    "POWERTOOLS_METRICS_NAMESPACE": "Peerkeeper",
}


@dataclass
class Lab:
    ids: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[str]] = field(default_factory=dict)

    def all_ids(self) -> list[str]:
        return [*self.ids.values(), *(t for tables in self.tables.values() for t in tables)]


def _vpc(ec2: Any, cidr: str, tables: int) -> tuple[str, list[str]]:
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    extra = [ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(tables - 1)]
    return vpc, [main, *extra]


def _network(clients: Callable[[str], Any], tables: int) -> Lab:
    ec2 = clients("ec2")
    lab = Lab()
    web, web_tables = _vpc(ec2, "10.0.0.0/16", tables)
    api, api_tables = _vpc(ec2, "10.1.0.0/16", tables)
    lab.ids.update(web_vpc=web, api_vpc=api)
    lab.tables.update(web=web_tables, api=api_tables)
    lab.ids["peering"] = ec2.create_vpc_peering_connection(VpcId=api, PeerVpcId=web)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    return lab


def _dns(clients: Callable[[str], Any], lab: Lab, value: str = "old-api-elb-999.us-east-1.elb.amazonaws.com") -> None:
    ec2, elbv2, route53 = clients("ec2"), clients("elbv2"), clients("route53")
    subnets = [
        ec2.create_subnet(VpcId=lab.ids["web_vpc"], CidrBlock=f"10.0.{10 + i}.0/24", AvailabilityZone=f"{REGION}{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    elbv2.create_load_balancer(Name=LB, Subnets=subnets, Scheme="internal", Type="application")
    zone = route53.create_hosted_zone(
        Name=ZONE_NAME,
        CallerReference=f"bench-{lab.ids['web_vpc']}",
        VPC={"VPCRegion": REGION, "VPCId": lab.ids["web_vpc"]},
        HostedZoneConfig={"PrivateZone": True},
    )
    lab.ids["zone"] = str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    record = {"Name": RECORD, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": value}]}
    route53.change_resource_record_sets(
        HostedZoneId=lab.ids["zone"], ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )


def _route_all(ec2: Any, lab: Lab, skip: str = "") -> None:
    pcx = lab.ids["peering"]
    for side, destination in (("web", "10.1.0.0/16"), ("api", "10.0.0.0/16")):
        for table in lab.tables[side]:
            if table != skip:
                ec2.create_route(RouteTableId=table, DestinationCidrBlock=destination, VpcPeeringConnectionId=pcx)


def build(clients: Callable[[str], Any], case: str, tables: int = 2) -> Lab:
    """The world just before the event of ``case`` is delivered (``tables`` route tables per VPC)."""
    lab = _network(clients, tables)
    ec2 = clients("ec2")
    # moto recreates the region's default VPC on reset, with a new id: a whole-region call names it.
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    lab.ids["default_vpc"] = default[0]["VpcId"] if default else "vpc-none"
    clients("logs").create_log_group(logGroupName=LOG_GROUP)
    if case == "repair_routes":  # accepted and routed, then one route deleted (the DeleteRoute event)
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=lab.ids["peering"])
        lab.ids["route_table"] = lab.tables["web"][0]
        _route_all(ec2, lab, skip=lab.ids["route_table"])
    elif case == "sync_dns":
        _dns(clients, lab)
    elif case == "enable_flow_logs":
        lab.ids["new_vpc"] = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    elif case == "sweep":  # every concern has work: pending request, no routes, wrong CNAME, no flow logs
        _dns(clients, lab)
    return lab


EVENT_OF = {
    "accept_peering": "accept_peering__CreateVpcPeeringConnection",
    "repair_routes": "repair_routes__DeleteRoute",
    "sync_dns": "sync_dns__CreateLoadBalancer_v2",
    "enable_flow_logs": "enable_flow_logs__CreateVpc",
    "sweep": "sweep__Scheduled",
}


def event(name: str, lab: Lab) -> dict[str, Any]:
    """``events/<name>.json`` with its fixed ids replaced by the lab's (and moto's account)."""
    return load_event(name, **{key: value for key, value in lab.ids.items() if key in SAMPLE_IDS})
