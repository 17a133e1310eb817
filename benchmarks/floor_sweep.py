"""The floor of a sweep's observe: a bare process paging the four describes, nothing else.

Run as ``python -m benchmarks.floor_sweep`` against ``AWS_ENDPOINT_URL``; counts its own calls
(``BENCH_CALLS_OUT``) with the same hook as the other tools.
"""

from __future__ import annotations

from benchmarks.callcount import install

install()

import boto3  # noqa: E402  (after the hook, like every measured tool)

PAGED = (
    ("describe_vpcs", "Vpcs"),
    ("describe_route_tables", "RouteTables"),
    ("describe_vpc_peering_connections", "VpcPeeringConnections"),
    ("describe_flow_logs", "FlowLogs"),
)


def main() -> None:
    ec2 = boto3.client("ec2")
    counts = {}
    for operation, key in PAGED:
        counts[key] = sum(len(page[key]) for page in ec2.get_paginator(operation).paginate())
    print(counts)


if __name__ == "__main__":
    main()
