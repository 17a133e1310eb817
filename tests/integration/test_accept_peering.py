"""accept_peering end to end: the real lambda_handler, events/ files, moto as AWS."""

from __future__ import annotations

import json

import pytest

from peerkeeper.settings import SettingsError
from tests.support import (
    ACCOUNT,
    build_vpc,
    ec2_client,
    handler,
    load_event,
    peering_status,
    request_peering,
    routes_of,
)

accept = handler("accept_peering")
CREATE = "accept_peering__CreateVpcPeeringConnection"


def event_for(lab, pcx: str, name: str = CREATE) -> dict:
    return load_event(name, web_vpc=lab.web_vpc, api_vpc=lab.api_vpc, peering=pcx)


def test_allowed_request_is_accepted_and_routed_both_ways(lab, lambda_context):
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)

    summary = accept(event_for(lab, pcx), lambda_context)

    assert peering_status(ec2, pcx) == "active"
    for table in lab.web_tables:
        assert routes_of(ec2, table)["10.1.0.0/16"] == pcx
    for table in lab.api_tables:
        assert routes_of(ec2, table)["10.0.0.0/16"] == pcx
    kinds = [(a["kind"], a["outcome"]) for a in summary["actions"]]
    assert kinds == [("accept-peering", "done")] + [("create-route", "done")] * len(lab.tables)
    assert summary["mode"] == "enforce"


def test_replay_makes_no_mutating_call(lab, calls, lambda_context):
    pcx = request_peering(ec2_client(), lab.api_vpc, lab.web_vpc)
    accept(event_for(lab, pcx), lambda_context)
    calls.clear()

    summary = accept(event_for(lab, pcx), lambda_context)

    assert calls.mutating == []
    assert summary["actions"] == []
    assert "refused" not in summary


def test_dry_run_makes_no_mutating_call_and_returns_the_plan(lab, calls, configure, lambda_context):
    configure(PEERKEEPER_MODE="dry-run")
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)

    summary = accept(event_for(lab, pcx), lambda_context)

    assert calls.mutating == []
    assert peering_status(ec2, pcx) == "pending-acceptance"
    assert summary["mode"] == "dry-run"
    planned = [(a["kind"], a["resource"], a["outcome"]) for a in summary["actions"]]
    assert planned[0] == ("accept-peering", pcx, "planned")
    assert sorted(p[1] for p in planned[1:]) == sorted(lab.tables)


def test_unlisted_account_is_refused_and_left_pending(lab, configure, lambda_context):
    configure(ALLOWED_PEER_ACCOUNTS="444455556666")
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)

    summary = accept(event_for(lab, pcx), lambda_context)

    assert peering_status(ec2, pcx) == "pending-acceptance"
    assert summary["actions"] == []
    assert f"requester account {ACCOUNT} is not allowed" in summary["refused"][0]["reason"]
    assert "10.1.0.0/16" not in routes_of(ec2, lab.web_tables[0])


def test_reject_unlisted_rejects_a_refused_request(lab, configure, lambda_context):
    configure(ALLOWED_PEER_ACCOUNTS="444455556666", REJECT_UNLISTED="true")
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)

    summary = accept(event_for(lab, pcx), lambda_context)

    assert peering_status(ec2, pcx) == "rejected"
    assert [(a["kind"], a["outcome"]) for a in summary["actions"]] == [("reject-peering", "done")]


def test_unlisted_vpc_is_refused(lab, configure, lambda_context):
    configure(ALLOWED_PEER_VPCS="vpc-0000000000000beef")
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)

    summary = accept(event_for(lab, pcx), lambda_context)

    assert peering_status(ec2, pcx) == "pending-acceptance"
    assert f"requester VPC {lab.api_vpc} is not allowed" in summary["refused"][0]["reason"]


def test_overlapping_secondary_cidr_is_refused(lab, lambda_context):
    """moto would happily accept overlapping VPCs: the product must refuse them itself."""
    ec2 = ec2_client()
    ec2.associate_vpc_cidr_block(VpcId=lab.api_vpc, CidrBlock="10.0.0.0/24")
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)

    summary = accept(event_for(lab, pcx), lambda_context)

    assert peering_status(ec2, pcx) == "pending-acceptance"
    assert "overlapping CIDRs: 10.0.0.0/24 overlaps 10.0.0.0/16" in summary["refused"][0]["reason"]


def test_ignored_connection_is_never_touched(lab, configure, lambda_context):
    configure(REJECT_UNLISTED="true", ALLOWED_PEER_ACCOUNTS="444455556666")
    ec2 = ec2_client()
    pcx = request_peering(
        ec2,
        lab.api_vpc,
        lab.web_vpc,
        TagSpecifications=[
            {"ResourceType": "vpc-peering-connection", "Tags": [{"Key": "peerkeeper:ignore", "Value": "true"}]}
        ],
    )

    summary = accept(event_for(lab, pcx), lambda_context)

    assert peering_status(ec2, pcx) == "pending-acceptance"
    assert summary["actions"] == []
    assert "ignore tag" in summary["refused"][0]["reason"]


def test_cross_region_request_is_accepted_in_the_accepter_region(aws, lambda_context):
    east, west = ec2_client("us-east-1"), ec2_client("us-west-2")
    api_vpc, api_tables, _ = build_vpc(east, "10.1.0.0/16", "api-vpc")
    web_vpc, web_tables, _ = build_vpc(west, "10.0.0.0/16", "web-vpc")
    pcx = request_peering(east, api_vpc, web_vpc, PeerRegion="us-west-2")
    event = load_event(f"{CREATE}_cross_region", web_vpc=web_vpc, api_vpc=api_vpc, peering=pcx)

    accept(event, lambda_context)

    assert peering_status(west, pcx) == "active"
    assert all(routes_of(west, table)["10.1.0.0/16"] == pcx for table in web_tables)
    assert all(routes_of(east, table)["10.0.0.0/16"] == pcx for table in api_tables)


def test_event_for_a_vanished_connection_returns_normally(lab, calls, lambda_context):
    summary = accept(event_for(lab, "pcx-0000000000000dead"), lambda_context)

    assert summary["actions"] == []
    assert calls.mutating == []


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"detail-type": "AWS API Call via CloudTrail", "detail": None},
        {"detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateVpcPeeringConnection"}},
        {"detail": {"eventSource": "ec2.amazonaws.com", "eventName": "TerminateInstances", "requestParameters": {}}},
    ],
)
def test_malformed_event_returns_normally(aws, calls, lambda_context, event):
    summary = accept(event, lambda_context)

    assert summary["actions"] == []
    assert summary["ignored"]
    assert calls.operations == []


def test_failed_call_event_is_ignored(lab, calls, lambda_context):
    pcx = request_peering(ec2_client(), lab.api_vpc, lab.web_vpc)
    event = event_for(lab, pcx)
    event["detail"]["errorCode"] = "Client.UnauthorizedOperation"
    event["detail"]["responseElements"] = None

    summary = accept(event, lambda_context)

    assert calls.operations == []
    assert "Client.UnauthorizedOperation" in summary["ignored"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ALLOWED_PEER_ACCOUNTS", "1234"), ("PEERKEEPER_MODE", "sometimes"), ("DNS_TTL", "zero")],
)
def test_bad_configuration_fails_at_start_naming_the_variable(aws, configure, lambda_context, capsys, variable, value):
    configure(**{variable: value})

    with pytest.raises(SettingsError, match=variable):
        accept(load_event(CREATE), lambda_context)

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [record["ConfigurationError"] for record in emf] == [[1.0]]
