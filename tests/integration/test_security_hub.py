"""SECURITY_HUB=true: refusals, conflicts and problems as ASFF findings, through the real handlers.

moto 5.2.5 implements BatchImportFindings (an import with a known Id replaces the stored finding)
and GetFindings (paginated), but ignores GetFindings' Filters and validates none of ASFF: these tests
read every stored finding and check the required attributes themselves (botocore checks the request
shape on the client side). Where moto cannot fail (an account without Security Hub, a finding
refused by the service), the response is rewritten with botocore's ``before-call`` hook, in the
shape the real service answers: said so in each test.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from peerkeeper import securityhub
from peerkeeper.clients import default_clients
from peerkeeper.observability import metrics
from peerkeeper.reconcile import ReconcileError
from tests.support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    REGION,
    ec2_client,
    handler,
    load_event,
    peering_status,
    request_peering,
)

sweep, accept = handler("sweep"), handler("accept_peering")
PRODUCT_ARN = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
REQUIRED = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "Title",
    "Description",
    "Resources",
)


def stored() -> list[dict[str, Any]]:
    """Every finding moto holds (all pages; moto ignores filters, so this is everything)."""
    hub: Any = boto3.client("securityhub", region_name=REGION)
    return [f for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]]


def active() -> list[dict[str, Any]]:
    return [f for f in stored() if f.get("RecordState") == "ACTIVE"]


def scheduled() -> dict[str, Any]:
    return load_event("sweep__Scheduled")


def emitted(output: str) -> Counter[str]:
    """Sum of every EMF metric Powertools printed in ``output``."""
    totals: Counter[str] = Counter()
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    totals[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return totals


@pytest.fixture
def refused(lab, configure) -> str:
    """A same-account request while only another account is allowed: refused on every sweep."""
    configure(SECURITY_HUB="true", ALLOWED_PEER_ACCOUNTS=OTHER_ACCOUNT)
    return request_peering(ec2_client(), lab.api_vpc, lab.web_vpc)


def test_a_refused_request_becomes_one_active_finding_with_every_required_attribute(refused, lab, lambda_context):
    summary = sweep(scheduled(), lambda_context)

    [finding] = stored()
    assert summary["security_hub"] == {"imported": 1, "archived": 0, "unchanged": 0}
    assert all(finding.get(name) for name in REQUIRED), finding
    assert finding["SchemaVersion"] == "2018-10-08"
    assert finding["ProductArn"] == PRODUCT_ARN
    assert finding["AwsAccountId"] == ACCOUNT
    assert finding["Id"] == f"peerkeeper/{ACCOUNT}/{REGION}/peering/refused/{refused}"
    assert finding["GeneratorId"] == "peerkeeper/peering/refused"
    assert finding["RecordState"] == "ACTIVE"
    assert finding["Severity"]["Label"] == "MEDIUM"
    assert finding["FindingProviderFields"]["Severity"]["Label"] == "MEDIUM"
    assert finding["Types"] == finding["FindingProviderFields"]["Types"]
    assert finding["CreatedAt"] == finding["UpdatedAt"] == finding["FirstObservedAt"]
    assert f"requester account {ACCOUNT} is not allowed" in finding["Description"]
    assert "ALLOWED_PEER_ACCOUNTS" in finding["Remediation"]["Recommendation"]["Text"]
    primary, *related = finding["Resources"]
    assert primary == {
        "Type": "AwsEc2VpcPeeringConnection",
        "Id": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-peering-connection/{refused}",
        "Partition": "aws",
        "Region": REGION,
    }
    assert {"Type": "AwsEc2Vpc", "Id": lab.api_vpc, "Partition": "aws"} in related
    assert finding["ProductFields"]["peerkeeper/Resource"] == refused


def test_the_finding_stays_one_finding_over_repeated_sweeps_and_is_archived_once_accepted(
    refused, lab, configure, calls, lambda_context
):
    sweep(scheduled(), lambda_context)
    [first] = stored()

    # Unchanged: nothing imported (no "Findings - Imported" event for automations to act on twice).
    calls.clear()
    summary = sweep(scheduled(), lambda_context)
    assert "BatchImportFindings" not in calls.operations
    assert summary["security_hub"] == {"imported": 0, "archived": 0, "unchanged": 1}
    assert stored() == [first]

    # Still refused, for another reason: the same finding is updated, CreatedAt kept, UpdatedAt later.
    other_vpc = ec2_client().create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    configure(ALLOWED_PEER_ACCOUNTS=ACCOUNT, ALLOWED_PEER_VPCS=other_vpc)
    summary = sweep(scheduled(), lambda_context)
    [second] = stored()
    assert summary["security_hub"]["imported"] == 1
    assert second["Id"] == first["Id"]
    assert second["CreatedAt"] == first["CreatedAt"]
    assert second["FirstObservedAt"] == first["FirstObservedAt"]
    assert second["UpdatedAt"] > first["UpdatedAt"]
    assert f"requester VPC {lab.api_vpc} is not allowed" in second["Description"]

    # Allowed at last: the sweep accepts the request and archives the finding.
    configure(ALLOWED_PEER_ACCOUNTS=ACCOUNT, ALLOWED_PEER_VPCS="")
    summary = sweep(scheduled(), lambda_context)
    assert peering_status(ec2_client(), refused) == "active"
    [archived] = stored()
    assert summary["security_hub"] == {"imported": 0, "archived": 1, "unchanged": 0}
    assert archived["Id"] == first["Id"]
    assert archived["RecordState"] == "ARCHIVED"
    assert archived["CreatedAt"] == first["CreatedAt"]
    assert archived["UpdatedAt"] > second["UpdatedAt"]

    # Archived stays archived: later sweeps neither touch it nor make a new one.
    calls.clear()
    summary = sweep(scheduled(), lambda_context)
    assert "BatchImportFindings" not in calls.operations
    assert summary["security_hub"] == {"imported": 0, "archived": 0, "unchanged": 0}
    assert [f["RecordState"] for f in stored()] == ["ARCHIVED"]


def test_an_unchanged_finding_is_refreshed_once_a_day(refused, lambda_context):
    sweep(scheduled(), lambda_context)
    [finding] = stored()
    # The world as if that import happened two days ago (moto stores what it is sent).
    two_days_ago = securityhub.timestamp(datetime.now(UTC) - timedelta(days=2))
    old = {**finding, "CreatedAt": two_days_ago, "FirstObservedAt": two_days_ago, "UpdatedAt": two_days_ago}
    hub: Any = boto3.client("securityhub", region_name=REGION)
    hub.batch_import_findings(Findings=[old])

    summary = sweep(scheduled(), lambda_context)

    [refreshed] = stored()
    assert summary["security_hub"] == {"imported": 1, "archived": 0, "unchanged": 0}
    assert refreshed["CreatedAt"] == two_days_ago
    assert refreshed["UpdatedAt"] > two_days_ago
    assert refreshed["LastObservedAt"] == refreshed["UpdatedAt"]


def test_an_event_handler_archives_only_findings_about_the_resources_its_event_names(lab, configure, lambda_context):
    configure(SECURITY_HUB="true", ALLOWED_PEER_ACCOUNTS=OTHER_ACCOUNT)
    ec2 = ec2_client()
    named = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    elsewhere_vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    unnamed = request_peering(ec2, elsewhere_vpc, lab.web_vpc)
    sweep(scheduled(), lambda_context)
    assert len(active()) == 2
    configure(ALLOWED_PEER_ACCOUNTS=ACCOUNT)

    event = load_event(
        "accept_peering__CreateVpcPeeringConnection", web_vpc=lab.web_vpc, api_vpc=lab.api_vpc, peering=named
    )
    summary = accept(event, lambda_context)

    assert summary["security_hub"]["archived"] == 1
    state = {f["ProductFields"]["peerkeeper/Resource"]: f["RecordState"] for f in stored()}
    # The other request would be accepted now too, but this event did not look at it: the sweep will.
    assert state == {named: "ARCHIVED", unnamed: "ACTIVE"}
    sweep(scheduled(), lambda_context)
    assert {f["RecordState"] for f in stored()} == {"ARCHIVED"}


def test_a_route_conflict_is_a_high_finding_per_destination(lab, configure, lambda_context):
    configure(SECURITY_HUB="true")
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.create_route(RouteTableId=lab.web_tables[0], DestinationCidrBlock="10.1.0.0/16", GatewayId=igw)

    summary = sweep(scheduled(), lambda_context)

    [conflict] = [f for f in active() if f["GeneratorId"] == "peerkeeper/routes/conflict"]
    assert summary["conflicts"][0]["resource"] == lab.web_tables[0]
    assert conflict["Id"] == f"peerkeeper/{ACCOUNT}/{REGION}/routes/conflict/{lab.web_tables[0]}/10.1.0.0/16"
    assert conflict["Severity"]["Label"] == "HIGH"
    assert conflict["Resources"][0]["Type"] == "AwsEc2RouteTable"
    assert conflict["Resources"][0]["Id"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:route-table/{lab.web_tables[0]}"
    assert {"Type": "AwsEc2VpcPeeringConnection", "Id": pcx, "Partition": "aws"} in conflict["Resources"]

    # The user removes their route: the next sweep routes the peering and archives the conflict.
    ec2.delete_route(RouteTableId=lab.web_tables[0], DestinationCidrBlock="10.1.0.0/16")
    sweep(scheduled(), lambda_context)
    assert [f for f in active() if f["GeneratorId"] == "peerkeeper/routes/conflict"] == []


def test_a_concern_that_cannot_be_observed_archives_none_of_its_findings(lab, configure, lambda_context):
    configure(SECURITY_HUB="true")
    ec2 = ec2_client()
    request_peering(ec2, lab.api_vpc, lab.web_vpc)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.create_route(RouteTableId=lab.web_tables[0], DestinationCidrBlock="10.1.0.0/16", GatewayId=igw)
    sweep(scheduled(), lambda_context)
    [conflict] = [f["Id"] for f in active() if f["GeneratorId"] == "peerkeeper/routes/conflict"]
    ec2.delete_route(RouteTableId=lab.web_tables[0], DestinationCidrBlock="10.1.0.0/16")
    # Rewritten response: DescribeRouteTables unavailable (moto always answers). The conflict is
    # gone, but this sweep cannot see it: its silence must not archive the finding.
    unavailable = _answer(503, {"Error": {"Code": "Unavailable", "Message": "Service is unavailable"}})
    events = default_clients().ec2(REGION).meta.events
    events.register_first("before-call.ec2.DescribeRouteTables", unavailable)

    with pytest.raises(ReconcileError):
        sweep(scheduled(), lambda_context)

    assert conflict in [f["Id"] for f in active()]
    events.unregister("before-call.ec2.DescribeRouteTables", unavailable)
    sweep(scheduled(), lambda_context)
    assert conflict not in [f["Id"] for f in active()]


def test_without_security_hub_no_client_is_made_and_no_call_is_sent(refused, configure, calls, lambda_context):
    configure(SECURITY_HUB="false")

    summary = sweep(scheduled(), lambda_context)

    assert "security_hub" not in summary
    assert not [op for op in calls.operations if op in ("GetFindings", "BatchImportFindings")]
    assert ("securityhub", REGION) not in default_clients()._cache


def _answer(status: int, parsed: dict[str, Any]) -> Any:
    def before_call(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        url = f"https://securityhub.{REGION}.amazonaws.com/"
        response = AWSResponse(url, status, HTTPHeaders(), None)
        return response, {**parsed, "ResponseMetadata": {"HTTPStatusCode": status}}

    return before_call


def test_a_failing_import_is_logged_and_counted_and_never_fails_the_reconcile(refused, capsys, caplog, lambda_context):
    # Rewritten response: the call refused by IAM (moto authorises everything). The request never
    # reaches moto.
    message = f"User: arn:aws:sts::{ACCOUNT}:assumed-role/peerkeeper/f is not authorized to perform: x"
    denied = {"Error": {"Code": "AccessDeniedException", "Message": message}}
    default_clients().session.events.register_first("before-call.securityhub.BatchImportFindings", _answer(403, denied))
    metrics.clear_metrics()
    capsys.readouterr()

    summary = sweep(scheduled(), lambda_context)

    assert summary["refused"][0]["resource"] == refused
    assert summary["security_hub"]["failed"] == 1
    assert summary["security_hub"]["imported"] == 0
    assert "AccessDeniedException" in summary["security_hub"]["error"]
    assert emitted(capsys.readouterr().out)["SecurityHubImportFailed"] == 1
    [logged] = [r for r in caplog.records if r.getMessage() == "security hub import failed"]
    assert logged.levelname == "ERROR"
    assert stored() == []


def test_a_finding_the_service_refuses_is_counted_and_the_others_imported(lab, configure, capsys, lambda_context):
    configure(SECURITY_HUB="true", ALLOWED_PEER_ACCOUNTS=OTHER_ACCOUNT)
    ec2 = ec2_client()
    first = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    second_vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    request_peering(ec2, second_vpc, lab.web_vpc)
    refused_id = f"peerkeeper/{ACCOUNT}/{REGION}/peering/refused/{first}"

    # Rewritten response, in the shape of the real partial failure (HTTP 200, FailedFindings): the
    # hook answers for the first finding and passes the rest on to moto.
    hub = boto3.client("securityhub", region_name=REGION)

    def partial(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        findings = json.loads(params["body"])["Findings"]  # before-call sees the serialised request
        kept = [f for f in findings if f["Id"] != refused_id]
        hub.batch_import_findings(Findings=kept)
        parsed = {
            "FailedCount": len(findings) - len(kept),
            "SuccessCount": len(kept),
            "FailedFindings": [
                {"Id": refused_id, "ErrorCode": "InvalidInput", "ErrorMessage": "Finding size exceeded 240 KB"}
            ],
        }
        return _answer(200, parsed)()

    hooks: Any = default_clients().session.events
    hooks.register_first("before-call.securityhub.BatchImportFindings", partial)
    metrics.clear_metrics()
    capsys.readouterr()

    summary = sweep(scheduled(), lambda_context)

    assert summary["security_hub"]["imported"] == 1
    assert summary["security_hub"]["failed"] == 1
    assert emitted(capsys.readouterr().out)["SecurityHubImportFailed"] == 1
    [imported] = stored()
    assert imported["Id"] != refused_id


def test_without_security_hub_enabled_nothing_is_imported_and_the_reconcile_goes_on(refused, capsys, lambda_context):
    # Rewritten response: what GetFindings answers in an account and region where Security Hub is
    # not enabled (HTTP 401); moto answers every account. Without the existing findings nothing is
    # imported: CreatedAt would be lost.
    not_enabled = {
        "Error": {
            "Code": "InvalidAccessException",
            "Message": f"Account {ACCOUNT} is not subscribed to AWS Security Hub",
        }
    }
    default_clients().session.events.register_first("before-call.securityhub.GetFindings", _answer(401, not_enabled))
    metrics.clear_metrics()
    capsys.readouterr()

    summary = sweep(scheduled(), lambda_context)

    assert summary["refused"][0]["resource"] == refused
    assert summary["security_hub"]["failed"] == 1
    assert "InvalidAccessException" in summary["security_hub"]["error"]
    assert emitted(capsys.readouterr().out)["SecurityHubImportFailed"] == 1
    assert stored() == []


def teardown_function() -> None:
    metrics.clear_metrics()
