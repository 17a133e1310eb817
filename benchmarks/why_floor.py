"""The floor of a ``why`` question: a bare process replaying the same requests, boto3 only.

``python -m benchmarks.why_floor CALLS.json`` (a list of ``[service, region, operation, params]``
recorded by :mod:`benchmarks.why`) makes each request in order against ``AWS_ENDPOINT_URL`` and
prints how many it made.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
from botocore import xform_name


def main(path: str) -> None:
    with open(path) as handle:
        calls = json.load(handle)
    clients: dict[tuple[str, str], Any] = {}
    for service, region, operation, params in calls:
        key = (service, region)
        if key not in clients:
            clients[key] = boto3.client(service, region_name=region)
        getattr(clients[key], xform_name(operation))(**params)
    print(len(calls))


if __name__ == "__main__":
    main(sys.argv[1])
