"""Running the sweep's plan or apply over accounts and regions, and the document a run makes."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from peerkeeper import fleet
from peerkeeper.cli.common import (
    ACCOUNT_ID,
    CONCERNS,
    FAILED,
    FINDING_KINDS,
    ROLE_NAME,
    UsageError,
    for_account,
    own_allowlist,
    resolve,
)
from peerkeeper.fleet import DEFAULT_PARALLEL, Target, Unreachable
from peerkeeper.model import Action, Plan
from peerkeeper.settings import DRY_RUN

if TYPE_CHECKING:
    from peerkeeper.inventory import Inventory
    from peerkeeper.reconcile import Outcome, Report


@dataclass
class Fleet:
    """The accounts a command runs in: the caller's own, or those of ``--account`` / ``--org``."""

    account_ids: list[str]  # in the order asked (or listed by the organisation)
    regions: list[str]
    targets: list[Target]
    unreachable: list[Unreachable] = field(default_factory=list)
    many: bool = False  # --account or --org: the output has one entry per account and region


def _account_ids(args: argparse.Namespace, caller: Target) -> list[str]:
    listed = fleet.organization_accounts(caller.clients, caller.regions[0]) if args.org else list(args.account)
    for account_id in [*listed, *(args.exclude_account or [])]:
        if not ACCOUNT_ID.fullmatch(account_id):
            raise UsageError(f"invalid account ID {account_id!r}: expected 12 digits")
    excluded = set(args.exclude_account or [])
    chosen = [account_id for account_id in dict.fromkeys(listed) if account_id not in excluded]
    if not chosen:
        raise UsageError("no account to run in: --account / --org gave none (after --exclude-account)")
    return chosen


def resolve_fleet(
    args: argparse.Namespace,
    base: Mapping[str, str],
    mode: str,
    on_account: Callable[[str], None] | None = None,
    on_accounts: Callable[[int], None] | None = None,
) -> Fleet:
    """The caller (:func:`resolve`), then, with ``--account`` / ``--org``, the role assumed in each account."""
    many = bool(getattr(args, "account", None) or getattr(args, "org", False))
    role_name = getattr(args, "role_name", None)
    if not many and role_name:
        raise UsageError("--role-name needs --account ID or --org")
    if many and not role_name:
        raise UsageError("--account and --org need --role-name NAME (the role assumed in each account)")
    if many and role_name and not ROLE_NAME.fullmatch(role_name):
        raise UsageError(f"invalid role name {role_name!r}")
    caller = resolve(args, base, mode)
    if not many or role_name is None:
        return Fleet([caller.account_id], caller.regions, [caller])
    account_ids = _account_ids(args, caller)
    if on_accounts is not None:
        on_accounts(len(account_ids))
    own = own_allowlist(args, base)
    targets, unreachable = fleet.reach(
        caller,
        account_ids,
        role_name,
        lambda account_id: for_account(caller.settings, account_id, own),
        parallel=args.parallel,
        on_done=on_account,
        identity=fleet.caller_identity(caller.clients, caller.regions[0]),
    )
    if not getattr(args, "policy_from_environment", True):
        # Each account under its own deployed policy: apply where it has none does nothing there.
        stack_name = getattr(args, "stack_name", fleet.DEFAULT_STACK_NAME)
        targets = fleet.with_stack_policies(targets, stack_name, skip_without=mode != DRY_RUN, parallel=args.parallel)
    return Fleet(account_ids, caller.regions, targets, unreachable, many=True)


def _with_params(outcome: Outcome) -> dict[str, Any]:
    return {**outcome.to_dict(), "params": dict(outcome.action.params)}


@dataclass
class Result:
    """The reports of one command over its regions, and the JSON document they make."""

    command: str
    account_id: str
    mode: str
    reports: dict[str, Report] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # region -> why it could not run at all
    inventories: dict[str, Inventory] = field(default_factory=dict)  # what each region's run read
    policy: dict[str, str] = field(default_factory=dict)  # region -> whose policy judged it (fleet runs)
    skipped: dict[str, str] = field(default_factory=dict)  # region -> why it was left out (fleet runs)
    concerns: Sequence[str] = CONCERNS  # those run (CONCERNS / --only): the document lists no other

    @property
    def outcomes(self) -> list[Any]:
        return [outcome for report in self.reports.values() for outcome in report.outcomes]

    @property
    def errors(self) -> list[str]:
        failed = [f"{o.action.kind} {o.action.resource}: {o.error}" for o in self.outcomes if o.status == FAILED]
        reported = [f"{region}: {error}" for region, r in self.reports.items() for error in r.errors]
        return failed + reported + [f"{region}: {error}" for region, error in self.failures.items()]

    def only(self, region: str) -> Result:
        """This result restricted to one region (a fleet's entry)."""
        reports = {region: self.reports[region]} if region in self.reports else {}
        failures = {region: self.failures[region]} if region in self.failures else {}
        inventories = {region: self.inventories[region]} if region in self.inventories else {}
        policy = {region: self.policy[region]} if region in self.policy else {}
        skipped = {region: self.skipped[region]} if region in self.skipped else {}
        return Result(
            self.command, self.account_id, self.mode, reports, failures, inventories, policy, skipped, self.concerns
        )

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def document(self) -> dict[str, Any]:
        """The ``--json`` document: per concern, actions (with their API arguments) and findings."""
        concerns: dict[str, dict[str, list[dict[str, Any]]]] = {
            name: {"actions": [], **{kind: [] for kind in FINDING_KINDS}} for name in self.concerns
        }
        for report in self.reports.values():
            outcomes = iter(report.outcomes)  # execute() answers each plan's actions in order, one by one
            for plan in report.plans:
                group = concerns.setdefault(plan.concern, {"actions": [], **{kind: [] for kind in FINDING_KINDS}})
                # The API call's arguments too, so scripts need not parse the human-readable reason.
                group["actions"].extend(_with_params(next(outcomes)) for _ in plan.actions)
                for kind in FINDING_KINDS:
                    group[kind].extend(finding.to_dict() for finding in getattr(plan, kind))
        counts = {kind: sum(len(group[kind]) for group in concerns.values()) for kind in ("actions", *FINDING_KINDS)}
        counts["errors"] = len(self.errors)
        regions = [*self.reports, *(r for r in self.failures if r not in self.reports)]
        document = {
            "command": self.command,
            "account": self.account_id,
            "mode": self.mode,
            "regions": [*regions, *(r for r in self.skipped if r not in regions)],
            "in_sync": counts["actions"] == 0 and not self.errors and not self.skipped,
            "counts": counts,
            "concerns": concerns,
            "errors": self.errors,
        }
        # Over accounts: whose policy judged each region, and the regions left out (never an error).
        return document | {key: value for key, value in (("policy", self.policy), ("skipped", self.skipped)) if value}


def run_many(
    targets: Sequence[Target],
    command: str,
    *,
    on_action: Callable[[Action], None] | None = None,
    concerns: Sequence[str] = CONCERNS,
    on_plan: Callable[[Plan], None] | None = None,
    parallel: int = DEFAULT_PARALLEL,
    on_unit: Callable[[str, str], None] | None = None,
    select: Callable[[str, Plan], Plan] | None = None,
) -> list[Result]:
    """The sweep in every (account, region) of ``targets``, concurrently (:mod:`peerkeeper.fleet`)."""
    results = {
        target.account_id: Result(
            command,
            target.account_id,
            target.settings[0].mode if target.settings else DRY_RUN,
            policy=dict(target.policy),
            skipped=dict(target.skipped),
            concerns=target.settings[0].enabled(concerns) if target.settings else tuple(concerns),
        )
        for target in targets
    }
    units = fleet.reconcile(
        targets,
        command,
        concerns,
        parallel=parallel,
        on_action=on_action,
        on_plan=on_plan,
        on_unit=on_unit,
        select=select,
    )
    for unit in units:
        result = results[unit.account_id]
        if unit.value is not None:
            result.reports[unit.region], result.inventories[unit.region] = unit.value.report, unit.value.inventory
        else:
            result.failures[unit.region] = unit.error
    for target in targets:  # regions in the order asked, whichever finished first
        result = results[target.account_id]
        result.reports = {region: result.reports[region] for region in target.regions if region in result.reports}
        result.inventories = {region: result.inventories[region] for region in result.reports}
    return list(results.values())


def run(
    target: Target,
    command: str,
    on_action: Callable[[Action], None] | None = None,
    concerns: Sequence[str] = CONCERNS,
    on_plan: Callable[[Plan], None] | None = None,
    *,
    parallel: int = DEFAULT_PARALLEL,
) -> Result:
    """The sweep over every region of ``target`` (regions concurrently), through the one reconcile path."""
    (result,) = run_many([target], command, on_action=on_action, concerns=concerns, on_plan=on_plan, parallel=parallel)
    return result


def unit_count(group: Fleet) -> int:
    return sum(len(target.settings) for target in group.targets)
