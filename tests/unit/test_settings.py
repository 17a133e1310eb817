"""Configuration is validated once, and a bad value stops the function naming the variable."""

from __future__ import annotations

import pytest

from peerkeeper.settings import DnsRecord, Settings, SettingsError

BASE = {"AWS_REGION": "eu-west-1"}


def test_defaults_follow_the_contract():
    settings = Settings.from_env(BASE)

    assert settings.mode == "enforce"
    assert not settings.dry_run
    assert settings.allowed_peer_accounts == frozenset()
    assert settings.allowed_peer_vpcs == frozenset()
    assert settings.reject_unlisted is False
    assert settings.dns_records == ()
    assert settings.dns_ttl == 300
    assert settings.flow_log_group == "flow-logs-group"
    assert settings.role_arn_for("123456789012") == "arn:aws:iam::123456789012:role/flow-log-role"
    assert settings.flow_log_traffic_type == "ALL"
    assert settings.retry_mode == "standard"
    assert [str(n) for n in settings.allowed_peer_cidrs] == [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "::/0",
    ]
    assert settings.route_over_aggregates is False
    assert Settings(region="eu-west-1").allowed_peer_cidrs == settings.allowed_peer_cidrs


def test_every_variable_is_parsed():
    settings = Settings.from_env(
        {
            **BASE,
            "PEERKEEPER_MODE": "dry-run",
            "ALLOWED_PEER_ACCOUNTS": "111122223333, 444455556666",
            "ALLOWED_PEER_VPCS": "vpc-0a1b2c3d4e5f60002",
            "REJECT_UNLISTED": "TRUE",
            "DNS_RECORDS": "api.elb.lab.private=api-elb, web.elb.lab.private.=web-elb",
            "DNS_TTL": "60",
            "FLOW_LOG_GROUP": "/org/flow-logs",
            "FLOW_LOG_ROLE_ARN": "arn:aws:iam::111122223333:role/delivery",
            "FLOW_LOG_TRAFFIC_TYPE": "reject",
            "PEERKEEPER_RETRY_MODE": "adaptive",
            "ALLOWED_PEER_CIDRS": " 10.0.0.0/16, 2600:1f18::/32 ",
            "ROUTE_OVER_AGGREGATES": "true",
        }
    )

    assert [str(n) for n in settings.allowed_peer_cidrs] == ["10.0.0.0/16", "2600:1f18::/32"]
    assert settings.route_over_aggregates is True

    assert settings.dry_run
    assert settings.allowed_peer_accounts == {"111122223333", "444455556666"}
    assert settings.allowed_peer_vpcs == {"vpc-0a1b2c3d4e5f60002"}
    assert settings.reject_unlisted is True
    assert settings.dns_records == (
        DnsRecord("api.elb.lab.private", "api-elb"),
        DnsRecord("web.elb.lab.private", "web-elb"),
    )
    assert settings.dns_ttl == 60
    assert settings.flow_log_group == "/org/flow-logs"
    assert settings.role_arn_for("999999999999") == "arn:aws:iam::111122223333:role/delivery"
    assert settings.flow_log_traffic_type == "REJECT"
    assert settings.retry_mode == "adaptive"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ALLOWED_PEER_ACCOUNTS", "12345"),
        ("ALLOWED_PEER_ACCOUNTS", "111122223333,abc"),
        ("ALLOWED_PEER_VPCS", "subnet-0a1b2c3d"),
        ("DNS_RECORDS", "api.elb.lab.private"),
        ("DNS_RECORDS", "api.elb.lab.private="),
        ("DNS_RECORDS", "=api-elb"),
        ("DNS_TTL", "0"),
        ("DNS_TTL", "-5"),
        ("DNS_TTL", "5m"),
        ("PEERKEEPER_MODE", "yolo"),
        ("FLOW_LOG_TRAFFIC_TYPE", "SOME"),
        ("REJECT_UNLISTED", "maybe"),
        ("FLOW_LOG_ROLE_ARN", "flow-log-role"),
        ("PEERKEEPER_RETRY_MODE", "legacy"),
        ("AWS_REGION", "mars"),
        ("ALLOWED_PEER_CIDRS", "10.0.0.0/8,banana"),
        ("ALLOWED_PEER_CIDRS", "10.0.0.1/8"),
        ("ALLOWED_PEER_CIDRS", "10.0.0.0/33"),
        ("ROUTE_OVER_AGGREGATES", "sometimes"),
    ],
)
def test_malformed_value_names_the_variable_and_the_value(variable, value):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, variable: value})

    assert raised.value.variable == variable
    assert variable in str(raised.value)
    bad_part = value.split(",")[-1].strip() if variable != "DNS_RECORDS" else value
    assert bad_part in str(raised.value)


def test_missing_region_is_named():
    with pytest.raises(SettingsError, match="AWS_REGION"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("cidr", "allowed"),
    [
        ("10.1.0.0/16", True),
        ("172.31.0.0/16", True),
        ("192.168.10.0/24", True),
        ("100.64.0.0/16", True),
        ("2600:1f18:aaaa:100::/56", True),
        ("52.94.0.0/16", False),
        ("10.0.0.0/7", False),  # wider than 10.0.0.0/8: not inside it
        ("172.32.0.0/16", False),
        ("11.0.0.0/8", False),
        ("not-a-cidr", False),
    ],
)
def test_default_allowed_peer_cidrs(cidr, allowed):
    assert Settings.from_env(BASE).cidr_allowed(cidr) is allowed


def test_an_ipv4_only_allowlist_refuses_every_ipv6_block():
    settings = Settings.from_env({**BASE, "ALLOWED_PEER_CIDRS": "10.0.0.0/8"})

    assert settings.cidr_allowed("10.9.0.0/16")
    assert not settings.cidr_allowed("2600:1f18::/56")


def test_dns_records_name_the_load_balancer_region():
    settings = Settings.from_env(
        {
            **BASE,
            "DNS_RECORDS": (
                "api.elb.lab.private=api-elb@us-east-1, web.elb.lab.private=web-elb, db.lab.private=db @ eu-west-1"
            ),
        }
    )

    assert settings.dns_records == (
        DnsRecord("api.elb.lab.private", "api-elb", "us-east-1"),
        DnsRecord("web.elb.lab.private", "web-elb", ""),
        DnsRecord("db.lab.private", "db", "eu-west-1"),
    )
    # Without @region, the load balancer is in the function's region.
    assert [pair.load_balancer_region(settings.region) for pair in settings.dns_records] == [
        "us-east-1",
        "eu-west-1",
        "eu-west-1",
    ]


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("api.elb.lab.private=api-elb@", "a region name"),
        ("api.elb.lab.private=api-elb@mars", "a region name"),
        ("api.elb.lab.private=api-elb@eu-west-1@us-east-1", "a region name"),
        ("api.elb.lab.private=@eu-west-1", "a load balancer name"),
        ("api.elb.lab.private=api_elb@eu-west-1", "a load balancer name"),
        ("api.elb.lab.private=api-elb@cn-north-1", "partition"),
    ],
)
def test_malformed_dns_records_region_names_the_variable_and_the_pair(pair, expected):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, "DNS_RECORDS": f"web.elb.lab.private=web-elb,{pair}"})

    assert raised.value.variable == "DNS_RECORDS"
    message = str(raised.value)
    assert message.startswith("DNS_RECORDS=")
    assert pair in message
    assert expected in message


# -- CONCERNS, FLOW_LOG_DESTINATION, ALLOWED_PEER_ACCOUNTS=organization (issue 22) -------------
def test_concerns_default_to_all_four_and_keep_the_sweeps_order():
    assert Settings.from_env(BASE).concerns == ("accept_peering", "repair_routes", "sync_dns", "enable_flow_logs")
    settings = Settings.from_env({**BASE, "CONCERNS": " repair_routes, accept_peering ,repair_routes"})

    assert settings.concerns == ("accept_peering", "repair_routes")
    assert settings.enabled(("peering", "routes", "dns", "flow_logs")) == ("peering", "routes")
    assert settings.runs("routes")
    assert not settings.runs("flow_logs")


@pytest.mark.parametrize("value", ["flow_logs", "accept_peering,dns", "all"])
def test_an_unknown_concern_is_refused_naming_the_variable(value):
    with pytest.raises(SettingsError, match="CONCERNS=") as caught:
        Settings.from_env({**BASE, "CONCERNS": value})
    assert caught.value.variable == "CONCERNS"


def test_flow_log_destination_is_a_log_group_or_an_s3_arn():
    default = Settings.from_env(BASE)
    assert (default.flow_log_destination, default.flow_log_bucket_arn) == ("flow-logs-group", None)

    group = Settings.from_env({**BASE, "FLOW_LOG_DESTINATION": "/org/vpc-flow"})
    assert (group.flow_log_group, group.flow_log_bucket_arn) == ("/org/vpc-flow", None)
    # FLOW_LOG_GROUP is the older name of a log-group destination: both may say the same.
    both = Settings.from_env({**BASE, "FLOW_LOG_DESTINATION": "/org/vpc-flow", "FLOW_LOG_GROUP": "/org/vpc-flow"})
    assert both.flow_log_group == "/org/vpc-flow"

    s3 = Settings.from_env({**BASE, "FLOW_LOG_DESTINATION": "arn:aws:s3:::org-flow-logs/vpc/"})
    assert s3.flow_log_bucket_arn == "arn:aws:s3:::org-flow-logs/vpc"
    assert s3.flow_log_destination == "arn:aws:s3:::org-flow-logs/vpc"
    assert Settings.from_env({**BASE, "FLOW_LOG_DESTINATION": "arn:aws:s3:::b.example"}).flow_log_bucket_arn


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"FLOW_LOG_DESTINATION": "arn:aws:logs:eu-west-1:111122223333:log-group:x"}, "S3 bucket ARN"),
        ({"FLOW_LOG_DESTINATION": "arn:aws:s3:::Upper-Case"}, "S3 bucket ARN"),
        ({"FLOW_LOG_DESTINATION": "arn:aws:s3:::bucket/AWSLogs"}, "S3 bucket ARN"),
        ({"FLOW_LOG_DESTINATION": "log group with spaces"}, "CloudWatch Logs group name"),
        ({"FLOW_LOG_DESTINATION": "/org/a", "FLOW_LOG_GROUP": "/org/b"}, "same log group as FLOW_LOG_GROUP"),
        ({"FLOW_LOG_DESTINATION": "arn:aws:s3:::bucket", "FLOW_LOG_GROUP": "/org/b"}, "FLOW_LOG_GROUP='/org/b'"),
    ],
)
def test_a_bad_or_contradictory_flow_log_destination_is_refused(environ, fragment):
    with pytest.raises(SettingsError, match="FLOW_LOG_DESTINATION=") as caught:
        Settings.from_env({**BASE, **environ})
    assert fragment in str(caught.value)


def test_allowed_peer_accounts_organization():
    settings = Settings.from_env({**BASE, "ALLOWED_PEER_ACCOUNTS": "Organization"})

    assert settings.allow_organization
    assert settings.allowed_peer_accounts == frozenset()  # resolved per run (reconcile.Env.trusting)
    assert not Settings.from_env({**BASE, "ALLOWED_PEER_ACCOUNTS": "111122223333"}).allow_organization
    with pytest.raises(SettingsError, match=r"ALLOWED_PEER_ACCOUNTS=.*organization alone"):
        Settings.from_env({**BASE, "ALLOWED_PEER_ACCOUNTS": "organization,111122223333"})


def test_organization_role_arn_is_a_role_arn():
    reader = "arn:aws:iam::999988887777:role/peerkeeper-organization-reader"
    environ = {**BASE, "ALLOWED_PEER_ACCOUNTS": "organization", "ORGANIZATION_ROLE_ARN": reader}
    assert Settings.from_env(environ).organization_role_arn == reader
    assert Settings.from_env(BASE).organization_role_arn is None
    with pytest.raises(SettingsError, match="ORGANIZATION_ROLE_ARN="):
        Settings.from_env({**environ, "ORGANIZATION_ROLE_ARN": "arn:aws:iam::999988887777:user/reader"})
