"""Reconcile a scope for a set of concerns: the path every handler, the sweep and the CLI share.

observe -> pure plan -> apply (unless dry-run), one concern after the other. A concern that cannot
be observed is reported and does not stop the others; the caller decides whether to raise.

The deadline (Lambda's remaining time) stops a run cleanly wherever it comes: during the reads
(checked before each page), nothing more is observed or planned; during apply, the rest of the
plan is skipped. Either way the summary says what was left (``remaining``, ``deadline``) and the
next run, which observes the world afresh, carries on from there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from peerkeeper.clients import Clients
from peerkeeper.deadline import Deadline, DeadlineReached
from peerkeeper.events import Scope
from peerkeeper.inventory import BULK_READS
from peerkeeper.model import Action, Finding, Plan
from peerkeeper.observability import logger, metrics
from peerkeeper.reconcile import Env, Executor, Pacer, Report, ResourceResult, classify, execute
from peerkeeper.settings import Settings


@dataclass(frozen=True)
class Concern:
    name: str
    plan_for: Callable[[Env, Scope], Plan]
    executors: Mapping[str, Executor]


# Each concern's module is imported when a run first needs it: a function imports only the concerns
# it runs (sync_dns: dns alone), which is most of what separates its cold start from a bare boto3
# client's (docs/benchmarks.md). The names are the concerns' ``CONCERN`` constants.
def _peering() -> Concern:
    from peerkeeper import peering  # noqa: PLC0415 - imported on first use (above)

    return Concern(peering.CONCERN, peering.plan_for, peering.EXECUTORS)


def _routes() -> Concern:
    from peerkeeper import routes  # noqa: PLC0415 - imported on first use (above)

    return Concern(routes.CONCERN, routes.plan_for, routes.EXECUTORS)


def _flow_logs() -> Concern:
    from peerkeeper import flow_logs  # noqa: PLC0415 - imported on first use (above)

    return Concern(flow_logs.CONCERN, flow_logs.plan_for, flow_logs.EXECUTORS)


def _dns() -> Concern:
    from peerkeeper import dns  # noqa: PLC0415 - imported on first use (above)

    return Concern(dns.CONCERN, dns.plan_for, dns.EXECUTORS)


PEERING, ROUTES, FLOW_LOGS, DNS = "peering", "routes", "flow_logs", "dns"
ACCEPT_PEERING = "accept-peering"  # peering.ACCEPT, without importing peering (tests/unit/test_lazy_imports.py)
CONCERN_LOADERS: dict[str, Callable[[], Concern]] = {
    PEERING: _peering,
    ROUTES: _routes,
    FLOW_LOGS: _flow_logs,
    DNS: _dns,
}
# The region-wide listings (inventory.BULK_READS) each concern reads for a whole-region scope, known
# without importing it: a bulk read loads no more than its concerns need, since each function's role
# grants only its concerns' describes (a DeleteFlowLogs event must not list route tables).
CONCERN_BULK_READS: dict[str, tuple[str, ...]] = {
    PEERING: ("vpcs", "peerings"),
    ROUTES: ("vpcs", "route_tables", "peerings"),
    FLOW_LOGS: ("vpcs", "flow_logs"),
    DNS: (),  # sync_dns reads the VPCs of its zones by id (inventory.vpcs), and Route 53 outside the inventory
}
CONCERNS: dict[str, Concern] = {}  # the concerns loaded so far (tests may put a stand-in here)


def concern(name: str) -> Concern:
    """The concern ``name``, its module imported on first use."""
    if name not in CONCERNS:
        CONCERNS[name] = CONCERN_LOADERS[name]()
    return CONCERNS[name]


def bulk_reads(concerns: Sequence[str]) -> list[str]:
    """The region-wide listings ``concerns`` need, in inventory order (nothing for an unknown name)."""
    wanted = {kind for name in concerns for kind in CONCERN_BULK_READS.get(name, ())}
    return [kind for kind in BULK_READS if kind in wanted]


@dataclass
class Run:
    """One reconcile: the environment, pacing and deadline, and the report it fills."""

    env: Env
    pacer: Pacer | None = None
    time_left: Callable[[], float] | None = None
    on_action: Callable[[Action], None] | None = None  # told after each call (the CLI's progress bar)
    on_plan: Callable[[Plan], None] | None = None  # told of each plan before it is applied
    # Narrows each plan before it is applied (``apply --plan``: only the reviewed actions still wanted).
    select: Callable[[Plan], Plan] | None = None
    # An event's run retries what is still settling (a connection being created); the sweep waits.
    retry_waiting: bool = False
    report: Report = field(init=False)

    def __post_init__(self) -> None:
        self.report = Report(mode=self.env.settings.mode)

    def apply(self, plan: Plan, executors: Mapping[str, Executor]) -> None:
        if self.select is not None:
            plan = self.select(plan)
        if self.on_plan is not None:
            self.on_plan(plan)
        outcomes = execute(
            plan.actions,
            self.env.clients,
            _observed(executors, self.on_action),
            dry_run=self.env.settings.dry_run,
            pacer=self.pacer,
            time_left=self.time_left,
        )
        self.report.add(plan, outcomes)
        if self.retry_waiting:
            self.report.errors.extend(f"{plan.concern}: {f.resource}: {f.reason}" for f in plan.waiting)

    def observe_failed(self, concern: str, scope: Scope, error: Exception) -> None:
        status, message = classify(error, _OBSERVE_ACTION)
        logger.error("observe failed", extra={"concern": concern, "error": message, "retryable": status})
        self.report.add(Plan(concern, problems=(Finding(concern, scope.region, f"observe failed: {message}"),)), [])
        if status == "failed":
            self.report.errors.append(f"{concern}: {message}")

    def deadline_reached(self, scope: Scope, stop: DeadlineReached, not_done: Sequence[str]) -> None:
        """Observing ran out of time: ``not_done`` were not planned; said once, as a problem operators see."""
        where = f"reading {stop.where}"
        logger.warning("deadline reached", extra={"while": where, "not_done": list(not_done)})
        metrics.add_metric(name="DeadlineReached", unit="Count", value=1)
        reason = (
            f"deadline reached while {where}: {', '.join(not_done)} not planned; the next run carries on "
            "(docs/benchmarks.md: the budget of one sweep)"
        )
        self.report.add(Plan("sweep", problems=(Finding("deadline", scope.region, reason),)), [])
        self.report.stopped = {"while": where, "not_done": list(not_done)}


_OBSERVE_ACTION = Action("observe", "", "", "")


def _observed(executors: Mapping[str, Executor], on_action: Callable[[Action], None] | None) -> Mapping[str, Executor]:
    if on_action is None:
        return executors

    def wrap(executor: Executor) -> Executor:
        def call(clients: Clients, action: Action) -> Sequence[ResourceResult] | None:
            try:
                return executor(clients, action)
            finally:
                on_action(action)

        return call

    return {kind: wrap(executor) for kind, executor in executors.items()}


def reconcile(
    env: Env,
    scope: Scope,
    concerns: Sequence[str],
    *,
    pacer: Pacer | None = None,
    time_left: Callable[[], float] | None = None,
    on_action: Callable[[Action], None] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    select: Callable[[Plan], Plan] | None = None,
) -> Report:
    # CONCERNS: a concern left out is neither observed nor planned (it makes no AWS call at all).
    concerns = env.settings.enabled(concerns)
    run = Run(env, pacer, time_left, on_action, on_plan, select, retry_waiting=not scope.whole_region)
    run.report.scope = scope.to_dict()
    if scope.empty or not concerns:
        reason = scope.ignored_reason if scope.empty else "CONCERNS leaves out every concern of this function"
        logger.info("nothing to reconcile", extra={"reason": reason, "event": scope.event_name})
        return run.report
    env.inventory.deadline = Deadline(time_left)
    if scope.whole_region:
        _load_region(run, scope, concerns)
    stops: list[tuple[str, DeadlineReached]] = []
    for name in concerns:
        # Past the deadline a concern is still planned from what is already in memory (its actions
        # are then reported as skipped); one that would have to read more stops before reading.
        try:
            _reconcile_concern(run, scope, name)
        except DeadlineReached as stop:
            stops.append((name, stop))
        except (ClientError, BotoCoreError) as error:
            run.observe_failed(name, scope, error)
    if stops:
        run.deadline_reached(scope, stops[0][1], [name for name, _ in stops])
    return run.report


def _load_region(run: Run, scope: Scope, concerns: Sequence[str]) -> None:
    """The sweep observes in bulk: every listing its concerns need at once, then each concern reads memory."""
    kinds = bulk_reads(concerns)
    if not kinds:
        return
    try:
        run.env.inventory.load_region(scope.region, kinds)
    except DeadlineReached:
        pass  # each concern then stops before it reads (and says so)
    except (ClientError, BotoCoreError) as error:
        run.observe_failed("inventory", scope, error)


def _reconcile_concern(run: Run, scope: Scope, name: str) -> None:
    env = run.env
    if name == ROUTES:
        from peerkeeper import routes  # noqa: PLC0415 - imported on first use (CONCERN_LOADERS)

        # Connections this run accepted (or would, in dry-run) are routed as if already active.
        accepted = run.report.ids(ACCEPT_PEERING)
        run.apply(routes.plan_for(env, scope, assume_active=accepted), routes.EXECUTORS)
    else:
        loaded = concern(name)
        run.apply(loaded.plan_for(env, scope), loaded.executors)


def account_from_context(context: Any) -> str:
    """The function's own account, from its ARN (no STS call needed)."""
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else ""


def env_for(settings: Settings, clients: Clients, account_id: str, delivery_id: str = "") -> Env:
    """The environment of one reconcile; without ``delivery_id``, a fresh one (a run of its own)."""
    return Env.create(settings, clients, account_id or clients.account_id(settings.region), delivery_id)
