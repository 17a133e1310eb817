"""Route 53 ``PriorRequestNotComplete`` (a concurrent change to the zone) is retried with backoff.

moto never returns that error, so these tests fake the HTTP layer instead. Not with Stubber for the
retry itself: Stubber answers on ``before-call``, which short-circuits the whole request, retry
handler included, so a stubbed ``PriorRequestNotComplete`` surfaces at once whatever the retry
configuration. A ``before-send`` hook answers in place of the socket instead: botocore parses the
real Route 53 XML, and its retry handler (``needs-retry``) decides, exactly as against AWS.

Botocore's standard and adaptive modes (the two ``PEERKEEPER_RETRY_MODE`` allows) count the code as
transient and throttling (``botocore/retries/standard.py``), so peerkeeper adds no retry code of its
own; these tests pin that behaviour on the clients peerkeeper builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from peerkeeper import dns
from peerkeeper.clients import Clients
from peerkeeper.dns import HostedZone
from peerkeeper.model import Action
from peerkeeper.reconcile import DONE, FAILED, ReconcileError, Report, execute

RECORD, VALUE = "api.elb.lab.private", "internal-api-elb-1234567890.us-east-1.elb.amazonaws.com"
ACTION = Action(
    dns.UPSERT,
    RECORD,
    "us-east-1",
    "missing",
    dns.desired_record(HostedZone("Z0A1B2C3D4E5F60008", "elb.lab.private", True), RECORD, VALUE, 300),
)

# Bodies as Route 53 sends them (REST-XML, namespace of the 2013-04-01 API).
PRIOR_REQUEST_NOT_COMPLETE = (
    400,
    b'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
    b"<Error><Type>Sender</Type><Code>PriorRequestNotComplete</Code>"
    b"<Message>The request was rejected because Route 53 was still processing a prior request.</Message>"
    b"</Error><RequestId>5f1c7c2e-0000-4000-8000-000000000001</RequestId></ErrorResponse>",
)
CHANGE_SUBMITTED = (
    200,
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
    b"<ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status>"
    b"<SubmittedAt>2026-11-23T10:40:00.000Z</SubmittedAt><Comment>peerkeeper</Comment></ChangeInfo>"
    b"</ChangeResourceRecordSetsResponse>",
)


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


class FakeRoute53:
    """Answers ChangeResourceRecordSets from a script of (status, body), recording each attempt."""

    def __init__(self, *script: tuple[int, bytes]) -> None:
        self.script = list(script)
        self.attempts = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.attempts += 1
        status, body = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))  # type: ignore[arg-type]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff delays botocore asks for (recorded instead of slept)."""
    delays: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", delays.append)
    return delays


def route53_answering(clients: Clients, fake: FakeRoute53) -> None:
    events: Any = clients.route53().meta.events  # a before-send handler may return a response
    events.register("before-send.route-53.ChangeResourceRecordSets", fake)


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_prior_request_not_complete_is_retried_with_backoff(mode: str, sleeps: list[float]) -> None:
    clients = Clients(retry_mode=mode, max_attempts=5)
    fake = FakeRoute53(PRIOR_REQUEST_NOT_COMPLETE, CHANGE_SUBMITTED)
    route53_answering(clients, fake)

    (outcome,) = execute([ACTION], clients, dns.EXECUTORS, dry_run=False)

    assert outcome.status == DONE
    assert fake.attempts == 2
    assert sleeps  # backed off before the second attempt
    assert sleeps[-1] > 0


def test_still_busy_after_every_attempt_fails_the_invocation(sleeps: list[float]) -> None:
    clients = Clients(retry_mode="standard", max_attempts=3)
    fake = FakeRoute53(PRIOR_REQUEST_NOT_COMPLETE)
    route53_answering(clients, fake)

    (outcome,) = execute([ACTION], clients, dns.EXECUTORS, dry_run=False)

    assert fake.attempts == 3  # PEERKEEPER_MAX_ATTEMPTS counts every attempt (botocore total_max_attempts)
    assert len(sleeps) == 2  # a backoff before each retry
    assert outcome.status == FAILED  # retryable, not terminal: the event goes back to EventBridge
    assert outcome.error.startswith("PriorRequestNotComplete")
    report = Report(mode="enforce", outcomes=[outcome])
    with pytest.raises(ReconcileError, match="PriorRequestNotComplete"):
        report.raise_if_failed()


def test_upsert_sends_the_planned_change_unchanged() -> None:
    """Stubber fits here (no retry involved): it checks the call against the API model and the plan."""
    clients = Clients()
    with Stubber(clients.route53()) as stubber:
        stubber.add_response(
            "change_resource_record_sets",
            {
                "ChangeInfo": {
                    "Id": "/change/C2682N5HXP0BZ4",
                    "Status": "PENDING",
                    "SubmittedAt": "2026-11-23T10:40:00Z",
                }
            },
            expected_params=dict(ACTION.params),
        )

        dns.EXECUTORS[dns.UPSERT](clients, ACTION)

        stubber.assert_no_pending_responses()
