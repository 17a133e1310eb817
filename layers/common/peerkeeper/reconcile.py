"""The one plan/apply path shared by every handler, the sweep and the CLI.

``observe`` and ``plan`` live in the concern modules; this module applies a plan: one call per
action, paced, with the outcome of each classified as

- ``planned``   dry-run: nothing was called;
- ``done``      the call succeeded;
- ``converged`` the call said it was already done (``RouteAlreadyExists`` and friends);
- ``terminal``  the resource vanished or changed state under us, a quota is reached, the target
                cannot take the change, or another writer holds the resource: logged, reported
                (a quota or an unsupported target in ``problems``, a lost race in ``conflicts``),
                not retried;
- ``failed``    anything else (throttling past botocore's retries, access denied, 5xx): the rest
                of the plan still runs, then the invocation fails so the event is retried;
- ``skipped``   the deadline came first: the next run carries on.

A batch call (CreateFlowLogs takes up to 1,000 resources) can succeed for some resources and fail
for others without raising. Its executor returns one :class:`ResourceResult` per resource; each is
classified like a whole call's error, and the action's outcome is the worst of them (failed,
terminal, done, converged), so one retryable failure in a batch still makes the invocation fail.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from peerkeeper.clients import Clients
from peerkeeper.deadline import RESERVE_SECONDS
from peerkeeper.inventory import Inventory, organization_accounts
from peerkeeper.model import Action, Finding, Plan
from peerkeeper.observability import OUTCOME_METRICS, logger, metrics
from peerkeeper.settings import Settings


@dataclass(frozen=True)
class ResourceResult:
    """How a batch call went for one of its resources; an empty ``code`` means it succeeded."""

    resource: str
    code: str = ""
    message: str = ""


# Makes the action's call. A single-resource call returns None and raises on failure; a batch call
# returns the result of each of its resources.
Executor = Callable[[Clients, Action], Sequence[ResourceResult] | None]

PLANNED, DONE, CONVERGED, TERMINAL, FAILED, SKIPPED = "planned", "done", "converged", "terminal", "failed", "skipped"

# Codes that mean "already so": the action's goal holds.
CONVERGED_CODES: Mapping[str, frozenset[str]] = {
    "create-route": frozenset({"RouteAlreadyExists"}),
    "create-flow-logs": frozenset({"FlowLogAlreadyExists"}),
}
# Codes that mean the resource is gone or moved on: retrying cannot help.
TERMINAL_CODES = frozenset(
    {
        "InvalidRouteTableID.NotFound",
        "InvalidVpcPeeringConnectionID.NotFound",
        "InvalidVpcPeeringConnectionId.NotFound",
        "InvalidVpcID.NotFound",
        "InvalidStateTransition",
        "OperationNotPermitted",
        "InvalidRoute.NotFound",
        "LoadBalancerNotFound",
        "NoSuchHostedZone",
        "InvalidChangeBatch",
    }
)


@dataclass(frozen=True)
class Quota:
    """The AWS quota behind a limit error: its Service Quotas name, and code when it has one.

    The current value is not read (that needs ``servicequotas:GetServiceQuota`` and a call per
    error); the code is what an operator looks up or raises in Service Quotas (service ``vpc``).
    """

    name: str
    code: str = ""

    def describe(self) -> str:
        return f"{self.name} (Service Quotas vpc/{self.code})" if self.code else self.name


_ROUTES_PER_TABLE = Quota("Routes per route table", "L-93826ACB")
_ACTIVE_PEERINGS = Quota("Active VPC peering connections per VPC", "L-7E9ECCDB")
_OUTSTANDING_REQUESTS = Quota("Outstanding VPC peering connection requests", "L-DC9F7029")
# Codes EC2 answers when a quota is reached (EC2 API Reference, "Error codes"). Terminal: a retry
# meets the same quota until someone raises it or frees capacity.
QUOTA_CODES: Mapping[str, Quota] = {
    "RouteLimitExceeded": _ROUTES_PER_TABLE,
    "ResourceCountLimitExceeded": Quota("a resource limit for creating routes"),
    "ActiveVpcPeeringConnectionPerVpcLimitExceeded": _ACTIVE_PEERINGS,
    "VpcPeeringConnectionsPerVpcLimitExceeded": _ACTIVE_PEERINGS,
    "VpcPeeringConnectionLimitExceeded": _ACTIVE_PEERINGS,
    "OutstandingVpcPeeringConnectionLimitExceeded": _OUTSTANDING_REQUESTS,
    "PendingVpcPeeringConnectionLimitExceeded": _OUTSTANDING_REQUESTS,
    "FlowLogsLimitExceeded": Quota("Flow logs per single network interface, subnet, or VPC"),
}
# "The route target is not supported" (a gateway route table takes only local, Gateway Load
# Balancer endpoint and network interface targets): InvalidParameterValue with this message.
_UNSUPPORTED_TARGET_CODES = frozenset(
    {"InvalidParameterValue", "InvalidParameterCombination", "InvalidRoute.InvalidState"}
)
_UNSUPPORTED_TARGET_TEXT = ("not supported", "only supports")


class ReconcileError(RuntimeError):
    """Raised after the whole plan ran when some action failed for a retryable reason."""


class ActionConflict(Exception):
    """An executor found that someone else holds what the action wanted (e.g. a lost race)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.reason)
        self.finding = finding


def quota_of(code: str) -> Quota | None:
    return QUOTA_CODES.get(code.removeprefix("Client.").removeprefix("Server."))


def unsupported_target(code: str, message: str) -> bool:
    bare = code.removeprefix("Client.").removeprefix("Server.")
    text = message.lower()
    return bare in _UNSUPPORTED_TARGET_CODES and "target" in text and any(t in text for t in _UNSUPPORTED_TARGET_TEXT)


def limit_finding(action: Action, resource: str, code: str, message: str) -> Finding | None:
    """The problem to report for a quota or unsupported-target error; ``None`` for any other error."""
    quota = quota_of(code)
    if quota is not None:
        reason = f"{action.kind} {resource}: quota reached: {quota.describe()} ({code}: {message})"
        detail = {"code": code, "quota": quota.name, "quota_code": quota.code, "action": action.kind}
        return Finding(resource, action.region, reason, detail)
    if unsupported_target(code, message):
        reason = f"{action.kind} {resource}: the target is not supported there ({code}: {message})"
        return Finding(resource, action.region, reason, {"code": code, "action": action.kind})
    return None


def _fresh_delivery_id() -> str:
    """A run of its own (the CLI, a test): nothing to be idempotent with."""
    return f"run-{uuid.uuid4()}"


@dataclass(frozen=True)
class Env:
    """Everything a reconcile needs: validated settings, clients, the account, and what was observed.

    ``delivery_id`` names the delivery being reconciled: the same on every retry of one event (its
    EventBridge id, else Lambda's request id), new for a new event, fresh for each CLI run. Idempotency
    tokens derive from it, so a retry is answered from EC2's memory and a new delivery is not.
    """

    settings: Settings
    clients: Clients
    account_id: str
    inventory: Inventory
    delivery_id: str = field(default_factory=_fresh_delivery_id)
    # ALLOWED_PEER_ACCOUNTS=organization: the organisation's accounts, read at most once per run.
    _organization: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def trusting(self) -> Settings:
        """The settings the trust rules judge with: ``organization`` resolved to its ACTIVE accounts.

        Read on first need and kept for this run only (an Env is one invocation, one CLI run): an
        account that joins or leaves the organisation counts from the next run, warm or cold.
        """
        if not self.settings.allow_organization:
            return self.settings
        if "accounts" not in self._organization:
            members = organization_accounts(self.clients, self.settings.region, self.settings.organization_role_arn)
            self._organization["accounts"] = frozenset(members)
        accounts = self.settings.allowed_peer_accounts | self._organization["accounts"]
        return replace(self.settings, allowed_peer_accounts=accounts)

    @classmethod
    def create(cls, settings: Settings, clients: Clients, account_id: str, delivery_id: str = "") -> Env:
        delivery = delivery_id or _fresh_delivery_id()
        return cls(settings, clients, account_id, Inventory(clients, account_id), delivery)


@dataclass(frozen=True)
class ResourceOutcome:
    resource: str
    status: str
    error: str = ""


@dataclass(frozen=True)
class Outcome:
    action: Action
    status: str
    error: str = ""
    resources: tuple[ResourceOutcome, ...] = ()  # per resource, for a batch action
    problems: tuple[Finding, ...] = ()  # quota reached, target not supported
    conflicts: tuple[Finding, ...] = ()  # someone else holds it (a lost race)

    def count(self, status: str) -> int:
        """Resources that ended in ``status`` (a single-resource action counts as one)."""
        if not self.resources:
            return int(self.status == status)
        return sum(1 for item in self.resources if item.status == status)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.action.to_dict(), "outcome": self.status}
        if self.error:
            data["error"] = self.error
        exceptions = [item for item in self.resources if item.status != DONE]
        if exceptions:
            data["resources"] = [{"resource": i.resource, "outcome": i.status, "error": i.error} for i in exceptions]
        return data


class Pacer:
    """Token bucket for mutating calls (EC2: burst 50, refill 5/s, shared with everyone)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.burst = rate, float(burst)
        self._clock, self._sleep = clock, sleep
        self._tokens, self._last = float(burst), clock()

    def acquire(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1:
            wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            self._last = self._clock()
            self._tokens = 1.0
        self._tokens -= 1


def classify_code(code: str, message: str, kind: str) -> tuple[str, str]:
    """(status, "code: message") of an error code returned by a call made for an action of ``kind``."""
    bare = code.removeprefix("Client.").removeprefix("Server.")  # EC2 per-item codes may carry them
    text = f"{code}: {message}"
    if bare in CONVERGED_CODES.get(kind, ()):
        return CONVERGED, text
    if bare in TERMINAL_CODES or bare.endswith(".NotFound") or quota_of(bare) or unsupported_target(bare, message):
        return TERMINAL, text
    return FAILED, text


def classify(error: Exception, action: Action) -> tuple[str, str]:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return classify_code(str(details.get("Code", "")), str(details.get("Message", "")), action.kind)
    return FAILED, f"{type(error).__name__}: {error}"


_SEVERITY = (FAILED, TERMINAL, DONE, CONVERGED)  # a batch's outcome is its worst resource's


def _resource_outcome(result: ResourceResult, kind: str) -> ResourceOutcome:
    if not result.code:
        return ResourceOutcome(result.resource, DONE)
    return ResourceOutcome(result.resource, *classify_code(result.code, result.message, kind))


def batch_outcome(action: Action, results: Sequence[ResourceResult]) -> Outcome:
    """One outcome for a batch action: its worst resource's status, failures named per resource."""
    items = tuple(_resource_outcome(result, action.kind) for result in results)
    if not items:
        return Outcome(action, DONE)
    status = min((item.status for item in items), key=_SEVERITY.index)
    errors = "; ".join(f"{i.resource}: {i.error}" for i in items if i.status in (FAILED, TERMINAL))
    problems = tuple(
        finding
        for result in results
        if result.code
        for finding in (limit_finding(action, result.resource, result.code, result.message),)
        if finding is not None
    )
    return Outcome(action, status, errors, items, problems=problems)


def error_outcome(action: Action, error: ClientError | BotoCoreError) -> Outcome:
    """The outcome of a call that raised; a quota or unsupported target also becomes a problem."""
    status, message = classify(error, action)
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, text = str(details.get("Code", "")), str(details.get("Message", ""))
        finding = limit_finding(action, action.resource, code, text)
        if finding is not None:
            return Outcome(action, status, message, problems=(finding,))
    return Outcome(action, status, message)


def execute(
    actions: Sequence[Action],
    clients: Clients,
    executors: Mapping[str, Executor],
    *,
    dry_run: bool,
    pacer: Pacer | None = None,
    time_left: Callable[[], float] | None = None,
    reserve_seconds: float = RESERVE_SECONDS,
) -> list[Outcome]:
    """Apply ``actions`` in order; never stops early except for the deadline."""
    outcomes: list[Outcome] = []
    for action in actions:
        if dry_run:
            outcomes.append(Outcome(action, PLANNED))
            continue
        if time_left is not None and time_left() < reserve_seconds:
            outcomes.append(Outcome(action, SKIPPED, "deadline"))
            continue
        if pacer is not None:
            pacer.acquire()
        try:
            results = executors[action.kind](clients, action)
        except (ClientError, BotoCoreError) as error:
            outcomes.append(error_outcome(action, error))
        except ActionConflict as conflict:
            outcomes.append(Outcome(action, TERMINAL, conflict.finding.reason, conflicts=(conflict.finding,)))
        else:
            outcomes.append(batch_outcome(action, results) if results is not None else Outcome(action, DONE))
        _log(outcomes[-1])
    return outcomes


def _log(outcome: Outcome) -> None:
    extra = {"error": "", **outcome.to_dict()}
    if outcome.status == FAILED:
        logger.error("action failed", extra=extra)
    elif outcome.status == TERMINAL:
        logger.warning("action terminal", extra=extra)
    else:
        logger.info("action applied", extra=extra)


@dataclass
class Report:
    """A JSON-friendly account of one reconcile: the plans, and what applying them did."""

    mode: str
    plans: list[Plan] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    scope: Mapping[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # retryable failures outside any action
    stopped: dict[str, Any] = field(default_factory=dict)  # the deadline stopped observing: where, what not

    def add(self, plan: Plan, outcomes: Iterable[Outcome]) -> None:
        """Record a plan and its outcomes; what applying found (quotas, lost races) joins the plan."""
        done = list(outcomes)
        problems = tuple(finding for outcome in done for finding in outcome.problems)
        conflicts = tuple(finding for outcome in done for finding in outcome.conflicts)
        if problems or conflicts:
            plan = replace(plan, problems=plan.problems + problems, conflicts=plan.conflicts + conflicts)
        self.plans.append(plan)
        self.outcomes.extend(done)

    @property
    def refused(self) -> list[Finding]:
        return [finding for plan in self.plans for finding in plan.refused]

    @property
    def conflicts(self) -> list[Finding]:
        return [finding for plan in self.plans for finding in plan.conflicts]

    @property
    def problems(self) -> list[Finding]:
        return [finding for plan in self.plans for finding in plan.problems]

    @property
    def waiting(self) -> list[Finding]:
        return [finding for plan in self.plans for finding in plan.waiting]

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == FAILED]

    def ids(self, kind: str, statuses: Iterable[str] = (DONE, CONVERGED, PLANNED)) -> set[str]:
        wanted = set(statuses)
        return {o.action.resource for o in self.outcomes if o.action.kind == kind and o.status in wanted}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": self.mode, "actions": [o.to_dict() for o in self.outcomes]}
        if self.scope:
            data["scope"] = dict(self.scope)
        for key, findings in (
            ("refused", self.refused),
            ("conflicts", self.conflicts),
            ("problems", self.problems),
            ("waiting", self.waiting),
        ):
            if findings:
                data[key] = [finding.to_dict() for finding in findings]
        skipped = [o for o in self.outcomes if o.status == SKIPPED]
        if skipped:
            data["remaining"] = len(skipped)
        if self.stopped:
            data["deadline"] = dict(self.stopped)
        if self.failed or self.errors:
            data["failed"] = len(self.failed) + len(self.errors)
        if self.errors:
            data["errors"] = list(self.errors)
        return data

    def emit_metrics(self) -> None:
        """One metric per outcome (only handlers call this: Powertools flushes them as EMF)."""
        for outcome in self.outcomes:
            # Counted per resource: a batch action can create some and fail for others.
            done_metric = OUTCOME_METRICS.get((outcome.action.kind, DONE))
            for name, count in (
                (done_metric, outcome.count(DONE)),
                ("TerminalError", outcome.count(TERMINAL)),
                ("ActionFailed", outcome.count(FAILED)),
                ("ActionPlanned", outcome.count(PLANNED)),
                ("ActionSkipped", outcome.count(SKIPPED)),
            ):
                if name and count:
                    metrics.add_metric(name=name, unit="Count", value=count)
        quota_problems = sum(1 for p in self.problems if p.detail.get("quota"))
        if quota_problems:
            metrics.add_metric(name="QuotaExceeded", unit="Count", value=quota_problems)
        for plan in self.plans:
            if plan.refused:
                metrics.add_metric(name="PeeringRefused", unit="Count", value=len(plan.refused))
            if plan.conflicts:
                name = "RecordConflict" if plan.concern == "dns" else "RouteConflict"
                metrics.add_metric(name=name, unit="Count", value=len(plan.conflicts))
        if not self.outcomes:
            metrics.add_metric(name="NoChange", unit="Count", value=1)

    def raise_if_failed(self) -> None:
        failures = [f"{o.action.kind} {o.action.resource}: {o.error}" for o in self.failed] + self.errors
        if failures:
            raise ReconcileError(f"{len(failures)} failure(s), the event will be retried: {'; '.join(failures)}")
