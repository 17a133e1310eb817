"""Event -> scope: the CloudTrail quirks, and unknown or failed events answered with an empty scope."""

from __future__ import annotations

import pytest

from peerkeeper.events import scope_from_event


def cloudtrail(event_name: str, source: str = "ec2.amazonaws.com", **detail: object) -> dict[str, object]:
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + source.split(".", maxsplit=1)[0],
        "account": "111122223333",
        "region": "us-east-1",
        "detail": {"eventSource": source, "eventName": event_name, "awsRegion": "us-east-1", **detail},
    }


def test_cross_region_peering_request_points_at_the_accepter_region():
    event = cloudtrail(
        "CreateVpcPeeringConnection",
        requestParameters={
            "vpcId": "vpc-0a1b2c3d4e5f60002",
            "peerVpcId": "vpc-0a1b2c3d4e5f60001",
            "peerRegion": "us-west-2",
        },
        responseElements={
            "vpcPeeringConnection": {
                "vpcPeeringConnectionId": "pcx-0a1b2c3d4e5f60003",
                "accepterVpcInfo": {"ownerId": "111122223333", "vpcId": "vpc-0a1b2c3d4e5f60001", "region": "us-west-2"},
            }
        },
    )

    scope = scope_from_event(event, "eu-central-1")

    assert scope.region == "us-east-1"
    assert scope.peering_region == "us-west-2"
    assert scope.peering_ids == {"pcx-0a1b2c3d4e5f60003"}


def test_old_records_without_recipient_account_use_the_envelope():
    event = cloudtrail("DeleteRoute", requestParameters={"routeTableId": "rtb-0a1b2c3d4e5f60004"})

    scope = scope_from_event(event, "us-east-1")

    assert scope.account == "111122223333"
    assert scope.route_table_ids == {"rtb-0a1b2c3d4e5f60004"}


def test_delete_flow_logs_wrapper_means_the_whole_region():
    event = cloudtrail(
        "DeleteFlowLogs",
        requestParameters={"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-0a1b2c3d4e5f60007", "tag": 1}}},
        responseElements={"DeleteFlowLogsResponse": {"unsuccessful": ""}},
    )

    assert scope_from_event(event, "us-east-1").whole_region


@pytest.mark.parametrize(
    ("request_parameters", "expected"),
    [
        ({"name": "api-elb"}, {"api-elb"}),
        ({"loadBalancerName": "api-elb"}, {"api-elb"}),
        (
            {"loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/api-elb/50dc6c495c0c9188"},
            {"api-elb"},
        ),
        (
            {"loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/nlb-1/50dc6c495c0c9188"},
            {"nlb-1"},
        ),
    ],
)
def test_load_balancer_names_from_v2_and_classic_shapes(request_parameters, expected):
    event = cloudtrail(
        "DeleteLoadBalancer",
        "elasticloadbalancing.amazonaws.com",
        requestParameters=request_parameters,
        responseElements=None,
    )

    assert scope_from_event(event, "us-east-1").load_balancers == expected


@pytest.mark.parametrize("name", ["ChangeResourceRecordSets", "AssociateVPCWithHostedZone"])
def test_route53_event_is_reconciled_in_the_functions_own_region(name):
    """Route 53 is global: its events name us-east-1 wherever they are delivered (or forwarded to)."""
    event = cloudtrail(name, "route53.amazonaws.com", requestParameters={"hostedZoneId": "Z0A1B2C3D4E5F60008"})

    assert scope_from_event(event, "eu-west-1").region == "eu-west-1"
    assert scope_from_event(event, "us-east-1").region == "us-east-1"
    # A regional service's event still points at its own region.
    regional = cloudtrail("DeleteRoute", requestParameters={"routeTableId": "rtb-0a1b2c3d4e5f60004"})
    assert scope_from_event(regional, "eu-west-1").region == "us-east-1"


@pytest.mark.parametrize("zone", ["/hostedzone/Z0A1B2C3D4E5F60008", "Z0A1B2C3D4E5F60008"])
def test_hosted_zone_id_is_normalised(zone):
    event = cloudtrail("ChangeResourceRecordSets", "route53.amazonaws.com", requestParameters={"hostedZoneId": zone})

    assert scope_from_event(event, "us-east-1").zone_ids == {"Z0A1B2C3D4E5F60008"}


def test_failed_call_is_ignored_by_error_code_only():
    event = cloudtrail(
        "CreateVpc",
        errorCode="Client.UnauthorizedOperation",
        responseElements={"vpc": {"vpcId": "vpc-0a1b2c3d4e5f60009"}},
    )

    scope = scope_from_event(event, "us-east-1")

    assert scope.empty
    assert "Client.UnauthorizedOperation" in scope.ignored_reason


def test_scheduled_event_is_the_whole_region():
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "region": "eu-west-1", "detail": {}}

    scope = scope_from_event(event, "us-east-1")

    assert scope.whole_region
    assert scope.region == "eu-west-1"


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "text",
        {},
        {"detail": None},
        {"detail": "{}"},
        {"detail": {"eventName": "RunInstances", "eventSource": "ec2.amazonaws.com"}},
        {"detail": {"eventName": 5, "eventSource": ["x"]}},
        {"detail": {"eventName": "DeleteRoute", "eventSource": "ec2.amazonaws.com", "requestParameters": None}},
        {
            "detail": {
                "eventName": "DeleteRoute",
                "eventSource": "ec2.amazonaws.com",
                "requestParameters": {"routeTableId": "igw-123"},
            }
        },
        {
            "detail": {
                "eventName": "CreateVpc",
                "eventSource": "ec2.amazonaws.com",
                "responseElements": {"vpc": {"vpcId": ["\u2603"]}},
            }
        },
    ],
)
def test_malformed_or_unknown_events_give_an_empty_scope(event):
    scope = scope_from_event(event, "us-east-1")

    assert scope.empty
    assert scope.ignored_reason
