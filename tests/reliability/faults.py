"""Fault injection around moto, through botocore's own event hooks.

``Throttler`` is a ``before-send`` handler registered *first* on peerkeeper's session, ahead of
moto's own ``before-send`` handler: for a seeded random share of attempts it answers in moto's stead
with the HTTP status and error body the real service sends when it throttles (EC2: 503 with
``RequestLimitExceeded`` in EC2's ``<Response><Errors>`` XML; Route 53: 400 ``Throttling`` in REST-XML;
ELB, ELBv2, STS, SNS: 400 ``Throttling`` in the query protocol's ``<ErrorResponse>``). botocore
parses that like a real response, so its retry handler (``needs-retry``) sees exactly what it would
see in production and retries with its own backoff; nothing in peerkeeper knows faults exist.

``before-send`` runs once per *attempt* (inside botocore's retry loop), ``before-call`` once per
*call*: the recorder in ``tests/support.py`` counts calls, this counts attempts.

botocore calls *every* ``before-send`` handler and keeps the first response, so moto's handler runs
after ours even when ours answered: left alone, moto would carry out the request whose answer was
an error (a mutation that "failed" but happened). ``answer`` points the faulted attempt's URL at a
host moto does not serve, so the request is not carried out, as with a real throttle.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

_EC2_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
    "<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
)
_QUERY_ERROR = (
    '<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>{code}</Code>'
    "<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
)
_NAMESPACES = {
    "route-53": "https://route53.amazonaws.com/doc/2013-04-01/",
    "elastic-load-balancing-v2": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "elastic-load-balancing": "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
}


class _RawBody(BytesIO):
    """What botocore reads a response body from (``raw.stream()``), as urllib3 would give it."""

    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


def error_response(url: str, service: str, code: str, message: str, status: int) -> AWSResponse:
    request_id = f"fault-{random.getrandbits(32):08x}"
    template = _EC2_ERROR if service == "ec2" else _QUERY_ERROR
    body = template.format(code=code, message=message, request_id=request_id, namespace=_NAMESPACES.get(service, ""))
    headers = HTTPHeaders()
    headers["Content-Type"] = "text/xml"
    headers["x-amzn-RequestId"] = request_id
    return AWSResponse(url, status, headers, _RawBody(body.encode()))


UNSERVED_URL = "https://fault-injected.invalid/"


def answer(request: Any, service: str, code: str, message: str, status: int) -> AWSResponse:
    """The fault's response; the attempt itself never reaches moto (see the module's docstring)."""
    response = error_response(request.url, service, code, message, status)
    request.url = UNSERVED_URL  # botocore makes a new request for each retry: only this attempt
    return response


def throttle_for(service: str) -> tuple[str, str, int]:
    """(code, message, HTTP status) of the service's throttling error."""
    if service == "ec2":
        return "RequestLimitExceeded", "Request limit exceeded.", 503
    return "Throttling", "Rate exceeded", 400


def _service_and_operation(event_name: str) -> tuple[str, str]:
    parts = event_name.split(".")  # before-send.<service-id>.<Operation>
    return (parts[1], parts[2]) if len(parts) >= 3 else ("", "")


@dataclass
class Throttler:
    """Throttle a seeded ``rate`` share of attempts (all services, or only ``operations``)."""

    rate: float = 0.3
    seed: int = 20261123
    operations: Collection[str] | None = None
    attempts: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _streams: dict[str, random.Random] = field(default_factory=dict)

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        service, operation = _service_and_operation(event_name)
        if self.operations is not None and operation not in self.operations:
            return None
        with self._lock:
            self.attempts[operation] += 1
            # One seeded sequence per operation: the same faults whatever the order in which
            # concurrent reads of different operations (Inventory.load_region) reach this hook.
            stream = self._streams.setdefault(operation, random.Random(f"{self.seed}:{operation}"))
            if stream.random() >= self.rate:
                return None
            self.injected[operation] += 1
        code, message, status = throttle_for(service)
        return answer(request, service, code, message, status)

    @property
    def total_attempts(self) -> int:
        return sum(self.attempts.values())

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())


@dataclass
class FailOnce:
    """Answer the calls ``matches`` picks with ``code`` (every attempt: retries see it too)."""

    matches: Callable[[str, Any], bool]
    code: str = "UnauthorizedOperation"
    message: str = "You are not authorized to perform this operation."
    status: int = 403
    hits: int = 0
    bodies: list[Any] = field(default_factory=list)

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        service, operation = _service_and_operation(event_name)
        if not self.matches(operation, request):
            return None
        self.hits += 1
        self.bodies.append(request.body)
        return answer(request, service, self.code, self.message, self.status)


@dataclass
class Backoffs:
    """The delays botocore's retry handler computed (then slept 0 s instead, to keep tests fast)."""

    delays: list[float] = field(default_factory=list)

    @property
    def retries(self) -> int:
        return len(self.delays)
