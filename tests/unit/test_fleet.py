"""The fan-out over accounts and regions: bounded, ordered, one item's AWS error is its own; org listing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from peerkeeper import fleet
from peerkeeper.clients import Clients


def test_fan_out_runs_parallel_items_at_once_never_more_and_keeps_the_order():
    """A barrier of 3 only opens when 3 items run together; the pool of 3 never lets a 4th in."""
    barrier = threading.Barrier(3, timeout=30)
    lock = threading.Lock()
    running, most = 0, 0

    def work(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        barrier.wait()
        with lock:
            running -= 1
        return item * 10

    assert fleet.fan_out(list(range(6)), work, parallel=3) == [(n * 10, "") for n in range(6)]
    assert most == 3


def test_an_aws_error_is_that_items_result_and_the_others_go_on():
    def work(item: str) -> str:
        if item == "refused":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not you"}}, "AssumeRole")
        return item.upper()

    assert fleet.fan_out(["a", "refused", "b"], work, parallel=2) == [
        ("A", ""),
        (None, "AssumeRole failed (AccessDenied): not you"),
        ("B", ""),
    ]


def test_a_bug_propagates():
    def work(item: int) -> int:
        return 1 // item

    with pytest.raises(ZeroDivisionError):
        fleet.fan_out([1, 0, 2], work, parallel=1)


def test_nothing_to_do():
    assert fleet.fan_out([], str, parallel=4) == []


@pytest.mark.parametrize(
    ("codes", "worst"),
    [([0, 0], 0), ([0, 2, 0], 2), ([2, 1, 0], 1), ([1, 2], 1), ([], 0)],
)
def test_the_worst_exit_code_error_over_drift_over_in_sync(codes, worst):
    assert fleet.worst(codes, (0, 2, 1)) == worst


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        ("eu-west-1", "arn:aws:iam::111122223333:role/peerkeeper-plan"),
        ("cn-north-1", "arn:aws-cn:iam::111122223333:role/peerkeeper-plan"),
        ("us-gov-west-1", "arn:aws-us-gov:iam::111122223333:role/peerkeeper-plan"),
    ],
)
def test_the_role_arn_is_in_the_regions_partition(region, arn):
    assert fleet.role_arn(boto3.Session(), region, "111122223333", "peerkeeper-plan") == arn


def _account(account_id: str, state: str, *, legacy: bool = False) -> dict[str, object]:
    """An Account of ListAccounts; ``legacy``: only the ``Status`` field AWS retired in September 2026."""
    account: dict[str, object] = {
        "Id": account_id,
        "Arn": f"arn:aws:organizations::999999999999:account/o-example/{account_id}",
        "Email": f"{account_id}@example.com",
        "Name": account_id,
        "JoinedMethod": "CREATED",
        "JoinedTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
    }
    account["Status" if legacy else "State"] = state
    return account


def test_every_page_of_list_accounts_and_only_active_accounts():
    """Stubber: two pages with a NextToken (moto's organisation is too small to page)."""
    clients = Clients(boto3.Session(aws_access_key_id="k", aws_secret_access_key="s"))
    organizations = clients.organizations("us-east-1")
    with Stubber(organizations) as stub:
        first = [_account("111111111111", "ACTIVE"), _account("222222222222", "SUSPENDED")]
        second = [_account("333333333333", "ACTIVE", legacy=True), _account("444444444444", "PENDING_CLOSURE")]
        stub.add_response("list_accounts", {"Accounts": first, "NextToken": "page-2"}, {})
        stub.add_response("list_accounts", {"Accounts": second}, {"NextToken": "page-2"})

        assert fleet.organization_accounts(clients, "us-east-1") == ["111111111111", "333333333333"]
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("arn", "source", "session"),
    [
        ("arn:aws:iam::111122223333:user/ops/alice", "alice", "peerkeeper-alice"),
        (
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/bob@example.com",
            "AWSReservedSSO_Admin_0a1b",
            "peerkeeper-bob@example.com",
        ),
        ("arn:aws:iam::111122223333:root", "root", "peerkeeper-root"),
        ("arn:aws-cn:sts::111122223333:federated-user/carol", "carol", "peerkeeper-carol"),
        ("arn:aws:sts::111122223333:assumed-role/ci/" + "x" * 64, "ci", "peerkeeper-" + "x" * 53),
        ("arn:aws:sts::111122223333:assumed-role/ci/i-0abc:1", "ci", "peerkeeper-i-0abc-1"),
    ],
)
def test_the_session_names_the_caller(arn, source, session):
    assert fleet.identity_of(arn) == fleet.Identity(source, session)
