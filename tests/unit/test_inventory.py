"""The inventory's bulk reads: all at the same time, stored in a fixed order, stopped by the deadline.

Behaviour tests, not timed ones: concurrency is shown with a barrier that only opens when every read
is in flight at once, the deadline with a fake ``time_left`` that falls by one step per question.
Pagination comes from botocore's Stubber (moto answers these listings in one page).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from peerkeeper.deadline import Deadline, DeadlineReached
from peerkeeper.inventory import Inventory, read_together

REGION = "us-east-1"
ACCOUNT = "123456789012"


class OneClient:
    """Stands for peerkeeper's Clients: one (stubbed) EC2 client."""

    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2

    def ec2(self, region: str) -> Any:
        return self._ec2


def stubbed_ec2() -> tuple[Any, Stubber]:
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    return ec2, Stubber(ec2)


def table(number: int) -> dict[str, Any]:
    return {"RouteTableId": f"rtb-{number:017x}", "VpcId": "vpc-00000000000000001", "Routes": []}


def falling_clock(start: float, step: float) -> Any:
    """time_left(): ``start`` seconds, then ``step`` fewer at each question."""
    left = [start + step]

    def time_left() -> float:
        left[0] -= step
        return left[0]

    return time_left


def test_a_paginated_read_stops_at_the_deadline_before_asking_for_the_next_page():
    ec2, stubber = stubbed_ec2()
    stubber.add_response("describe_route_tables", {"RouteTables": [table(1)], "NextToken": "p2"}, {})
    stubber.add_response("describe_route_tables", {"RouteTables": [table(2)], "NextToken": "p3"}, {"NextToken": "p2"})
    stubber.add_response("describe_route_tables", {"RouteTables": [table(3)]}, {"NextToken": "p3"})
    # 12 s before page 1, 11 s before page 2, 10 s before page 3 ... the reserve is 10.5 s.
    inventory = Inventory(OneClient(ec2), ACCOUNT, Deadline(falling_clock(12, 1), reserve_seconds=10.5))  # type: ignore[arg-type]

    with stubber, pytest.raises(DeadlineReached) as stopped:
        inventory.load_region(REGION, kinds=("route_tables",))

    assert stopped.value.where == "describe_route_tables after 2 page(s)"
    with pytest.raises(AssertionError):  # page 3 is still queued: it was never asked for
        stubber.assert_no_pending_responses()
    # Nothing half-read is kept as if complete: a later lookup would read again, and stops too.
    with pytest.raises(DeadlineReached, match="not started"):
        inventory.route_tables(REGION, table_ids=["rtb-00000000000000001"])


def test_a_paginated_read_with_time_enough_reads_every_page_and_asks_no_more():
    ec2, stubber = stubbed_ec2()
    stubber.add_response("describe_route_tables", {"RouteTables": [table(1)], "NextToken": "p2"}, {})
    stubber.add_response("describe_route_tables", {"RouteTables": [table(2)]}, {"NextToken": "p2"})
    questions: list[float] = []

    def time_left() -> float:
        questions.append(11.0)
        return 11.0

    inventory = Inventory(OneClient(ec2), ACCOUNT, Deadline(time_left, reserve_seconds=10.5))  # type: ignore[arg-type]

    with stubber:
        inventory.load_region(REGION, kinds=("route_tables",))
        stubber.assert_no_pending_responses()

    assert len(questions) == 2  # before page 1 and before page 2; none after the last page
    ids = {t.id for t in inventory.route_tables(REGION, vpc_ids=["vpc-00000000000000001"])}
    assert ids == {"rtb-00000000000000001", "rtb-00000000000000002"}


class BarrierEc2:
    """A fake EC2 whose every listing waits until ``parties`` listings are in flight at once."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self.threads: set[str] = set()

    def get_paginator(self, operation: str) -> Any:
        outer = self

        class Paginator:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                outer.barrier.wait()  # BrokenBarrierError if the reads were made one after the other
                outer.threads.add(threading.current_thread().name)
                return [PAGES[operation]]

        return Paginator()


PAGES: dict[str, dict[str, Any]] = {
    "describe_vpcs": {"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "OwnerId": ACCOUNT}]},
    "describe_route_tables": {"RouteTables": [{"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Routes": []}]},
    "describe_vpc_peering_connections": {"VpcPeeringConnections": [{"VpcPeeringConnectionId": "pcx-1"}]},
    "describe_flow_logs": {"FlowLogs": [{"FlowLogId": "fl-1", "ResourceId": "vpc-1"}]},
}


def test_the_regions_listings_are_all_in_flight_at_once_and_stored_whatever_came_first():
    ec2 = BarrierEc2(parties=4)
    inventory = Inventory(OneClient(ec2), ACCOUNT)  # type: ignore[arg-type]

    inventory.load_region(REGION, kinds=("vpcs", "route_tables", "peerings", "flow_logs"))

    assert len(ec2.threads) == 4
    assert [v.id for v in inventory.all_vpcs(REGION)] == ["vpc-1"]
    assert [t.id for t in inventory.route_tables(REGION, vpc_ids=["vpc-1"])] == ["rtb-1"]
    assert [p.id for p in inventory.peerings(REGION)] == ["pcx-1"]
    assert [f["FlowLogId"] for f in inventory.all_flow_logs(REGION)] == ["fl-1"]


def test_read_together_keeps_the_order_and_raises_the_first_error_in_that_order():
    gate = threading.Barrier(3, timeout=30)

    def value(result: str) -> Any:
        def read() -> str:
            gate.wait()
            return result

        return read

    def failing(message: str) -> Any:
        def read() -> str:
            gate.wait()
            raise RuntimeError(message)

        return read

    assert read_together([value("a"), value("b"), value("c")]) == ["a", "b", "c"]
    gate.reset()
    with pytest.raises(RuntimeError, match="first"):
        read_together([value("a"), failing("first"), failing("second")])
