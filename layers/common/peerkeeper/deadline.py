"""The invocation's deadline: stop cleanly before Lambda's timeout cuts the run off.

A Lambda function that hits its timeout is killed mid-call: no summary, no metrics, and the event is
retried from the start. A run that watches the clock instead stops at a point of its choosing, says
what it did not do, and the next run (the next sweep, 15 minutes later) carries on where the world
now stands. ``time_left`` is Lambda's ``context.get_remaining_time_in_millis`` in seconds (or a fake
clock in the tests); ``reserve_seconds`` is kept back for the summary, the metrics and the
notification, and for the call in flight.

Checked before every page of every read (:mod:`peerkeeper.inventory`) and before every mutating call
(:func:`peerkeeper.reconcile.execute`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

RESERVE_SECONDS = 10.0


class DeadlineReached(Exception):  # a stop, not an error: the next run carries on
    """Raised by a read that would start after the deadline; ``where`` names it."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


@dataclass(frozen=True)
class Deadline:
    """``time_left()`` seconds remain; stop when fewer than ``reserve_seconds`` do. No clock: never."""

    time_left: Callable[[], float] | None = None
    reserve_seconds: float = RESERVE_SECONDS

    def passed(self) -> bool:
        return self.time_left is not None and self.time_left() < self.reserve_seconds

    def check(self, operation: str, pages: int) -> None:
        if self.passed():
            where = f"{operation} after {pages} page(s)" if pages else f"{operation} (not started)"
            raise DeadlineReached(where)
