"""Observe, check, plan, apply, verify: ``intent plan`` and ``intent apply`` as functions.

:func:`plan_intent` and :func:`apply_intent` take the intent and the accounts to run in
(:class:`peerkeeper.fleet.Target`, as the CLI, the demo and the ``IntentFunction`` make them) and
return an :class:`IntentResult` whose :meth:`~IntentResult.document` is the ``--json`` document.

``apply`` runs the steps that are ready (through :func:`peerkeeper.reconcile.execute`: pacing,
terminal and retryable errors, dry-run), reads again, and goes on while there is something ready
that it has not tried: request, then accept, then DNS options and routes, in one run. Then it
verifies: every pair's state is the one read after the last change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from peerkeeper import peering as peering_concern
from peerkeeper import routes
from peerkeeper.clients import Clients
from peerkeeper.fleet import DEFAULT_PARALLEL, Target, Unreachable
from peerkeeper.intent.check import compile_and_check
from peerkeeper.intent.model import (
    APPLY_PROBLEM,
    IN_SYNC,
    INFEASIBLE,
    MISSING,
    PENDING,
    Intent,
    IntentFinding,
    World,
)
from peerkeeper.intent.observe import observe
from peerkeeper.intent.plan import ACCEPT_PEERING, CREATE_PEERING, SET_PEERING_DNS, IntentPlan, Step, plan
from peerkeeper.model import Action
from peerkeeper.reconcile import FAILED, PLANNED, Executor, Outcome, Pacer, execute

MAX_ROUNDS = 4  # request, accept, options and routes, and one more for what the last round revealed
STATES = (IN_SYNC, PENDING, MISSING, INFEASIBLE)


def _create(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).create_vpc_peering_connection(**action.params)


def _set_dns(clients: Clients, action: Action) -> None:
    clients.ec2(action.region).modify_vpc_peering_connection_options(**action.params)


EXECUTORS: dict[str, Executor] = {
    CREATE_PEERING: _create,
    ACCEPT_PEERING: peering_concern.EXECUTORS[peering_concern.ACCEPT],
    SET_PEERING_DNS: _set_dns,
    **routes.EXECUTORS,
}


def evaluate(intent: Intent, world: World) -> IntentPlan:
    """Compile, check and plan one observed world (pure)."""
    _pairs, verdicts, findings = compile_and_check(intent, world)
    return plan(verdicts, findings, world)


@dataclass
class IntentResult:
    """One ``intent plan`` or ``intent apply``: the final plan, what was done, what went wrong."""

    command: str
    mode: str
    final: IntentPlan
    done: list[tuple[Step, Outcome]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unreachable: list[Unreachable] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)

    @property
    def actions(self) -> list[dict[str, Any]]:
        """For ``plan`` what would be done; for ``apply`` what was done (each with its outcome)."""
        if self.command == "plan":
            return [{**step.to_dict(), "outcome": PLANNED} for step in self.final.steps]
        return [{**step.to_dict(), **outcome.to_dict()} for step, outcome in self.done]

    @property
    def findings(self) -> list[dict[str, Any]]:
        found = [finding.to_dict() for finding in self.final.findings]
        for step, outcome in self.done:
            for problem in (*outcome.problems, *outcome.conflicts):
                found.append(
                    IntentFinding(APPLY_PROBLEM, problem.resource, problem.reason, region=problem.region).to_dict()
                    | {"account": step.account}
                )
        return found

    @property
    def all_errors(self) -> list[str]:
        failed = [
            f"{step.action.kind} {step.action.resource}: {o.error}" for step, o in self.done if o.status == FAILED
        ]
        return failed + self.errors + [f"{item.account_id}: {item.reason}" for item in self.unreachable]

    def document(self) -> dict[str, Any]:
        """The ``--json`` document: no clock in it, so two plans of one world print the same."""
        edges = [edge.to_dict() for edge in self.final.edges]
        actions, findings, errors = self.actions, self.findings, self.all_errors
        counts: dict[str, int] = {"edges": len(edges)}
        counts.update({state: sum(1 for edge in edges if edge["state"] == state) for state in STATES})
        counts.update({"actions": len(actions), "findings": len(findings), "errors": len(errors)})
        return {
            "command": f"intent {self.command}",
            "mode": self.mode,
            "accounts": self.accounts,
            "regions": self.regions,
            "edges": edges,
            "actions": actions,
            "findings": findings,
            "counts": counts,
            "errors": errors,
        }

    def exit_code(self) -> int:
        """``plan``: 0 nothing to do, 2 actions or findings, 1 error. ``apply``: 0 converged, 1 error."""
        if self.all_errors:
            return 1
        if self.command == "plan":
            return 2 if self.final.steps or self.final.findings else 0
        return 1 if self.final.ready and self.mode != "dry-run" else 0


def _frame(targets: Sequence[Target], unreachable: Sequence[Unreachable]) -> tuple[list[str], list[str]]:
    accounts = [t.account_id for t in targets] + [u.account_id for u in unreachable]
    regions = list(dict.fromkeys(region for target in targets for region in target.regions))
    return accounts, regions


def plan_intent(
    intent: Intent,
    targets: Sequence[Target],
    unreachable: Sequence[Unreachable] = (),
    *,
    parallel: int = DEFAULT_PARALLEL,
    on_unit: Callable[[str, str], None] | None = None,
) -> IntentResult:
    """What ``apply`` would do, and each pair's state: reads only, no mutating call."""
    world, errors = observe(targets, parallel=parallel, on_unit=on_unit)
    accounts, regions = _frame(targets, unreachable)
    return IntentResult("plan", "dry-run", evaluate(intent, world), [], errors, list(unreachable), accounts, regions)


def _signature(step: Step) -> tuple[str, str, str, str]:
    return (step.account, step.action.kind, step.action.resource, repr(sorted(step.action.params.items())))


def apply_intent(
    intent: Intent,
    targets: Sequence[Target],
    unreachable: Sequence[Unreachable] = (),
    *,
    parallel: int = DEFAULT_PARALLEL,
    on_unit: Callable[[str, str], None] | None = None,
    on_action: Callable[[Action], None] | None = None,
) -> IntentResult:
    """Make the world what the file declares (never deleting anything), then verify it."""
    dry_run = any(settings.dry_run for target in targets for settings in target.settings)
    accounts, regions = _frame(targets, unreachable)
    result = IntentResult(
        "apply",
        "dry-run" if dry_run else "enforce",
        IntentPlan((), (), ()),
        [],
        [],
        list(unreachable),
        accounts,
        regions,
    )
    clients = {target.account_id: target.clients for target in targets}
    pacers = {
        t.account_id: Pacer(t.settings[0].mutation_rate, t.settings[0].mutation_burst) for t in targets if t.settings
    }
    tried: set[tuple[str, str, str, str]] = set()
    for _ in range(MAX_ROUNDS):
        world, errors = observe(targets, parallel=parallel, on_unit=on_unit)
        result.errors = errors
        result.final = evaluate(intent, world)
        todo = [step for step in result.final.ready if _signature(step) not in tried and step.account in clients]
        if not todo:
            break
        tried.update(_signature(step) for step in todo)
        for step, outcome in _execute(todo, clients, pacers, dry_run=dry_run, on_action=on_action):
            result.done.append((step, outcome))
        if dry_run:
            break
    else:
        world, result.errors = observe(targets, parallel=parallel, on_unit=on_unit)
        result.final = evaluate(intent, world)
    return result


def _execute(
    steps: Iterable[Step],
    clients: dict[str, Clients],
    pacers: dict[str, Pacer],
    *,
    dry_run: bool,
    on_action: Callable[[Action], None] | None,
) -> list[tuple[Step, Outcome]]:
    """Each step through :func:`peerkeeper.reconcile.execute` with its account's clients, in order."""
    done = []
    for step in steps:
        (outcome,) = execute(
            [step.action], clients[step.account], EXECUTORS, dry_run=dry_run, pacer=pacers.get(step.account)
        )
        done.append((step, outcome))
        if on_action is not None:
            on_action(step.action)
    return done
