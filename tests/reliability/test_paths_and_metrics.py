"""The allowlist on every path, self-triggering, EMF metrics, and nothing deleted."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest

from peerkeeper.cli import app
from peerkeeper.cli.demo.rules import load_rules, rules_matching
from peerkeeper.observability import metrics
from tests.reliability.conftest import ALL_EVENTS, assert_user_things_intact, function_of
from tests.support import (
    ACCOUNT,
    REGION,
    ec2_client,
    handler,
    load_event,
    other_account_client,
    peering_status,
    request_peering,
)

OTHER = "210987654321"
accept, sweep, repair = handler("accept_peering"), handler("sweep"), handler("repair_routes")


# -- the allowlist, identically on every path --------------------------------------------------
@pytest.fixture
def forbidden(lab) -> dict[str, str]:
    """Two requests to web-vpc that must never be accepted: an unlisted account, an overlapping VPC."""
    ec2, other = ec2_client(), other_account_client("ec2", OTHER)
    partner = other.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    unlisted = request_peering(other, partner, lab.web_vpc, PeerOwnerId=ACCOUNT)
    twin = ec2.create_vpc(CidrBlock="10.0.128.0/17")["Vpc"]["VpcId"]  # inside web-vpc's 10.0.0.0/16
    overlapping = request_peering(ec2, twin, lab.web_vpc)
    return {"unlisted": unlisted, "overlapping": overlapping, "partner": partner, "twin": twin}


def event_for(lab, pcx: str, requester: str) -> dict[str, Any]:
    return load_event("accept_peering__CreateVpcPeeringConnection", web_vpc=lab.web_vpc, api_vpc=requester, peering=pcx)


def refuse(path: str, lab, forbidden, context, capsys) -> set[str]:
    """Run one path; the ids it refused (or, for ``cli apply``, did not accept)."""
    if path == "event":
        refused = set()
        for name, requester in (("unlisted", "partner"), ("overlapping", "twin")):
            summary = accept(event_for(lab, forbidden[name], forbidden[requester]), context)
            refused |= {f["resource"] for f in summary.get("refused", [])}
        return refused
    if path == "sweep":
        return {f["resource"] for f in sweep(load_event("sweep__Scheduled"), context).get("refused", [])}
    capsys.readouterr()
    if path == "cli plan":
        assert app.main(["plan", "--json", "--region", REGION]) in (0, 2)
        plan = json.loads(capsys.readouterr().out)["concerns"]["peering"]
        assert not {a["resource"] for a in plan["actions"] if a["kind"] == "accept-peering"} & set(forbidden.values())
        return {f["resource"] for f in plan["refused"]}
    assert app.main(["apply", "--yes", "--region", REGION]) == 0
    return {forbidden["unlisted"], forbidden["overlapping"]}  # judged by the peering status below


@pytest.mark.parametrize("reject", ["false", "true"])
@pytest.mark.parametrize("path", ["event", "sweep", "cli plan", "cli apply"])
def test_an_unlisted_or_overlapping_request_is_accepted_on_no_path(
    lab, forbidden, configure, lambda_context, capsys, path, reject
):
    configure(ALLOWED_PEER_ACCOUNTS=ACCOUNT, REJECT_UNLISTED=reject)

    refused = refuse(path, lab, forbidden, lambda_context, capsys)

    ec2 = ec2_client()
    assert {forbidden["unlisted"], forbidden["overlapping"]} <= refused
    for name in ("unlisted", "overlapping"):
        status = peering_status(ec2, forbidden[name])
        assert status != "active", (path, name)
        if path != "cli plan":  # plan changes nothing; every other path rejects under REJECT_UNLISTED
            assert status == ("rejected" if reject == "true" else "pending-acceptance"), (path, name)
    metrics.clear_metrics()


# -- nothing deleted -------------------------------------------------------------------------------
def test_no_concern_and_no_sweep_ever_deletes_anything(world, calls, lambda_context):
    for name in [*ALL_EVENTS, "sweep__Scheduled"]:
        handler(function_of(name))(world.event(name), lambda_context)
    handler("sweep")(world.event("sweep__Scheduled"), lambda_context)

    operations = Counter(calls.operations)
    assert not [op for op in operations if op.startswith(("Delete", "Disassociate", "Detach", "Reject"))]
    assert operations["ReplaceRoute"] == 0  # nothing in this world is dead: nothing may be replaced
    for change in (p for op, p in calls.calls if op == "ChangeResourceRecordSets"):
        body = change["body"].decode() if isinstance(change["body"], bytes) else str(change["body"])
        assert "<Action>DELETE</Action>" not in body
        assert "<Action>UPSERT</Action>" in body
    assert_user_things_intact(world)
    metrics.clear_metrics()


# -- self-triggering -------------------------------------------------------------------------------
def cloudtrail(sample: str, event_name: str, request: dict[str, Any], response: Any = None) -> dict[str, Any]:
    """The CloudTrail event one of peerkeeper's own calls produces, built on a real sample's envelope."""
    event = copy.deepcopy(load_event(sample))
    event["detail"].update(eventName=event_name, requestParameters=request, responseElements=response)
    event["detail"]["userIdentity"]["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/peerkeeper-RepairRoutes/fn"
    return event


def own_writes_as_events(calls, world) -> list[dict[str, Any]]:
    events = []
    for operation, params in calls.calls:
        body = params.get("body")  # the query protocol's fields, before serialisation
        fields = body if isinstance(body, dict) else {}
        if operation == "AcceptVpcPeeringConnection":
            pcx = fields["VpcPeeringConnectionId"]
            response = {"vpcPeeringConnection": {"vpcPeeringConnectionId": pcx, "status": {"code": "provisioning"}}}
            events.append(
                cloudtrail(
                    "repair_routes__AcceptVpcPeeringConnection", operation, {"vpcPeeringConnectionId": pcx}, response
                )
            )
        elif operation in ("CreateRoute", "ReplaceRoute"):
            request = {"routeTableId": fields["RouteTableId"], "destinationCidrBlock": fields["DestinationCidrBlock"]}
            events.append(cloudtrail("repair_routes__ReplaceRoute", operation, request, {"_return": True}))
        elif operation == "ChangeResourceRecordSets":
            sample = load_event("sync_dns__ChangeResourceRecordSets", zone=world.zone_id)["detail"]["requestParameters"]
            events.append(cloudtrail("sync_dns__ChangeResourceRecordSets", operation, sample))
        elif operation == "CreateFlowLogs":
            request = {"CreateFlowLogsRequest": {"ResourceId": {"content": world.new_vpc, "tag": 1}}}
            events.append(
                cloudtrail("enable_flow_logs__DeleteFlowLogs", operation, request, {"CreateFlowLogsResponse": {}})
            )
    return events


def test_own_writes_cause_at_most_one_follow_up_each_and_it_is_a_no_op(world, calls, lambda_context):
    rules = load_rules("template.yaml")
    for name in ALL_EVENTS:
        handler(function_of(name))(world.event(name), lambda_context)
    writes = own_writes_as_events(calls, world)
    assert {e["detail"]["eventName"] for e in writes} >= {
        "AcceptVpcPeeringConnection",
        "CreateRoute",
        "ChangeResourceRecordSets",
        "CreateFlowLogs",
    }

    follow_ups: Counter[str] = Counter()
    for event in writes:
        matched = rules_matching(event, rules)
        assert len(matched) <= 1, (event["detail"]["eventName"], [r.name for r in matched])
        for rule in matched:
            calls.clear()
            summary = handler(rule.function)(event, lambda_context)
            follow_ups[rule.function] += 1
            assert calls.mutating == [], (event["detail"]["eventName"], calls.mutating)
            assert summary["actions"] == []
    print(f"self-trigger: {len(writes)} own writes, follow-ups {dict(follow_ups)}, all no-ops")  # noqa: T201
    metrics.clear_metrics()


# -- metrics ---------------------------------------------------------------------------------------
def emitted(capsys) -> Counter[str]:
    """Sum of every EMF metric Powertools printed (lines with an ``_aws`` key)."""
    totals: Counter[str] = Counter()
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "Peerkeeper"
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                totals[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return totals


def test_the_emf_metrics_of_a_known_scenario(world, configure, capsys, lambda_context):
    metrics.clear_metrics()
    ec2 = ec2_client()
    igw = next(iter(ec2.describe_internet_gateways()["InternetGateways"]))["InternetGatewayId"]
    ec2.create_route(RouteTableId=world.lab.api_tables[0], DestinationCidrBlock="10.0.0.0/16", GatewayId=igw)
    capsys.readouterr()

    accept(world.event("accept_peering__CreateVpcPeeringConnection"), lambda_context)
    first = emitted(capsys)
    accept(world.event("accept_peering__CreateVpcPeeringConnection"), lambda_context)
    replay = emitted(capsys)
    configure(ALLOWED_PEER_ACCOUNTS=OTHER)
    twin = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    refused_pcx = request_peering(ec2, twin, world.lab.web_vpc)
    accept(
        load_event(
            "accept_peering__CreateVpcPeeringConnection", web_vpc=world.lab.web_vpc, api_vpc=twin, peering=refused_pcx
        ),
        lambda_context,
    )
    refused = emitted(capsys)

    assert first["PeeringAccepted"] == 1
    assert first["RouteCreated"] == 3  # 2 web tables + 1 api table; the other api table conflicts
    assert first["RouteConflict"] == 1
    assert replay["NoChange"] == 1
    assert replay["RouteConflict"] == 1
    assert "RouteCreated" not in replay
    assert refused["PeeringRefused"] == 1
    assert "PeeringAccepted" not in refused
