"""Accounts x regions: the one fan-out that ``plan``, ``apply`` and ``graph`` share.

The model is Cloud Custodian's ``c7n-org``: a list of accounts (given, or every ACTIVE account of
the organisation), a role assumed in each, and every (account, region) pair submitted to one
bounded worker pool. Two differences: the role is assumed once per account, not once per
(account, region), and its credentials refresh themselves, so a run over thousands of accounts
outlives the hour an AssumeRole session lasts.

An account whose role cannot be assumed is reported (:class:`Unreachable`) and the others go on.
Nothing here draws or parses flags: :mod:`peerkeeper.cli` does, through the callbacks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.inventory import organization_accounts as active_accounts
from peerkeeper.settings import DRY_RUN, Settings, SettingsError

if TYPE_CHECKING:
    from peerkeeper.inventory import Inventory
    from peerkeeper.model import Action, Plan
    from peerkeeper.reconcile import Report

DEFAULT_PARALLEL = 8  # (account, region) pairs at once; AWS throttles per account and region
SESSION_NAME = "peerkeeper"
DEFAULT_STACK_NAME = "peerkeeper"
# The template parameters that make an account's policy -> the contract variable each one sets.
STACK_POLICY = {
    "AllowedPeerAccounts": "ALLOWED_PEER_ACCOUNTS",
    "AllowedPeerVpcs": "ALLOWED_PEER_VPCS",
    "AllowedPeerCidrs": "ALLOWED_PEER_CIDRS",
    "RouteOverAggregates": "ROUTE_OVER_AGGREGATES",
    "RejectUnlisted": "REJECT_UNLISTED",
    "DnsRecords": "DNS_RECORDS",
}
# Stacks whose parameters are not what runs there (never created, or being deleted).
_NOT_DEPLOYED = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_FAILED",
        "ROLLBACK_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_FAILED",
        "DELETE_COMPLETE",
        "REVIEW_IN_PROGRESS",
    }
)
_NAME_CHARACTERS = re.compile(r"[^\w+=,.@-]")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Target:
    """One account, reached through ``clients``, with validated settings for each region.

    ``policy`` says, per region, where the settings' policy comes from (the account's deployed
    stack, or the caller's settings); ``skipped`` names the regions left out, and why.
    """

    clients: Clients
    account_id: str
    settings: tuple[Settings, ...]
    policy: Mapping[str, str] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)

    @property
    def regions(self) -> list[str]:
        return [settings.region for settings in self.settings]


@dataclass(frozen=True)
class Unreachable:
    """An account the run could not enter, and why (the AWS error, verbatim)."""

    account_id: str
    reason: str


@dataclass(frozen=True)
class Swept:
    """One region's reconcile: its report, and what it read (the graph draws from it)."""

    report: Report
    inventory: Inventory


@dataclass(frozen=True)
class Unit(Generic[T]):
    """What one (account, region) pair gave: a value, or the error that stopped it."""

    account_id: str
    region: str
    value: T | None = None
    error: str = ""


# -- which accounts ---------------------------------------------------------------------------
def organization_accounts(clients: Clients, region: str) -> list[str]:
    """Every ACTIVE account of the caller's organisation, in its order (``ListAccounts``: read with the
    functions' own ALLOWED_PEER_ACCOUNTS=organization, in :mod:`peerkeeper.inventory`)."""
    return active_accounts(clients, region)


def role_arn(session: boto3.Session, region: str, account_id: str, role_name: str) -> str:
    """``arn:<partition>:iam::<account>:role/<name>``, the partition being the region's."""
    partition = session.get_partition_for_region(region)
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


# -- who is asking ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """What every session peerkeeper opens says about its caller, for the member account's CloudTrail.

    ``source`` (``SourceIdentity``): the caller's user or role name; ``session`` (``RoleSessionName``):
    ``peerkeeper-<who>``, the user name or, for an assumed role, its session name (often a person's).
    """

    source: str
    session: str


def _name(text: str) -> str:
    """A value STS takes as a session name or source identity: 2-64 of ``[\\w+=,.@-]``."""
    cleaned = _NAME_CHARACTERS.sub("-", text)[:64]
    return cleaned if len(cleaned) >= 2 else f"{cleaned}--"[:2]


def identity_of(arn: str) -> Identity:
    """The :class:`Identity` of a caller ARN (``GetCallerIdentity``): user, assumed role, root, federated."""
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        source, who = role, session or role
    elif rest:
        source = who = rest.rsplit("/", 1)[-1]
    else:
        source = who = kind or "unknown"
    return Identity(_name(source), _name(f"{SESSION_NAME}-{who}"))


def caller_identity(clients: Clients, region: str) -> Identity:
    return identity_of(clients.sts(region).get_caller_identity()["Arn"])


# -- into each account ------------------------------------------------------------------------
class _AssumedRole(CredentialProvider):
    """Credentials of an assumed role that renew themselves before they expire (botocore refreshes)."""

    METHOD = "peerkeeper-assume-role"

    def __init__(self, fetch: Callable[[], dict[str, str]]) -> None:
        super().__init__()
        self._fetch = fetch
        self._first = fetch()  # fails here, in the account's own worker, if the role cannot be assumed

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(self._first, self._fetch, self.METHOD)


def assume(
    caller: Target, account_id: str, role_name: str, settings: tuple[Settings, ...], identity: Identity | None = None
) -> Target:
    """``caller`` acting in ``account_id`` through ``role_name`` (raises the AWS error when refused).

    The session carries ``identity``: its name, and ``SourceIdentity`` (which the templates' roles
    require, and which AWS keeps through any role chained from it).
    """
    region = settings[0].region
    arn = role_arn(caller.clients.session, region, account_id, role_name)
    sts = caller.clients.sts(region)

    def fetch() -> dict[str, str]:
        if identity is None:
            credentials = sts.assume_role(RoleArn=arn, RoleSessionName=SESSION_NAME)["Credentials"]
        else:
            credentials = sts.assume_role(
                RoleArn=arn, RoleSessionName=identity.session, SourceIdentity=identity.source
            )["Credentials"]
        expiry: datetime = credentials["Expiration"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": expiry.isoformat(),
        }

    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([_AssumedRole(fetch)]))
    return Target(caller.clients.derive(boto3.Session(botocore_session=core)), account_id, settings)


def reach(
    caller: Target,
    account_ids: Sequence[str],
    role_name: str,
    settings_for: Callable[[str], tuple[Settings, ...]],
    *,
    parallel: int = DEFAULT_PARALLEL,
    on_done: Callable[[str], None] | None = None,
    identity: Identity | None = None,
) -> tuple[list[Target], list[Unreachable]]:
    """Assume ``role_name`` in every account, ``parallel`` at a time; the refused ones are reported."""

    def enter(account_id: str) -> Target:
        try:
            return assume(caller, account_id, role_name, settings_for(account_id), identity)
        finally:
            if on_done is not None:
                on_done(account_id)

    targets, unreachable = [], []
    for account_id, (target, error) in zip(account_ids, fan_out(account_ids, enter, parallel), strict=True):
        if target is not None:
            targets.append(target)
        else:
            unreachable.append(Unreachable(account_id, f"cannot assume {role_name}: {error}"))
    return targets, unreachable


# -- each account's own policy ----------------------------------------------------------------
def _stack_set_instance(clients: Clients, region: str, stack_name: str) -> str | None:
    """The one live stack named ``StackSet-<stack_name>-<id>`` (how a StackSet names its instances)."""
    prefix = f"StackSet-{stack_name}-"
    names = [
        str(summary["StackName"])
        for page in clients.cloudformation(region).get_paginator("list_stacks").paginate()
        for summary in page.get("StackSummaries", [])
        if str(summary.get("StackName", "")).startswith(prefix) and summary.get("StackStatus") not in _NOT_DEPLOYED
    ]
    return names[0] if len(names) == 1 else None


def stack_parameters(clients: Clients, region: str, stack_name: str) -> dict[str, str] | None:
    """The parameters of the deployed stack ``stack_name`` in ``region``; ``None`` when there is none.

    A stack of that name, else the StackSet instance of a stack set of that name (its stacks are
    named ``StackSet-<set>-<id>``, different in every account and region).
    """
    cloudformation = clients.cloudformation(region)
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") != "ValidationError" or "does not exist" not in str(details.get("Message", "")):
            raise
        instance = _stack_set_instance(clients, region, stack_name)
        if instance is None:
            return None
        stacks = cloudformation.describe_stacks(StackName=instance)["Stacks"]
    deployed = [stack for stack in stacks if stack.get("StackStatus") not in _NOT_DEPLOYED]
    if not deployed:
        return None
    return {
        str(item["ParameterKey"]): str(item.get("ResolvedValue") or item.get("ParameterValue") or "")
        for item in deployed[0].get("Parameters") or ()
    }


def stack_policy(settings: Settings, parameters: Mapping[str, str], account_id: str) -> Settings:
    """``settings`` with the policy a stack's ``parameters`` give (validated as the function would).

    A parameter the stack does not list has the template's default, which is the variable's; an
    empty ``AllowedPeerAccounts`` means the account itself, as in the template.
    """
    environ = {"AWS_REGION": settings.region}
    environ |= {variable: parameters[name] for name, variable in STACK_POLICY.items() if name in parameters}
    if not environ.get("ALLOWED_PEER_ACCOUNTS", "").strip():
        environ["ALLOWED_PEER_ACCOUNTS"] = account_id
    deployed = Settings.from_env(environ)
    return replace(
        settings,
        allowed_peer_accounts=deployed.allowed_peer_accounts,
        allowed_peer_vpcs=deployed.allowed_peer_vpcs,
        allowed_peer_cidrs=deployed.allowed_peer_cidrs,
        route_over_aggregates=deployed.route_over_aggregates,
        reject_unlisted=deployed.reject_unlisted,
        dns_records=deployed.dns_records,
    )


def with_stack_policies(
    targets: Sequence[Target], stack_name: str, *, skip_without: bool, parallel: int = DEFAULT_PARALLEL
) -> list[Target]:
    """Each target under its own deployed policy, region by region (accounts in parallel).

    A region without the stack keeps the caller's settings (said in ``policy``) or, with
    ``skip_without`` (``apply``), is left out (said in ``skipped``). A stack that cannot be read
    (the role may not ``DescribeStacks``, a malformed parameter) is the same as none, with the reason.
    """

    def own(target: Target) -> Target:
        kept: list[Settings] = []
        policy: dict[str, str] = {}
        skipped: dict[str, str] = {}
        for settings in target.settings:
            try:
                parameters = stack_parameters(target.clients, settings.region, stack_name)
                why = f"no stack {stack_name} in {settings.region}"
            except (ClientError, BotoCoreError) as error:
                parameters, why = None, f"cannot read stack {stack_name}: {describe(error)}"
            if parameters is not None:
                try:
                    kept.append(stack_policy(settings, parameters, target.account_id))
                    policy[settings.region] = f"stack {stack_name}"
                    continue
                except SettingsError as error:
                    why = f"stack {stack_name}: {error}"
            if skip_without:
                skipped[settings.region] = f"skipped: {why} (--policy-from-environment uses your settings)"
            else:
                kept.append(settings)
                policy[settings.region] = f"your settings: {why}"
        return replace(target, settings=tuple(kept), policy=policy, skipped=skipped)

    found = fan_out(targets, own, parallel)
    return [value if value is not None else target for target, (value, _) in zip(targets, found, strict=True)]


# -- across them ------------------------------------------------------------------------------
def describe(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{error.operation_name} failed ({details.get('Code', '')}): {details.get('Message', '')}"
    return str(error)


def fan_out(items: Sequence[T], work: Callable[[T], R], parallel: int) -> list[tuple[R | None, str]]:
    """``work`` over ``items`` on at most ``parallel`` threads; results in the order of ``items``.

    An AWS error of one item is its result (``(None, message)``) and the others go on; anything
    else is a bug: the pool stops taking work and the exception propagates.
    """
    if not items:
        return []

    def guarded(item: T) -> tuple[R | None, str]:
        try:
            return work(item), ""
        except (ClientError, BotoCoreError) as error:
            return None, describe(error)

    pool = ThreadPoolExecutor(max_workers=max(1, min(parallel, len(items))), thread_name_prefix="peerkeeper")
    try:
        futures: list[Future[tuple[R | None, str]]] = [pool.submit(guarded, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        bug = next((future.exception() for future in done if future.exception() is not None), None)
        if bug is not None:
            raise bug
        return [future.result() for future in futures]
    finally:
        # After a bug or Ctrl-C: what has not started never starts; what runs finishes its call.
        pool.shutdown(wait=True, cancel_futures=True)


def units(targets: Iterable[Target]) -> list[tuple[Target, Settings]]:
    """Every (account, region) pair, account by account."""
    return [(target, settings) for target in targets for settings in target.settings]


def reconcile(
    targets: Sequence[Target],
    command: str,
    concerns: Sequence[str],
    *,
    parallel: int = DEFAULT_PARALLEL,
    on_action: Callable[[Action], None] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_unit: Callable[[str, str], None] | None = None,
    select: Callable[[str, Plan], Plan] | None = None,
) -> list[Unit[Swept]]:
    """The sweep's reconcile in every (account, region) of ``targets``, ``parallel`` pairs at a time.

    ``select(account_id, plan)`` narrows each plan before it is applied (``apply --plan``).
    """
    from peerkeeper import service  # noqa: PLC0415  (imported on use, like the CLI's reconcile modules)
    from peerkeeper.reconcile import Env, Pacer  # noqa: PLC0415

    def one(pair: tuple[Target, Settings]) -> Swept:
        target, settings = pair
        try:
            env = Env.create(settings, target.clients, target.account_id)
            scope = Scope(settings.region, target.account_id, f"peerkeeper {command}", whole_region=True)
            pacer = Pacer(settings.mutation_rate, settings.mutation_burst)  # EC2 paces per account and region
            narrow = None if select is None else partial(select, target.account_id)
            report = service.reconcile(
                env, scope, concerns, pacer=pacer, on_action=on_action, on_plan=on_plan, select=narrow
            )
            return Swept(report, env.inventory)
        finally:
            if on_unit is not None:
                on_unit(target.account_id, settings.region)

    pairs = units(targets)
    results = fan_out(pairs, one, parallel)
    return [
        Unit(target.account_id, settings.region, report, error)
        for (target, settings), (report, error) in zip(pairs, results, strict=True)
    ]


def dry_run(target: Target) -> Target:
    return replace(target, settings=tuple(replace(s, mode=DRY_RUN) for s in target.settings))


def worst(codes: Iterable[int], order: Sequence[int]) -> int:
    """The worst exit code of ``codes``, ``order`` listing them from best to worst."""
    rank: dict[int, Any] = {code: index for index, code in enumerate(order)}
    return max(codes, key=lambda code: rank.get(code, len(order)), default=order[0])
