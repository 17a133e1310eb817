"""Throttling: 30 % of attempts answered with the service's throttling error; everything converges.

Retries are botocore's (standard mode by default, adaptive by PEERKEEPER_RETRY_MODE); peerkeeper has
no sleep loop of its own. The faults are seeded: PEERKEEPER_MAX_ATTEMPTS=5 is botocore's
``total_max_attempts``, so a call exhausts them with probability 0.3**5 = 0.24 %; over the ~100
calls of this scenario an exhausted call is possible in principle (about one run in five for a
random seed); the seed fixes the sequence, and when one happens the
invocation raises ReconcileError and is delivered again, as EventBridge would (the test allows three
deliveries and reports how many it used). The run is identical on every machine.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from peerkeeper.clients import default_clients
from tests.reliability.conftest import ALL_EVENTS, assert_converged, deliver, function_of
from tests.reliability.faults import Throttler

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "common" / "peerkeeper"


def run_every_event(world, context, deliveries: int = 3) -> list[int]:
    used = []
    for name in ALL_EVENTS:
        _, count = deliver(function_of(name), world.event(name), context, attempts=deliveries)
        used.append(count)
    return used


def test_every_concern_converges_with_30_percent_of_attempts_throttled(world, hook, backoffs, lambda_context):
    throttler = Throttler(rate=0.3, seed=20261123)
    hook("before-send", throttler)

    used = run_every_event(world, lambda_context)

    assert_converged(world)
    # Faults really happened, on every service peerkeeper calls, and botocore retried each of them.
    assert throttler.total_injected / throttler.total_attempts == pytest.approx(0.3, abs=0.05)
    assert {"AcceptVpcPeeringConnection", "CreateRoute", "ChangeResourceRecordSets", "CreateFlowLogs"} <= set(
        throttler.attempts
    )
    assert backoffs.retries >= throttler.total_injected - 5 * (sum(used) - len(used))
    assert sum(used) - len(used) <= 2, used  # at most two redeliveries in this seeded run
    print(  # noqa: T201  (figures for docs/reliability.md, shown with -s)
        f"throttling: {throttler.total_attempts} attempts, {throttler.total_injected} throttled, "
        f"{backoffs.retries} retried by botocore, {sum(used) - len(used)} redelivery(ies), {len(used)} events"
    )


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_retry_mode_is_botocores_and_selectable(configure, aws, mode):
    configure(PEERKEEPER_RETRY_MODE=mode)

    client = default_clients().ec2("us-east-1")

    # PEERKEEPER_MAX_ATTEMPTS is botocore's total_max_attempts: the first attempt and 4 retries.
    retries: Any = getattr(client.meta.config, "retries")  # noqa: B009  (absent from the stubs)
    assert retries == {"mode": mode, "total_max_attempts": 5}


def test_adaptive_mode_converges_under_throttling_too(world, hook, backoffs, configure, lambda_context, monkeypatch):
    from botocore.retries import bucket

    configure(PEERKEEPER_RETRY_MODE="adaptive")
    # The adaptive rate limiter waits for tokens after a throttle; keep its decisions, not its waits.
    waits: list[float] = []
    original: Any = getattr(bucket.TokenBucket, "_sleep_amount")  # noqa: B009  (private: untyped in the stubs)

    def no_wait(self: Any, amount: float) -> float:
        waits.append(original(self, amount))
        return 0.0

    monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", no_wait)
    throttler = Throttler(rate=0.3, seed=7)
    hook("before-send", throttler)

    run_every_event(world, lambda_context)

    assert_converged(world)
    assert throttler.total_injected > 0
    assert backoffs.retries > 0


def sleeps(tree: ast.AST) -> list[tuple[str, int]]:
    """(enclosing class, line) of every ``sleep`` / ``_sleep`` reference (call, attribute, name)."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, owner: str) -> None:
        if isinstance(node, ast.ClassDef):
            owner = node.name
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
        if name.lstrip("_") == "sleep":
            found.append((owner, node.lineno))  # type: ignore[attr-defined]
        for child in ast.iter_child_nodes(node):
            visit(child, owner)

    visit(tree, "")
    return found


def test_no_hand_written_sleep_loop_in_peerkeeper():
    """The only sleep in the package is the Pacer's token bucket (pacing mutations, not retrying)."""
    offenders = [
        f"{path.name}:{line} (in {owner or 'module'})"
        for path in sorted(PACKAGE.glob("*.py"))
        for owner, line in sleeps(ast.parse(path.read_text()))
        if (path.name, owner) != ("reconcile.py", "Pacer")
    ]
    pacer = [owner for owner, _ in sleeps(ast.parse((PACKAGE / "reconcile.py").read_text()))]

    assert offenders == []
    assert pacer
    assert set(pacer) == {"Pacer"}
