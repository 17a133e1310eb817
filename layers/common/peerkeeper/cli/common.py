"""What every command shares: exit codes, the options, the environment a run reads, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from peerkeeper.clients import Clients
from peerkeeper.fleet import DEFAULT_PARALLEL, DEFAULT_STACK_NAME, Target
from peerkeeper.settings import DRY_RUN, Settings, SettingsError

if TYPE_CHECKING:
    from rich.console import Console


# Outcome names of peerkeeper.reconcile (imported lazily: see main).
PLANNED, DONE, CONVERGED, TERMINAL, FAILED, SKIPPED = "planned", "done", "converged", "terminal", "failed", "skipped"

# The sweep's concerns, in the sweep's order (routes after peering: it routes what was just accepted).
CONCERNS = ("peering", "routes", "dns", "flow_logs")

FINDING_KINDS = ("refused", "conflicts", "problems")

EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2

EXIT_NOT_REACHABLE = 2  # why

ACCOUNT_ID = re.compile(r"\d{12}")

ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}|[\w+=,.@/-]{1,511}/[\w+=,.@-]{1,64}")  # a name, or a path and a name

# flag destination -> the contract variable it overrides
FLAG_VARIABLES = {
    "allowed_accounts": "ALLOWED_PEER_ACCOUNTS",
    "allowed_vpcs": "ALLOWED_PEER_VPCS",
    "reject_unlisted": "REJECT_UNLISTED",
    "allowed_cidrs": "ALLOWED_PEER_CIDRS",
    "route_over_aggregates": "ROUTE_OVER_AGGREGATES",
    "dns_records": "DNS_RECORDS",
    "dns_ttl": "DNS_TTL",
    "flow_log_group": "FLOW_LOG_GROUP",
    "flow_log_role_arn": "FLOW_LOG_ROLE_ARN",
    "flow_log_traffic_type": "FLOW_LOG_TRAFFIC_TYPE",
    "flow_log_destination": "FLOW_LOG_DESTINATION",
    "only": "CONCERNS",
}

_CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)


# How a count reads: "1 action", "2 conflicts" ("refused" reads the same).
NOUNS = {
    "actions": ("action", "actions"),
    "refused": ("refused", "refused"),
    "conflicts": ("conflict", "conflicts"),
    "problems": ("problem", "problems"),
    "errors": ("error", "errors"),
    "accounts": ("account", "accounts"),
}


def counted(number: int, noun: str) -> str:
    """``counted(1, "actions")`` is "1 action"; a noun not in :data:`NOUNS` takes an "s"."""
    one, many = NOUNS.get(noun, (noun, f"{noun}s"))
    return f"{number} {one if number == 1 else many}"


def stdout_is_terminal() -> bool:
    """Tables for a person at a terminal; whole lines for a pipe, a file or a CI log."""
    return sys.stdout.isatty()


def confirm(question: str) -> bool:
    """Ask on the terminal (stderr, so a piped stdout keeps only the plan); only "yes" or "y" says yes."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer:
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


class UsageError(Exception):
    """A mistake of the person running the command: reported in one line, exit 1."""


def effective_environ(base: Mapping[str, str], args: argparse.Namespace, region: str, mode: str) -> dict[str, str]:
    """The process environment, overridden by the flags, for one region and mode."""
    environ = dict(base)
    for dest, variable in FLAG_VARIABLES.items():
        value = getattr(args, dest, None)
        if isinstance(value, bool):
            environ[variable] = "true" if value else "false"
        elif value is not None:
            environ[variable] = str(value)
    environ.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "PEERKEEPER_MODE": mode})
    return environ


def _regions(args: argparse.Namespace, base: Mapping[str, str], session: boto3.Session) -> list[str]:
    regions = list(dict.fromkeys(args.region or []))
    if not regions:
        configured = base.get("AWS_REGION") or base.get("AWS_DEFAULT_REGION") or session.region_name
        if not configured:
            raise UsageError("no region: pass --region or set AWS_REGION (or a region in the profile)")
        regions = [configured]
    return regions


def _check_known_region(session: boto3.Session, region: str, base: Mapping[str, str], endpoint: str | None) -> None:
    """Refuse a region no partition knows, unless an endpoint (an emulator) is configured."""
    if endpoint or base.get("AWS_ENDPOINT_URL") or base.get("AWS_ENDPOINT_URL_EC2"):
        return
    known = {
        name
        for partition in session.get_available_partitions()
        for name in session.get_available_regions("ec2", partition)
    }
    if region not in known:
        raise UsageError(f"unknown region {region!r}: no EC2 endpoint is known for it")


def _settings_error(error: SettingsError, args: argparse.Namespace) -> UsageError:
    flags = {variable: dest for dest, variable in FLAG_VARIABLES.items()}
    if error.variable == "AWS_REGION":
        return UsageError(f"invalid region {error.value!r}: expected a region name such as us-east-1")
    dest = flags.get(error.variable)
    if dest is not None and getattr(args, dest, None) is not None:
        return UsageError(f"{error} (from --{dest.replace('_', '-')})")
    return UsageError(str(error))


def own_allowlist(args: argparse.Namespace, base: Mapping[str, str]) -> bool:
    """Like the template: an unset allowlist means the account itself (each account's own, in a fleet)."""
    return args.allowed_accounts is None and not base.get("ALLOWED_PEER_ACCOUNTS", "").strip()


def for_account(settings: Sequence[Settings], account_id: str, own: bool) -> tuple[Settings, ...]:
    if not own:
        return tuple(settings)
    return tuple(replace(s, allowed_peer_accounts=frozenset({account_id})) for s in settings)


def resolve(args: argparse.Namespace, base: Mapping[str, str], mode: str) -> Target:
    """Validate everything first (no AWS call on a malformed setting), then ask STS who we are."""
    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    regions = _regions(args, base, session)
    try:
        settings = [Settings.from_env(effective_environ(base, args, region, mode)) for region in regions]
    except SettingsError as error:
        raise _settings_error(error, args) from error
    for region in regions:
        _check_known_region(session, region, base, args.endpoint_url)
    first = settings[0]
    clients = Clients(
        session, retry_mode=first.retry_mode, max_attempts=first.max_attempts, endpoint_url=args.endpoint_url
    )
    account_id = clients.account_id(regions[0])
    return Target(clients, account_id, for_account(settings, account_id, own_allowlist(args, base)))


def open_clients(args: argparse.Namespace, base: Mapping[str, str]) -> tuple[Clients, list[str], Settings]:
    """Clients, regions and settings from ``--region``, ``--profile``, ``--endpoint-url``: no AWS call."""
    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    regions = _regions(args, base, session)
    try:
        settings = Settings.from_env(effective_environ(base, args, regions[0], DRY_RUN))
    except SettingsError as error:
        raise _settings_error(error, args) from error
    for region in regions:
        _check_known_region(session, region, base, args.endpoint_url)
    clients = Clients(
        session, retry_mode=settings.retry_mode, max_attempts=settings.max_attempts, endpoint_url=args.endpoint_url
    )
    return clients, regions, settings


def make_console(*, stderr: bool = False) -> Console:
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=stderr, highlight=False)


def common_options(parser: argparse.ArgumentParser) -> None:
    aws = parser.add_argument_group("AWS")
    aws.add_argument("--region", action="append", metavar="REGION", help="region to reconcile (repeatable)")
    aws.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    aws.add_argument("--endpoint-url", help="endpoint for every service, e.g. an emulator (or AWS_ENDPOINT_URL)")
    policy = parser.add_argument_group("policy (override the environment variable of the same meaning)")
    policy.add_argument("--allowed-accounts", metavar="IDS", help="ALLOWED_PEER_ACCOUNTS (default: this account)")
    policy.add_argument("--allowed-vpcs", metavar="IDS", help="ALLOWED_PEER_VPCS")
    policy.add_argument(
        "--reject-unlisted", action=argparse.BooleanOptionalAction, default=None, help="REJECT_UNLISTED"
    )
    policy.add_argument(
        "--allowed-cidrs", metavar="CIDRS", help="ALLOWED_PEER_CIDRS (default: RFC 1918, 100.64/10, ::/0)"
    )
    policy.add_argument(
        "--route-over-aggregates", action=argparse.BooleanOptionalAction, default=None, help="ROUTE_OVER_AGGREGATES"
    )
    policy.add_argument("--dns-records", metavar="PAIRS", help="DNS_RECORDS, e.g. api.elb.lab.private=api-elb")
    policy.add_argument("--dns-ttl", metavar="SECONDS", help="DNS_TTL")
    policy.add_argument("--flow-log-group", metavar="NAME", help="FLOW_LOG_GROUP")
    policy.add_argument("--flow-log-role-arn", metavar="ARN", help="FLOW_LOG_ROLE_ARN")
    policy.add_argument("--flow-log-traffic-type", metavar="TYPE", help="FLOW_LOG_TRAFFIC_TYPE")
    policy.add_argument(
        "--flow-log-destination",
        metavar="GROUP|S3-ARN",
        help="FLOW_LOG_DESTINATION: a log group or arn:aws:s3:::bucket[/prefix]",
    )
    scope = parser.add_argument_group("scope")
    scope.add_argument(
        "--only",
        metavar="CONCERNS",
        help="CONCERNS: comma-separated among accept_peering, repair_routes, sync_dns, enable_flow_logs (default all);"
        " the others make no AWS call",
    )


class Parser(argparse.ArgumentParser):
    """Exit 2 means drift (``plan``) or not reachable (``why``): a usage mistake exits 1, like every error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def fleet_options(parser: argparse.ArgumentParser) -> None:
    accounts = parser.add_argument_group(
        "accounts (each through arn:<partition>:iam::<ID>:role/<NAME>, accounts x regions in parallel)"
    )
    which = accounts.add_mutually_exclusive_group()
    which.add_argument("--account", action="append", metavar="ID", help="run in this account (repeatable)")
    which.add_argument("--org", action="store_true", help="run in every ACTIVE account of the organisation")
    accounts.add_argument("--role-name", metavar="NAME", help="the role to assume in each account")
    accounts.add_argument(
        "--exclude-account", action="append", metavar="ID", help="leave this account out (repeatable)"
    )
    accounts.add_argument(
        "--stack-name",
        default=DEFAULT_STACK_NAME,
        metavar="NAME",
        help=(
            f"each account's deployed stack (default {DEFAULT_STACK_NAME}): its policy parameters win over yours; "
            "apply skips a region without it, plan uses your settings there and says so"
        ),
    )
    accounts.add_argument(
        "--policy-from-environment",
        action="store_true",
        help="use your settings (flags, environment) in every account instead of each account's stack",
    )
    accounts.add_argument(
        "--parallel",
        type=_positive,
        default=DEFAULT_PARALLEL,
        metavar="N",
        help=f"(account, region) pairs at once (default {DEFAULT_PARALLEL})",
    )


def version() -> str:
    """The installed distribution's version (pyproject.toml); a source tree never installed has none."""
    from importlib.metadata import PackageNotFoundError  # noqa: PLC0415  (only for --version)
    from importlib.metadata import version as distribution_version  # noqa: PLC0415

    try:
        return distribution_version("peerkeeper")
    except PackageNotFoundError:
        return "unknown (not installed)"


def explain(error: Exception) -> str | None:
    """One line for an error a person can cause; ``None`` for a bug (which keeps its traceback)."""
    if isinstance(error, UsageError | SettingsError):
        return str(error)
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found: use --profile, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(error, ProfileNotFound):
        return f"AWS profile {error.kwargs.get('profile', '')!r} not found"
    if isinstance(error, NoRegionError):
        return "no region: pass --region or set AWS_REGION"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        endpoint = error.kwargs.get("endpoint_url", "the endpoint")
        return f"cannot reach {endpoint}: check --endpoint-url, the region and the network"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", ""), details.get("Message", "")
        if code in _CREDENTIAL_CODES:
            return f"AWS refused the credentials ({code}): {message}"
        return f"{error.operation_name} failed ({code}): {message}"
    if isinstance(error, BotoCoreError):
        return str(error)
    if isinstance(error, ResponseParserError):  # not a BotoCoreError: an endpoint that is not AWS, answering HTML
        return (
            "the endpoint's answer is not an AWS answer (an emulator answers so for a region it does not serve): "
            "check --region and --endpoint-url"
        )
    return None


@contextlib.contextmanager
def terminal_logging(level: str) -> Iterator[None]:
    """The functions' JSON logs are for CloudWatch: on a terminal, only warnings and up, on stderr."""
    from peerkeeper.observability import logger  # noqa: PLC0415

    handler = logger.registered_handler
    stream = handler.setStream(sys.stderr) if isinstance(handler, logging.StreamHandler) else None
    previous = logger.log_level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
        if stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
