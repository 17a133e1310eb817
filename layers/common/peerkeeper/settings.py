"""Configuration: the one place that reads ``os.environ``.

Every variable of the contract is parsed and validated once, when a function starts. A malformed
value raises :class:`SettingsError` naming the variable and the bad value, so a misconfigured
deployment fails loudly at init instead of acting on a half-understood policy.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from peerkeeper.partitions import partition_of

ENFORCE = "enforce"
DRY_RUN = "dry-run"
MODES = (ENFORCE, DRY_RUN)
TRAFFIC_TYPES = ("ALL", "ACCEPT", "REJECT")
RETRY_MODES = ("standard", "adaptive")

# RFC 1918, RFC 6598 (carrier-grade NAT) and any IPv6: what a private peer may announce.
DEFAULT_ALLOWED_PEER_CIDRS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,::/0"

IGNORE_TAG_KEY = "peerkeeper:ignore"
IGNORE_TAG_VALUE = "true"

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_VPC_RE = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_DNS_NAME_RE = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$")
_LB_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
_LOG_GROUP_RE = re.compile(r"^[\w\-/.#]{1,512}$")
_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_TABLE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_SNS_TOPIC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A configuration variable is malformed; the message names the variable and the value."""

    def __init__(self, variable: str, value: str, expected: str) -> None:
        super().__init__(f"{variable}={value!r} is invalid: expected {expected}")
        self.variable = variable
        self.value = value


@dataclass(frozen=True)
class DnsRecord:
    """One ``record=load-balancer-name[@region]`` pair of ``DNS_RECORDS``.

    ``region`` is the load balancer's region; empty means the function's own region.
    """

    record: str
    load_balancer: str
    region: str = ""

    def load_balancer_region(self, default: str) -> str:
        return self.region or default


@dataclass(frozen=True)
class Settings:
    region: str
    mode: str = ENFORCE
    allowed_peer_accounts: frozenset[str] = frozenset()
    allowed_peer_vpcs: frozenset[str] = frozenset()
    reject_unlisted: bool = False
    allowed_peer_cidrs: tuple[Network, ...] = tuple(
        ipaddress.ip_network(cidr) for cidr in DEFAULT_ALLOWED_PEER_CIDRS.split(",")
    )
    route_over_aggregates: bool = False
    dns_records: tuple[DnsRecord, ...] = ()
    dns_ttl: int = 300
    flow_log_group: str = "flow-logs-group"
    flow_log_role_arn: str | None = None
    flow_log_traffic_type: str = "ALL"
    retry_mode: str = "standard"
    max_attempts: int = 5
    mutation_burst: int = 50
    mutation_rate: float = 5.0
    notify_topic_arn: str | None = None  # optional SNS topic told of every action and refusal
    sweep_interval: int | None = None  # seconds between sweeps (the template's SweepSchedule rate)
    security_hub: bool = False  # refusals, conflicts and problems also become Security Hub findings
    conflicts_table: str | None = None  # DynamoDB table: which conflicts were told (notify once)

    @property
    def dry_run(self) -> bool:
        return self.mode == DRY_RUN

    def cidr_allowed(self, cidr: str) -> bool:
        """True when ``cidr`` lies inside one of ``ALLOWED_PEER_CIDRS`` (same IP version)."""
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return False  # not a CIDR at all: never routable
        return any(
            network.version == allowed.version and network.subnet_of(allowed)  # type: ignore[arg-type]
            for allowed in self.allowed_peer_cidrs
        )

    @property
    def partition(self) -> str:
        """The partition of the function's region (``aws``, ``aws-cn``, ``aws-us-gov`` ...)."""
        return partition_of(self.region).name

    def role_arn_for(self, account_id: str) -> str:
        """``FLOW_LOG_ROLE_ARN``, or the contract's default role in ``account_id`` (in this partition)."""
        return self.flow_log_role_arn or f"arn:{self.partition}:iam::{account_id}:role/flow-log-role"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        region = _get(env, "AWS_REGION") or _get(env, "AWS_DEFAULT_REGION")
        if not region:
            raise SettingsError("AWS_REGION", "", "the region the function runs in")
        if not _REGION_RE.match(region):
            raise SettingsError("AWS_REGION", region, "a region name such as us-east-1")
        return cls(
            region=region,
            mode=_choice(env, "PEERKEEPER_MODE", MODES, ENFORCE),
            allowed_peer_accounts=_id_list(env, "ALLOWED_PEER_ACCOUNTS", _ACCOUNT_RE, "12-digit account IDs"),
            allowed_peer_vpcs=_id_list(env, "ALLOWED_PEER_VPCS", _VPC_RE, "VPC IDs (vpc-...)"),
            reject_unlisted=_boolean(env, "REJECT_UNLISTED", default=False),
            allowed_peer_cidrs=_cidr_list(env, "ALLOWED_PEER_CIDRS", DEFAULT_ALLOWED_PEER_CIDRS),
            route_over_aggregates=_boolean(env, "ROUTE_OVER_AGGREGATES", default=False),
            dns_records=_dns_records(env, region),
            dns_ttl=_positive_int(env, "DNS_TTL", 300, maximum=2147483647),
            flow_log_group=_matching(env, "FLOW_LOG_GROUP", _LOG_GROUP_RE, "a log group name") or "flow-logs-group",
            flow_log_role_arn=_matching(env, "FLOW_LOG_ROLE_ARN", _ROLE_ARN_RE, "an IAM role ARN"),
            flow_log_traffic_type=_choice(env, "FLOW_LOG_TRAFFIC_TYPE", TRAFFIC_TYPES, "ALL", upper=True),
            retry_mode=_choice(env, "PEERKEEPER_RETRY_MODE", RETRY_MODES, "standard"),
            max_attempts=_positive_int(env, "PEERKEEPER_MAX_ATTEMPTS", 5, maximum=20),
            mutation_burst=_positive_int(env, "PEERKEEPER_MUTATION_BURST", 50, maximum=10000),
            mutation_rate=_positive_float(env, "PEERKEEPER_MUTATION_RATE", 5.0),
            notify_topic_arn=_matching(env, "PEERKEEPER_NOTIFY_TOPIC_ARN", _SNS_TOPIC_ARN_RE, "an SNS topic ARN"),
            sweep_interval=_rate_seconds(env, "PEERKEEPER_SWEEP_SCHEDULE"),
            security_hub=_boolean(env, "SECURITY_HUB", default=False),
            conflicts_table=_matching(env, "PEERKEEPER_CONFLICTS_TABLE", _TABLE_NAME_RE, "a DynamoDB table name"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, parsed on first use (function init) and cached for warm starts."""
    return Settings.from_env()


def _get(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str, *, upper: bool = False) -> str:
    value = _get(env, name) or default
    value = value.upper() if upper else value.lower()
    if value not in allowed:
        raise SettingsError(name, _get(env, name), " or ".join(allowed))
    return value


def _id_list(env: Mapping[str, str], name: str, pattern: re.Pattern[str], expected: str) -> frozenset[str]:
    items = [item.strip() for item in _get(env, name).split(",") if item.strip()]
    for item in items:
        if not pattern.match(item):
            raise SettingsError(name, item, f"comma-separated {expected}")
    return frozenset(items)


def _cidr_list(env: Mapping[str, str], name: str, default: str) -> tuple[Network, ...]:
    """Comma-separated IPv4/IPv6 blocks in canonical form (no host bits set); empty means the default."""
    raw = _get(env, name) or default
    networks: list[Network] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError:
            raise SettingsError(name, item, "comma-separated CIDR blocks such as 10.0.0.0/8 or ::/0") from None
    if not networks:
        raise SettingsError(name, raw, "at least one CIDR block")
    return tuple(networks)


def _boolean(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = _get(env, name).lower()
    if not value:
        return default
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise SettingsError(name, _get(env, name), "true or false")


def _positive_int(env: Mapping[str, str], name: str, default: int, *, maximum: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) <= maximum:
        raise SettingsError(name, raw, f"a positive integer up to {maximum}")
    return int(raw)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SettingsError(name, raw, "a positive number")
    return value


def _matching(env: Mapping[str, str], name: str, pattern: re.Pattern[str], expected: str) -> str | None:
    raw = _get(env, name)
    if not raw:
        return None
    if not pattern.match(raw):
        raise SettingsError(name, raw, expected)
    return raw


def _rate_seconds(env: Mapping[str, str], name: str) -> int | None:
    """Seconds between two runs of an EventBridge ``rate(N unit)`` schedule; ``None`` when unset."""
    raw = _get(env, name)
    if not raw:
        return None
    match = _RATE_RE.match(raw)
    if not match or int(match.group(1)) < 1 or (match.group(1) == "1") != (not match.group(2).endswith("s")):
        raise SettingsError(name, raw, "an EventBridge rate expression such as rate(15 minutes)")
    return int(match.group(1)) * _RATE_UNITS[match.group(2).rstrip("s")]


def _dns_records(env: Mapping[str, str], own_region: str) -> tuple[DnsRecord, ...]:
    records: list[DnsRecord] = []
    for pair in (p.strip() for p in _get(env, "DNS_RECORDS").split(",")):
        if not pair:
            continue
        record, sep, target = (part.strip() for part in pair.partition("="))
        if not sep or not record or not target:
            raise SettingsError("DNS_RECORDS", pair, "record=load-balancer-name[@region] pairs")
        if not _DNS_NAME_RE.match(record):
            raise SettingsError("DNS_RECORDS", pair, "a DNS name before '='")
        load_balancer, at, region = (part.strip() for part in target.partition("@"))
        if not _LB_NAME_RE.match(load_balancer):
            raise SettingsError("DNS_RECORDS", pair, "a load balancer name after '='")
        if at and not _REGION_RE.match(region):
            raise SettingsError("DNS_RECORDS", pair, "a region name such as eu-west-1 after '@'")
        if at and partition_of(region) != partition_of(own_region):
            # One set of credentials reaches one partition: aws-cn cannot be read from aws.
            raise SettingsError("DNS_RECORDS", pair, f"a region in the partition of {own_region} after '@'")
        records.append(DnsRecord(record.lower().rstrip("."), load_balancer, region))
    return tuple(records)


# -- peerkeeper intent, deployed (IntentFunction) --------------------------------------------
_SSM_PARAMETER_RE = re.compile(r"^/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
ORGANIZATION = "org"


@dataclass(frozen=True)
class IntentSettings:
    """``INTENT_PARAMETER_NAME`` (the SSM String parameter holding the network file), ``INTENT_ACCOUNTS``
    (``org``, or account IDs besides this one) and ``INTENT_ROLE_NAME`` (assumed in each of them)."""

    parameter_name: str
    accounts: tuple[str, ...] = ()  # empty: this account only
    organization: bool = False
    role_name: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IntentSettings | None:
        """``None`` when ``INTENT_PARAMETER_NAME`` is unset (no intent deployed)."""
        env = os.environ if environ is None else environ
        name = _get(env, "INTENT_PARAMETER_NAME")
        if not name:
            return None
        if not _SSM_PARAMETER_RE.match(name):
            raise SettingsError("INTENT_PARAMETER_NAME", name, "an SSM parameter name such as /peerkeeper/intent")
        raw = _get(env, "INTENT_ACCOUNTS")
        organization = raw.lower() == ORGANIZATION
        accounts = (
            () if organization else tuple(sorted(_id_list(env, "INTENT_ACCOUNTS", _ACCOUNT_RE, "12-digit account IDs")))
        )
        role = _get(env, "INTENT_ROLE_NAME")
        if (organization or accounts) and not _ROLE_NAME_RE.match(role):
            raise SettingsError("INTENT_ROLE_NAME", role, "the role name assumed in each account of INTENT_ACCOUNTS")
        return cls(name, accounts, organization, role)
