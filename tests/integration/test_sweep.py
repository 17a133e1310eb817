"""sweep end to end: the real lambda_handler on a scheduled event, moto as AWS, the state of the world asserted."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from peerkeeper import service
from peerkeeper.clients import default_clients
from peerkeeper.events import Scope
from peerkeeper.reconcile import Pacer, ReconcileError
from peerkeeper.service import Concern, env_for
from peerkeeper.settings import get_settings
from tests.support import (
    ACCOUNT,
    REGION,
    FakeContext,
    build_vpc,
    ec2_client,
    handler,
    internal_load_balancer,
    load_event,
    other_account_client,
    peering_status,
    request_peering,
    routes_of,
)

sweep = handler("sweep")
OTHER = "210987654321"
RECORD, ZONE_NAME, LB = "api.elb.lab.private", "elb.lab.private", "api-elb"
LOG_GROUP = "flow-logs-group"
ALL_CONCERNS = ("peering", "routes", "dns", "flow_logs")


def scheduled() -> dict[str, Any]:
    return load_event("sweep__Scheduled")


# -- world builders ---------------------------------------------------------------------------
def active_peering(ec2: Any, requester: str, accepter: str) -> str:
    """A connection accepted behind peerkeeper's back (no routes yet)."""
    pcx = request_peering(ec2, requester, accepter)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    return pcx


def private_zone(vpc: str, name: str = ZONE_NAME) -> str:
    route53: Any = boto3.client("route53")
    zone = route53.create_hosted_zone(
        Name=name,
        CallerReference=f"ref-{name}",
        VPC={"VPCRegion": REGION, "VPCId": vpc},
        HostedZoneConfig={"PrivateZone": True},
    )
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def set_cname(zone_id: str, value: str, name: str = RECORD, ttl: int = 300) -> None:
    boto3.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "CNAME",
                        "TTL": ttl,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ]
        },
    )


def cname_values(zone_id: str, name: str = RECORD) -> list[str]:
    records = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [
        value["Value"].rstrip(".")
        for record in records
        if record["Name"].rstrip(".") == name and record["Type"] == "CNAME"
        for value in record["ResourceRecords"]
    ]


def vpcs_with_flow_logs() -> set[str]:
    flow_logs = ec2_client().describe_flow_logs()["FlowLogs"]
    return {fl["ResourceId"] for fl in flow_logs if fl.get("LogGroupName") == LOG_GROUP}


def all_vpcs() -> set[str]:
    return {vpc["VpcId"] for vpc in ec2_client().describe_vpcs()["Vpcs"]}


def reads(calls: Any) -> Counter[str]:
    return Counter(name for name in calls.operations if name not in calls.mutating)


@pytest.fixture
def drifted(lab, configure):
    """A region where every concern has work: the seed lab plus a pending request and a wrong CNAME."""
    configure(DNS_RECORDS=f"{RECORD}={LB}")
    ec2 = ec2_client()
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=LOG_GROUP)
    web_api = active_peering(ec2, lab.api_vpc, lab.web_vpc)
    # Half the tables already route each other (added by hand), the rest do not.
    ec2.create_route(RouteTableId=lab.web_tables[0], DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=web_api)
    ec2.create_route(RouteTableId=lab.api_tables[0], DestinationCidrBlock="10.0.0.0/16", VpcPeeringConnectionId=web_api)
    db_vpc, db_tables, _ = build_vpc(ec2, "10.2.0.0/16", "db-vpc")
    pending = request_peering(ec2, db_vpc, lab.web_vpc)
    dns_name = internal_load_balancer(lab.web_vpc, "10.0")
    zone_id = private_zone(lab.web_vpc)
    set_cname(zone_id, "old-api-elb.example.com")
    return {
        "web_api": web_api,
        "pending": pending,
        "db_vpc": db_vpc,
        "db_tables": db_tables,
        "dns_name": dns_name,
        "zone_id": zone_id,
    }


# -- convergence ------------------------------------------------------------------------------
def test_sweep_converges_a_drifted_region(lab, drifted, lambda_context):
    ec2 = ec2_client()

    summary = sweep(scheduled(), lambda_context)

    web_api, pending = drifted["web_api"], drifted["pending"]
    assert peering_status(ec2, pending) == "active"
    for table in lab.web_tables:
        assert routes_of(ec2, table)["10.1.0.0/16"] == web_api
        assert routes_of(ec2, table)["10.2.0.0/16"] == pending
    for table in lab.api_tables:
        assert routes_of(ec2, table)["10.0.0.0/16"] == web_api
        assert "10.2.0.0/16" not in routes_of(ec2, table)  # no transitive routing
    for table in drifted["db_tables"]:
        assert routes_of(ec2, table)["10.0.0.0/16"] == pending
    assert vpcs_with_flow_logs() == all_vpcs()
    assert cname_values(drifted["zone_id"]) == [drifted["dns_name"]]
    kinds = Counter(action["kind"] for action in summary["actions"])
    assert kinds["accept-peering"] == 1
    assert kinds["create-route"] == 1 + 1 + 2 + 2  # web->api, api->web, web->db, db->web
    assert kinds["upsert-record"] == 1
    assert kinds["create-flow-logs"] >= 1
    assert {action["outcome"] for action in summary["actions"]} == {"done"}
    assert "remaining" not in summary
    assert "failed" not in summary


def test_second_sweep_makes_no_mutating_call(lab, drifted, calls, lambda_context):
    sweep(scheduled(), lambda_context)
    calls.clear()

    summary = sweep(scheduled(), lambda_context)

    assert calls.mutating == []
    assert summary["actions"] == []


def test_sweep_runs_on_any_trigger(lab, lambda_context):
    """A manual invoke with an empty or foreign event still sweeps the function's region."""
    ec2 = ec2_client()
    pcx = active_peering(ec2, lab.api_vpc, lab.web_vpc)

    summary = sweep({}, lambda_context)

    assert summary["scope"]["whole_region"] is True
    assert all(routes_of(ec2, table)["10.0.0.0/16"] == pcx for table in lab.api_tables)


def test_sweep_accepts_an_allowlisted_cross_account_request_and_routes_only_our_side(lab, configure, lambda_context):
    configure(ALLOWED_PEER_ACCOUNTS=f"{ACCOUNT},{OTHER}")
    other = other_account_client("ec2", OTHER)
    remote_vpc, remote_tables, _ = build_vpc(other, "10.5.0.0/16", "partner-vpc")
    pcx = request_peering(other, remote_vpc, lab.web_vpc, PeerOwnerId=ACCOUNT)
    ec2 = ec2_client()
    assert peering_status(ec2, pcx) == "pending-acceptance"

    summary = sweep(scheduled(), lambda_context)

    assert peering_status(ec2, pcx) == "active"
    for table in lab.web_tables:
        assert routes_of(ec2, table)["10.5.0.0/16"] == pcx
    for table in lab.api_tables:
        assert "10.5.0.0/16" not in routes_of(ec2, table)
    for table in remote_tables:
        assert "10.0.0.0/16" not in routes_of(other, table)  # their side is theirs to route
    routed = {a["resource"] for a in summary["actions"] if a["kind"] == "create-route"}
    assert routed == set(lab.web_tables)


def test_sweep_refuses_an_unlisted_cross_account_request_and_leaves_it_pending(lab, lambda_context):
    other = other_account_client("ec2", OTHER)
    remote_vpc, _, _ = build_vpc(other, "10.5.0.0/16", "stranger-vpc")
    pcx = request_peering(other, remote_vpc, lab.web_vpc, PeerOwnerId=ACCOUNT)

    summary = sweep(scheduled(), lambda_context)

    assert peering_status(ec2_client(), pcx) == "pending-acceptance"
    assert [f["resource"] for f in summary["refused"]] == [pcx]
    assert f"requester account {OTHER} is not allowed" in summary["refused"][0]["reason"]


# -- bulk observe -----------------------------------------------------------------------------
def build_region(vpc_count: int, first: int = 0) -> None:
    """``vpc_count`` VPCs with three route tables each, peered in pairs (half of them still pending)."""
    ec2 = ec2_client()
    numbers = range(first, first + vpc_count)
    vpcs = [build_vpc(ec2, f"10.{i}.0.0/16", f"vpc-{i}", extra_tables=2)[0] for i in numbers]
    for pair in range(vpc_count // 2):
        requester, accepter = vpcs[2 * pair], vpcs[2 * pair + 1]
        if pair % 2:
            active_peering(ec2, requester, accepter)
        else:
            request_peering(ec2, requester, accepter)


@pytest.fixture
def unpaced(configure):
    """Tests about reads need no pacing sleep (configured before ``calls`` hooks the fresh clients)."""
    configure(PEERKEEPER_MUTATION_BURST="10000")


@pytest.mark.slow
def test_sweep_reads_a_handful_whatever_the_size_of_the_region(aws, unpaced, calls, lambda_context):
    build_region(6)
    sweep(scheduled(), lambda_context)
    small = reads(calls)
    calls.clear()
    build_region(30, first=6)  # the region now has 36 VPCs, 108 route tables, 18 peerings (+ the default VPC)
    assert len(ec2_client().describe_route_tables()["RouteTables"]) == 108 + 1

    summary = sweep(scheduled(), lambda_context)

    large = reads(calls)
    assert large == small, "reads must not grow with the number of resources"
    for operation in ("DescribeVpcs", "DescribeRouteTables", "DescribeVpcPeeringConnections", "DescribeFlowLogs"):
        assert large[operation] == 1, operation
    assert sum(large.values()) <= 8, large
    assert len([a for a in summary["actions"] if a["kind"] == "create-route"]) == 15 * 2 * 3


# -- pacing -----------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_spends_the_burst_then_refills_at_the_rate():
    clock = FakeClock()
    pacer = Pacer(rate=5, burst=50, clock=clock, sleep=clock.sleep)

    for _ in range(60):
        pacer.acquire()

    assert sum(clock.slept) == pytest.approx(2.0)
    assert len(clock.slept) == 10


def test_sweep_paces_its_mutating_calls(aws, calls):
    """60 routes to create through the sweep's path: 50 at once, then 5 per second."""
    ec2 = ec2_client()
    web_vpc, _, _ = build_vpc(ec2, "10.0.0.0/16", "web-vpc", extra_tables=29)
    api_vpc, _, _ = build_vpc(ec2, "10.1.0.0/16", "api-vpc", extra_tables=29)
    active_peering(ec2, api_vpc, web_vpc)
    calls.clear()
    clock = FakeClock()
    settings = get_settings()
    env = env_for(settings, default_clients(), ACCOUNT)

    report = service.reconcile(
        env,
        Scope(REGION, whole_region=True),
        ("peering", "routes"),
        pacer=Pacer(settings.mutation_rate, settings.mutation_burst, clock=clock, sleep=clock.sleep),
    )

    assert calls.mutating == ["CreateRoute"] * 60
    assert len(report.ids("create-route", statuses=("done",))) == 60
    assert sum(clock.slept) == pytest.approx(2.0)


# -- deadline ---------------------------------------------------------------------------------
# A fake clock, not a timed test: every AWS call of peerkeeper's clients spends a fixed number of
# seconds of the context's remaining time (reads ``read_s``, mutations ``write_s``); the handler sees
# Lambda's ``get_remaining_time_in_millis`` fall as it works and must stop 10 s before zero.
class ClockContext(FakeContext):
    def __init__(self, budget_s: float, read_s: float = 0.0, write_s: float = 0.0) -> None:
        super().__init__()
        self.left_s, self.read_s, self.write_s = budget_s, read_s, write_s
        self.mutations_after_deadline = 0
        default_clients().session.events.register("before-call", self._spend)

    def _spend(self, model: Any, **_: Any) -> None:
        mutating = not model.name.startswith(("Describe", "List", "Get"))
        if mutating and self.left_s < 10:
            self.mutations_after_deadline += 1
        self.left_s -= self.write_s if mutating else self.read_s

    def get_remaining_time_in_millis(self) -> int:
        return int(self.left_s * 1000)


def test_sweep_stops_before_the_deadline_and_the_next_run_carries_on(lab, calls):
    ec2 = ec2_client()
    pcx = active_peering(ec2, lab.api_vpc, lab.web_vpc)

    # 4 routes to create; 39 s to go, 15 s per mutation: two fit before the 10 s reserve.
    context = ClockContext(budget_s=39, write_s=15)
    first = sweep(scheduled(), context)

    assert [a["outcome"] for a in first["actions"] if a["kind"] == "create-route"] == [
        "done",
        "done",
        "skipped",
        "skipped",
    ]
    # Past the deadline the flow logs are still planned from memory (read with the rest), not created.
    assert [a["outcome"] for a in first["actions"] if a["kind"] == "create-flow-logs"] == ["skipped"]
    assert first["remaining"] == 3
    assert "deadline" not in first  # nothing was left unobserved
    assert context.mutations_after_deadline == 0
    assert "failed" not in first
    calls.clear()

    second = sweep(scheduled(), FakeContext())

    assert "remaining" not in second
    assert len(calls.mutating) == first["remaining"]
    for table in lab.web_tables:
        assert routes_of(ec2, table)["10.1.0.0/16"] == pcx
    for table in lab.api_tables:
        assert routes_of(ec2, table)["10.0.0.0/16"] == pcx


def test_sweep_that_runs_out_of_time_while_reading_stops_cleanly_and_changes_nothing(lab, calls):
    ec2 = ec2_client()
    pcx = active_peering(ec2, lab.api_vpc, lab.web_vpc)
    calls.clear()

    # 9 s left when the sweep starts (under the 10 s reserve): no read starts. (The deadline in the
    # middle of a paginated read: tests/unit/test_inventory.py.)
    first = sweep(scheduled(), ClockContext(budget_s=9))

    assert calls.operations == []
    assert first["actions"] == []
    assert first["deadline"]["not_done"] == ["peering", "routes", "flow_logs"]  # no DNS_RECORDS: nothing to read
    assert first["deadline"]["while"].endswith("(not started)")
    (problem,) = first["problems"]
    assert problem["resource"] == "deadline"
    assert "the next run carries on" in problem["reason"]
    assert "failed" not in first  # a stop, not a failure: no retry of the scheduled event

    second = sweep(scheduled(), FakeContext())

    assert "deadline" not in second
    for table in lab.web_tables:
        assert routes_of(ec2, table)["10.1.0.0/16"] == pcx


def test_sweep_past_the_deadline_does_not_start_the_reads_of_a_concern(lab, configure, calls):
    configure(DNS_RECORDS=f"{RECORD}={LB}")
    ec2 = ec2_client()
    pcx = active_peering(ec2, lab.api_vpc, lab.web_vpc)
    calls.clear()

    first = sweep(scheduled(), ClockContext(budget_s=39, write_s=15))

    # Routes: two done, two skipped; DNS needs Route 53 reads: not started; flow logs: from memory.
    assert not any(name.startswith(("ListHostedZones", "DescribeLoadBalancers")) for name in calls.operations)
    assert first["deadline"] == {"while": "reading ListHostedZonesByName (not started)", "not_done": ["dns"]}
    assert first["remaining"] == 3

    sweep(scheduled(), FakeContext())

    for table in lab.web_tables:
        assert routes_of(ec2, table)["10.1.0.0/16"] == pcx


# -- failures ---------------------------------------------------------------------------------
def test_a_missing_zone_is_reported_and_the_other_concerns_still_run(lab, configure, lambda_context):
    configure(DNS_RECORDS=f"api.nowhere.private={LB}")
    ec2 = ec2_client()
    pcx = active_peering(ec2, lab.api_vpc, lab.web_vpc)
    internal_load_balancer(lab.web_vpc, "10.0")

    summary = sweep(scheduled(), lambda_context)

    assert any("api.nowhere.private" in str(problem) for problem in summary["problems"])
    assert all(routes_of(ec2, table)["10.0.0.0/16"] == pcx for table in lab.api_tables)
    assert vpcs_with_flow_logs() == all_vpcs()
    assert "failed" not in summary


def _failing_concern(code: str) -> Concern:
    def plan_for(env: Any, scope: Scope) -> Any:
        raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "ListHostedZones")

    return Concern("dns", plan_for, {})


def test_a_retryable_failure_in_one_concern_fails_the_run_after_the_others_ran(lab, monkeypatch, lambda_context):
    """moto never throttles: a fake DNS concern fails the way Route 53 does under load."""
    monkeypatch.setitem(service.CONCERNS, "dns", _failing_concern("Throttling"))
    ec2 = ec2_client()
    pcx = active_peering(ec2, lab.api_vpc, lab.web_vpc)

    with pytest.raises(ReconcileError, match="dns: Throttling"):
        sweep(scheduled(), lambda_context)

    assert all(routes_of(ec2, table)["10.0.0.0/16"] == pcx for table in lab.api_tables)
    assert vpcs_with_flow_logs() == all_vpcs()


def test_a_terminal_failure_in_one_concern_is_reported_without_failing_the_run(lab, monkeypatch, lambda_context):
    monkeypatch.setitem(service.CONCERNS, "dns", _failing_concern("NoSuchHostedZone"))
    active_peering(ec2_client(), lab.api_vpc, lab.web_vpc)

    summary = sweep(scheduled(), lambda_context)

    assert any("NoSuchHostedZone" in problem["reason"] for problem in summary["problems"])
    assert "failed" not in summary
    assert summary["actions"]
