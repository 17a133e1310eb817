"""Count the AWS calls of a whole process with a botocore hook, for tools we run as they ship.

``install()`` wraps botocore's ``Session.create_client`` so every client gets a ``before-call``
handler (the hook ``tests/support.CallRecorder`` uses); at exit the counts by operation are written
as JSON to ``$BENCH_CALLS_OUT``. Standard library and botocore only: it is imported by peerkeeper's
environment and by Cloud Custodian's (``.tools/c7n``) alike.
"""

from __future__ import annotations

import atexit
import json
import os
import time
from collections import Counter
from typing import Any

_counts: Counter[str] = Counter()
_started = time.perf_counter()


def _record(model: Any, **_: Any) -> None:
    _counts[model.name] += 1


def _write() -> None:
    path = os.environ.get("BENCH_CALLS_OUT")
    if path:
        with open(path, "w") as handle:
            json.dump({"calls": dict(_counts), "seconds": time.perf_counter() - _started}, handle)


def install() -> None:
    import botocore.session

    original = botocore.session.Session.create_client
    if getattr(original, "_bench_wrapped", False):
        return

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call", _record)
        return client

    create_client._bench_wrapped = True  # type: ignore[attr-defined]
    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    atexit.register(_write)
