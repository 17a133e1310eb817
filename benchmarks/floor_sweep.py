"""The floor of a sweep's observe: a bare process paging the four describes, nothing else.

Run as ``python -m benchmarks.floor_sweep [--parallel] [REGION ...]`` against ``AWS_ENDPOINT_URL``;
counts its own calls (``BENCH_CALLS_OUT``) with the same hook as the other tools.

- sequential (default): the describes one after the other (the sequential floor);
- ``--parallel``: every describe of every region at once, from a thread pool sharing one client
  per region (the parallel floor: under a round trip, the limit any tool can reach).
"""

from __future__ import annotations

from benchmarks.callcount import install

install()

import sys  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import boto3  # noqa: E402  (after the hook, like every measured tool)

PAGED = (
    ("describe_vpcs", "Vpcs"),
    ("describe_route_tables", "RouteTables"),
    ("describe_vpc_peering_connections", "VpcPeeringConnections"),
    ("describe_flow_logs", "FlowLogs"),
)


def count(client: object, operation: str, key: str) -> int:
    return sum(len(page[key]) for page in client.get_paginator(operation).paginate())  # type: ignore[attr-defined]


def main(argv: list[str]) -> None:
    parallel = "--parallel" in argv
    regions = [arg for arg in argv if not arg.startswith("--")] or [None]
    clients = [boto3.client("ec2", region_name=region) for region in regions]
    reads = [(client, operation, key) for client in clients for operation, key in PAGED]
    if parallel:
        with ThreadPoolExecutor(max_workers=len(reads)) as pool:
            counts = list(pool.map(lambda read: count(*read), reads))
    else:
        counts = [count(*read) for read in reads]
    print(counts)


if __name__ == "__main__":
    main(sys.argv[1:])
