"""The CreateFlowLogs ClientToken is keyed to the delivery, not to the clock.

EC2 answers a request whose client token it has seen before with the earlier result and "without
performing any further actions" (docs/moto-vs-aws.md). moto ignores tokens, so moto alone would
create the flow log whatever token is sent. These tests wrap the EC2 client's ``_make_api_call`` with
``Ec2Idempotency``, which answers a repeated token the way EC2 does (the remembered result, nothing
created; ``IdempotentParameterMismatch`` for other parameters), and assert on the tokens sent.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from peerkeeper import fleet
from peerkeeper.cli import run as cli_run
from peerkeeper.clients import Clients, default_clients
from peerkeeper.events import delivery_id
from peerkeeper.reconcile import ReconcileError
from peerkeeper.settings import get_settings
from tests.support import ACCOUNT, REGION, FakeContext, ec2_client, handler, load_event

enable = handler("enable_flow_logs")
GROUP = "flow-logs-group"


@dataclass
class Ec2Idempotency:
    """EC2's client-token memory for CreateFlowLogs, which moto lacks (see the module docstring).

    ``lose_next_answer``: the next CreateFlowLogs is carried out but its answer is lost (HTTP 500), as
    when a connection drops after EC2 acted. ``hide_created_once``: the next DescribeFlowLogs does not
    show the flow logs created so far yet (EC2's reads are eventually consistent).
    """

    tokens: list[str] = field(default_factory=list)
    remembered: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    lose_next_answer: bool = False
    hide_created_once: bool = False
    created: set[str] = field(default_factory=set)

    def wrap(self, client: Any) -> None:
        original: Callable[[str, dict[str, Any]], dict[str, Any]] = client._make_api_call

        def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
            if operation == "CreateFlowLogs":
                return self._create(original, params)
            response = original(operation, params)
            if operation == "DescribeFlowLogs" and self.hide_created_once:
                self.hide_created_once = False
                response = {
                    **response,
                    "FlowLogs": [f for f in response["FlowLogs"] if f["FlowLogId"] not in self.created],
                }
            return response

        client._make_api_call = call

    def _create(self, original: Callable[..., dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        token = params["ClientToken"]
        self.tokens.append(token)
        if token in self.remembered:
            earlier, response = self.remembered[token]
            if earlier != params:
                raise _error("IdempotentParameterMismatch", "The client token was used with other parameters.", 400)
            return copy.deepcopy(response)  # the earlier result; nothing is created
        response = original("CreateFlowLogs", params)
        self.remembered[token] = (copy.deepcopy(params), copy.deepcopy(response))
        self.created.update(response.get("FlowLogIds", []))
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise _error("InternalError", "An internal error has occurred.", 500)
        return response


def _error(code: str, message: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "CreateFlowLogs")


@pytest.fixture
def ec2_memory(aws: None) -> Ec2Idempotency:
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=GROUP)
    memory = Ec2Idempotency()
    memory.wrap(default_clients().ec2(REGION))  # the handlers' own client (cached per region)
    return memory


def our_flow_logs(ec2: Any) -> dict[str, str]:
    """VPC -> id of its flow log to our group."""
    return {f["ResourceId"]: f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"] if f["LogGroupName"] == GROUP}


def all_vpcs(ec2: Any) -> set[str]:
    return {vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"]}


def delete_by_hand(ec2: Any) -> None:
    ec2.delete_flow_logs(FlowLogIds=list(our_flow_logs(ec2).values()))


def delivery(name: str = "enable_flow_logs__DeleteFlowLogs") -> dict[str, Any]:
    """A new delivery of the sample event: EventBridge gives every event its own id."""
    return {**load_event(name), "id": str(uuid.uuid4())}


def test_flow_log_deleted_after_a_repair_comes_back_on_the_next_delivery(ec2_memory, lab):
    """Repaired at 10:02, deleted by hand at 10:05, DeleteFlowLogs delivered at 10:06.

    Both deliveries plan the very same batch within seconds (well inside the 10-minute window the
    token used to hash): only a token keyed to the delivery makes EC2 create the flow logs again.
    """
    ec2 = ec2_client()
    enable(delivery(), FakeContext(aws_request_id=str(uuid.uuid4())))
    assert set(our_flow_logs(ec2)) == all_vpcs(ec2)
    delete_by_hand(ec2)

    summary = enable(delivery(), FakeContext(aws_request_id=str(uuid.uuid4())))

    first, second = ec2_memory.tokens
    assert first != second
    assert set(our_flow_logs(ec2)) == all_vpcs(ec2)  # created again, not answered from EC2's memory
    assert [a["outcome"] for a in summary["actions"]] == ["done"]


def test_retry_of_one_delivery_sends_the_same_token(ec2_memory, lab):
    """EC2 acted but its answer was lost, so the invocation failed; Lambda retries the same event.

    The retry's describe does not show the new flow logs yet (eventual consistency), so it plans the
    same batch: the same token makes EC2 answer with the first result instead of acting twice.
    """
    ec2 = ec2_client()
    event, context = delivery(), FakeContext(aws_request_id=str(uuid.uuid4()))
    ec2_memory.lose_next_answer = True
    with pytest.raises(ReconcileError, match="InternalError"):
        enable(event, context)
    ec2_memory.hide_created_once = True

    summary = enable(event, context)  # Lambda's retry: the same event, the same request id

    first, retry = ec2_memory.tokens
    assert retry == first
    assert [a["outcome"] for a in summary["actions"]] == ["done"]
    assert set(our_flow_logs(ec2)) == all_vpcs(ec2)
    assert len(ec2.describe_flow_logs()["FlowLogs"]) == len(all_vpcs(ec2))  # one each, nothing twice


def test_each_cli_run_sends_a_new_token(aws):
    """``peerkeeper apply`` (and the demo's final plan): a run of its own, a token of its own."""
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=GROUP)
    clients = Clients()
    memory = Ec2Idempotency()
    memory.wrap(clients.ec2(REGION))
    target = fleet.Target(clients, ACCOUNT, (get_settings(),))
    ec2 = ec2_client()

    cli_run.run(target, "apply", concerns=("flow_logs",))
    delete_by_hand(ec2)
    cli_run.run(target, "apply", concerns=("flow_logs",))

    first, second = memory.tokens
    assert first != second
    assert set(our_flow_logs(ec2)) == all_vpcs(ec2)


@pytest.mark.parametrize(
    ("event", "request_id", "expected"),
    [
        ({"id": "6f1c0017-2b7a"}, "req-1", "event-6f1c0017-2b7a"),  # EventBridge: kept across its retries
        ({}, "req-1", "request-req-1"),  # a direct asynchronous invoke: Lambda keeps the request id
        ({"id": ["x"]}, "req-1", "request-req-1"),
        ({"id": "x" * 500}, "req-1", "request-req-1"),
        ("not an object", "", ""),  # nothing stable: the reconcile makes a fresh id of its own
    ],
)
def test_delivery_id_is_the_event_id_else_the_request_id(event, request_id, expected):
    assert delivery_id(event, FakeContext(aws_request_id=request_id)) == expected
