"""Security Hub findings, the pure parts: ids, what a report says, what a reconcile may archive, the sync plan.

The batch test uses botocore's Stubber on a real client: Stubber validates every request against
botocore's Security Hub model, so the ASFF documents built here are checked for shape and required
members exactly as the SDK would send them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from peerkeeper import securityhub as sh
from peerkeeper.events import Scope
from peerkeeper.model import Finding, Plan
from peerkeeper.reconcile import Report
from peerkeeper.settings import Settings, SettingsError

WHERE = sh.Where("123456789012", "eu-west-1", "aws")
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
PCX, RTB, VPC = "pcx-0a1b2c3d4e5f60003", "rtb-0a1b2c3d4e5f60004", "vpc-0a1b2c3d4e5f60001"


def report(*plans: Plan) -> Report:
    result = Report(mode="enforce")
    for plan in plans:
        result.add(plan, [])
    return result


def refusal(reason: str = "requester account 210987654321 is not allowed", region: str = "eu-west-1") -> Plan:
    detail = {"requester": f"210987654321/{VPC}"}
    return Plan("peering", refused=(Finding(PCX, region, reason, detail),))


def conflict(destination: str) -> Finding:
    reason = f"{RTB} ({VPC}) routes {destination} to igw-1, not {PCX}"
    return Finding(RTB, "eu-west-1", reason, {"destination": destination, "target": "igw-1", "wanted": PCX})


def existing(item: sh.Reported, updated: datetime, *, fingerprint: str | None = None) -> sh.Existing:
    body = sh.content(item, WHERE)
    body["ProductFields"][f"{sh.FIELD}Fingerprint"] = fingerprint or sh.fingerprint(sh.content(item, WHERE))
    stamp = sh.timestamp(updated)
    document = sh.asff(WHERE, item.id, body, created=stamp, first_seen=stamp, updated=stamp, state=sh.ACTIVE)
    return sh.Existing.parse(document)


# -- ids ------------------------------------------------------------------------------------------
def test_the_id_names_resource_and_kind_and_never_the_reason() -> None:
    first = sh.reported(report(refusal("requester account 210987654321 is not allowed")), WHERE)
    later = sh.reported(report(refusal("overlapping CIDRs: 10.0.0.0/16 overlaps 10.0.0.0/16")), WHERE)

    assert list(first) == list(later) == [f"peerkeeper/123456789012/eu-west-1/peering/refused/{PCX}"]
    assert later[next(iter(later))].reasons == ("overlapping CIDRs: 10.0.0.0/16 overlaps 10.0.0.0/16",)


def test_one_table_conflicting_on_two_destinations_is_two_findings() -> None:
    found = sh.reported(report(Plan("routes", conflicts=(conflict("10.1.0.0/16"), conflict("10.2.0.0/16")))), WHERE)

    assert sorted(found) == [
        f"peerkeeper/123456789012/eu-west-1/routes/conflict/{RTB}/10.1.0.0/16",
        f"peerkeeper/123456789012/eu-west-1/routes/conflict/{RTB}/10.2.0.0/16",
    ]


def test_a_long_id_is_cut_to_512_characters_and_stays_deterministic() -> None:
    record = "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + ".example"
    finding = Finding(record * 2, "eu-west-1", "load balancer x not found", {})
    first = sh.finding_id(WHERE, "dns", sh.PROBLEM, finding)

    assert len(first) <= 512
    assert first == sh.finding_id(WHERE, "dns", sh.PROBLEM, finding)
    assert first != sh.finding_id(WHERE, "dns", sh.PROBLEM, Finding(record * 2 + "x", "eu-west-1", "", {}))


def test_two_reasons_for_one_resource_and_kind_are_one_finding_saying_both() -> None:
    plan = Plan(
        "dns",
        problems=(
            Finding("api.lab", "eu-west-1", "load balancer api-elb not found: record left as it is", {}),
            Finding("api.lab", "eu-west-1", "api.lab is listed more than once in DNS_RECORDS", {}),
        ),
    )

    [item] = sh.reported(report(plan), WHERE).values()

    assert len(item.reasons) == 2
    assert "not found" in sh.content(item, WHERE)["Description"]
    assert "more than once" in sh.content(item, WHERE)["Description"]


def test_a_finding_about_another_region_is_left_to_that_regions_stack() -> None:
    assert sh.reported(report(refusal(region="us-east-1")), WHERE) == {}


def test_severity_and_resources_by_kind() -> None:
    [refused] = sh.reported(report(refusal()), WHERE).values()
    [route] = sh.reported(report(Plan("routes", conflicts=(conflict("10.1.0.0/16"),))), WHERE).values()
    [problem] = sh.reported(
        report(Plan("dns", problems=(Finding("api.lab", "eu-west-1", "zone missing"),))), WHERE
    ).values()

    assert [sh.content(i, WHERE)["Severity"]["Label"] for i in (refused, route, problem)] == ["MEDIUM", "HIGH", "LOW"]
    # A peering connection belongs to its requester: its ARN names the requester's account.
    assert sh.content(refused, WHERE)["Resources"][0]["Id"] == (
        f"arn:aws:ec2:eu-west-1:210987654321:vpc-peering-connection/{PCX}"
    )
    route_resources = sh.content(route, WHERE)["Resources"]
    assert [r["Type"] for r in route_resources] == ["AwsEc2RouteTable", "AwsEc2Vpc", "AwsEc2VpcPeeringConnection"]
    assert sh.content(problem, WHERE)["Resources"] == [
        {"Type": "Other", "Id": "api.lab", "Partition": "aws", "Region": "eu-west-1"}
    ]


# -- what a reconcile may archive -----------------------------------------------------------------
def _found(concern: str, resource: str, **fields: str) -> sh.Existing:
    product_fields = {f"{sh.FIELD}Concern": concern, f"{sh.FIELD}Resource": resource}
    product_fields.update({f"{sh.FIELD}{key}": value for key, value in fields.items()})
    return sh.Existing.parse({"Id": f"x/{resource}", "ProductFields": product_fields})


SWEEP = Scope("eu-west-1", whole_region=True)
SETTINGS = Settings.from_env({"AWS_REGION": "eu-west-1", "DNS_RECORDS": "api.lab=api-elb"})
PEERED = frozenset({PCX})
DNS_FINDING = _found("dns", "api.lab", LoadBalancer="api-elb")
ALL = ("peering", "routes", "dns", "flow_logs")


@pytest.mark.parametrize(
    ("found", "scope", "concerns", "expected"),
    [
        (_found("peering", PCX), SWEEP, ALL, True),
        (_found("inventory", "inventory"), SWEEP, ALL, True),
        (_found("peering", PCX), Scope("eu-west-1", peering_ids=frozenset({PCX})), ("peering", "routes"), True),
        (_found("peering", PCX), Scope("eu-west-1", peering_ids=frozenset({"pcx-0ffff"})), ("peering",), False),
        (_found("peering", PCX), Scope("eu-west-1", vpc_ids=frozenset({VPC})), ("peering", "routes"), False),
        (_found("peering", PCX), Scope("eu-west-1", peering_ids=frozenset({PCX})), ("routes",), False),
        (_found("routes", RTB), Scope("eu-west-1", route_table_ids=frozenset({RTB})), ("routes",), True),
        (_found("routes", RTB, Wanted=PCX), Scope("eu-west-1", peering_ids=frozenset({PCX})), ("routes",), True),
        (_found("routes", RTB, Wanted=PCX), Scope("eu-west-1", vpc_ids=frozenset({VPC})), ("routes",), False),
        (_found("routes", VPC), Scope("eu-west-1", vpc_ids=frozenset({VPC})), ("routes",), True),
        # A peering event evaluates only its connection: a problem about a VPC it names is not covered.
        (_found("routes", VPC), Scope("eu-west-1", vpc_ids=frozenset({VPC}), peering_ids=PEERED), ("routes",), False),
        (
            _found("routes", RTB, Wanted="pcx-0ffff"),
            Scope("eu-west-1", route_table_ids=frozenset({RTB}), peering_ids=PEERED),
            ("routes",),
            False,
        ),
        (
            _found("dns", "api.lab", LoadBalancer="api-elb"),
            Scope("eu-west-1", load_balancers=frozenset({"API-ELB"})),
            ("dns",),
            True,
        ),
        (
            _found("dns", "api.lab", LoadBalancer="api-elb"),
            Scope("eu-west-1", zone_ids=frozenset({"Z1"})),
            ("dns",),
            False,
        ),
        (_found("flow_logs", VPC), Scope("eu-west-1", vpc_ids=frozenset({VPC})), ("flow_logs",), False),
    ],
)
def test_who_may_archive_what(found: sh.Existing, scope: Scope, concerns: tuple[str, ...], expected: bool) -> None:
    assert sh.responsible(found, scope, concerns, (), SETTINGS) is expected


def test_a_load_balancer_event_archives_only_records_of_a_load_balancer_in_its_region() -> None:
    settings = Settings.from_env(
        {"AWS_REGION": "eu-west-1", "DNS_RECORDS": "api.lab=api-elb@us-east-1,web.lab=web-elb"}
    )
    api, web = _found("dns", "api.lab", LoadBalancer="api-elb"), _found("dns", "web.lab", LoadBalancer="web-elb")
    here = Scope("eu-west-1", load_balancers=frozenset({"api-elb", "web-elb"}))
    there = Scope("us-east-1", load_balancers=frozenset({"api-elb", "web-elb"}))

    assert [sh.responsible(f, here, ("dns",), (), settings) for f in (api, web)] == [False, True]
    assert [sh.responsible(f, there, ("dns",), (), settings) for f in (api, web)] == [True, False]


def test_a_concern_that_could_not_be_observed_archives_nothing() -> None:
    blind_report = report(Plan("routes", problems=(Finding("routes", "eu-west-1", "observe failed: Throttling"),)))
    blind = sh.blind_concerns(blind_report)

    assert blind == {"routes"}
    assert not sh.responsible(_found("routes", RTB), SWEEP, ALL, blind, SETTINGS)
    assert sh.responsible(_found("peering", PCX), SWEEP, ALL, blind, SETTINGS)
    assert not sh.responsible(_found("peering", PCX), SWEEP, ALL, {"inventory"}, SETTINGS)


# -- the sync plan --------------------------------------------------------------------------------
def test_new_unchanged_changed_stale_and_resolved() -> None:
    [new] = sh.reported(report(refusal()), WHERE).values()
    [same] = sh.reported(report(Plan("routes", conflicts=(conflict("10.1.0.0/16"),))), WHERE).values()
    [changed] = sh.reported(report(Plan("routes", conflicts=(conflict("10.2.0.0/16"),))), WHERE).values()
    [stale] = sh.reported(report(Plan("routes", conflicts=(conflict("10.3.0.0/16"),))), WHERE).values()
    [gone] = sh.reported(report(Plan("routes", conflicts=(conflict("10.4.0.0/16"),))), WHERE).values()
    ahead = NOW + timedelta(minutes=1)  # a finding stamped by a clock that runs ahead of ours
    held = {
        same.id: existing(same, NOW - timedelta(hours=1)),
        changed.id: existing(changed, ahead, fingerprint="an older description"),
        stale.id: existing(stale, NOW - timedelta(hours=25)),
        gone.id: existing(gone, NOW - timedelta(hours=1)),
    }
    wanted = {item.id: item for item in (new, same, changed, stale)}

    plan = sh.plan_sync(wanted, held, WHERE, NOW, may_archive=lambda found: True)

    imported = {doc["Id"]: doc for doc in plan.imports}
    assert set(imported) == {new.id, changed.id, stale.id}
    assert plan.unchanged == 1
    assert imported[new.id]["CreatedAt"] == imported[new.id]["UpdatedAt"] == "2026-11-30T02:00:00.000Z"
    assert imported[changed.id]["CreatedAt"] == held[changed.id].created
    assert imported[changed.id]["UpdatedAt"] == "2026-11-30T02:01:00.001Z"  # forward, never back
    assert imported[stale.id]["CreatedAt"] == held[stale.id].created
    assert imported[stale.id]["UpdatedAt"] == "2026-11-30T02:00:00.000Z"
    [archived] = plan.archives
    assert archived["Id"] == gone.id
    assert archived["RecordState"] == "ARCHIVED"
    assert archived["CreatedAt"] == held[gone.id].created
    assert archived["Title"] == held[gone.id].document["Title"]
    assert all(doc["RecordState"] == "ACTIVE" for doc in plan.imports)


def test_nothing_is_archived_that_the_reconcile_was_not_responsible_for() -> None:
    [gone] = sh.reported(report(refusal()), WHERE).values()

    plan = sh.plan_sync({}, {gone.id: existing(gone, NOW)}, WHERE, NOW, may_archive=lambda found: False)

    assert plan.documents == []


def test_findings_are_imported_100_per_call_in_valid_asff() -> None:
    plans = [Plan("routes", conflicts=(conflict(f"10.{n // 250}.{n % 250}.0/24"),)) for n in range(250)]
    wanted = sh.reported(report(*plans), WHERE)
    documents = sh.plan_sync(wanted, {}, WHERE, NOW, may_archive=lambda found: True).documents
    hub = boto3.client("securityhub", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(hub) as stub:
        for start in (0, 100, 200):
            batch = documents[start : start + 100]
            stub.add_response(
                "batch_import_findings",
                {"FailedCount": 0, "SuccessCount": len(batch), "FailedFindings": []},
                expected_params={"Findings": batch},
            )
        failures = sh.import_findings(hub, documents)
        stub.assert_no_pending_responses()

    assert failures == []
    assert len(documents) == 250
    for document in documents:
        assert all(document.get(name) for name in sh.REQUIRED_ATTRIBUTES)


def test_a_failed_batch_names_every_finding_in_it_and_the_next_batch_still_goes() -> None:
    wanted = sh.reported(report(refusal(), Plan("routes", conflicts=(conflict("10.1.0.0/16"),))), WHERE)
    documents = sh.plan_sync(wanted, {}, WHERE, NOW, may_archive=lambda found: True).documents
    hub: Any = boto3.client("securityhub", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(hub) as stub:
        stub.add_client_error("batch_import_findings", "ThrottlingException", http_status_code=429)
        stub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
        failures = sh.import_findings(hub, documents, batch_size=1)
        stub.assert_no_pending_responses()

    assert [(f["Id"], f["ErrorCode"]) for f in failures] == [(documents[0]["Id"], "ThrottlingException")]


# -- settings -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [("", False), ("false", False), ("true", True), ("TRUE", True)])
def test_security_hub_setting(value: str, expected: bool) -> None:
    assert Settings.from_env({"AWS_REGION": "eu-west-1", "SECURITY_HUB": value}).security_hub is expected


def test_a_malformed_security_hub_setting_stops_the_function_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="SECURITY_HUB"):
        Settings.from_env({"AWS_REGION": "eu-west-1", "SECURITY_HUB": "maybe"})
