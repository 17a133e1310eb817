"""Write the trimmed botocore service models the Lambda functions load (``peerkeeper/botocore_data``).

Creating a boto3 client parses the service's whole model: EC2's is 830 operations and 4,421 shapes
(0.55 MiB gzipped JSON), of which the functions call 9. Parsing it is the largest single part of a
cold start after the imports (docs/benchmarks.md). botocore looks for models first in the
directories of its ``data_path`` setting (``AWS_DATA_PATH``), so the functions' clients are given a
directory holding, for the services below, the same model with only the operations they call and
the shapes those reach. Everything else (endpoint rules, paginators, retries) still comes from
botocore's own data.

The models are cut from the botocore the tests run (the layer's pinned one); a test regenerates them
and compares, and checks that every action the template grants a function is in them. Run after a
boto3/botocore upgrade: ``python -m tools.trim_botocore_data``.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import botocore

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "layers" / "common" / "peerkeeper" / "botocore_data"
BOTOCORE_DATA = Path(botocore.__file__).resolve().parent / "data"

# service -> the operations the Lambda functions call (the template's IAM actions, no more).
OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "ec2": (
        "AcceptVpcPeeringConnection",
        "CreateFlowLogs",
        "CreateRoute",
        "CreateTags",  # granted to intent for tag-on-create (CreateVpcPeeringConnection's TagSpecifications)
        "CreateVpcPeeringConnection",
        "DescribeFlowLogs",
        "DescribeRouteTables",
        "DescribeVpcPeeringConnections",
        "DescribeVpcs",
        "GetManagedPrefixListEntries",
        "ModifyVpcPeeringConnectionOptions",
        "RejectVpcPeeringConnection",
        "ReplaceRoute",
    ),
    "elbv2": ("DescribeLoadBalancers",),
    "elb": ("DescribeLoadBalancers",),
    "route53": ("ChangeResourceRecordSets", "GetHostedZone", "ListHostedZonesByName", "ListResourceRecordSets"),
}


def latest_version(service: str) -> str:
    return sorted(path.name for path in (BOTOCORE_DATA / service).iterdir() if path.is_dir())[-1]


def full_model(service: str, version: str) -> dict[str, Any]:
    folder = BOTOCORE_DATA / service / version
    plain = folder / "service-2.json"
    if plain.exists():
        return json.loads(plain.read_text())  # type: ignore[no-any-return]
    return json.loads(gzip.decompress((folder / "service-2.json.gz").read_bytes()))  # type: ignore[no-any-return]


def reachable_shapes(model: Mapping[str, Any], operations: Iterable[str]) -> set[str]:
    pending: list[str] = []
    for name in operations:
        operation = model["operations"][name]
        pending += [operation[key]["shape"] for key in ("input", "output") if key in operation]
        pending += [error["shape"] for error in operation.get("errors", ())]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        shape = model["shapes"][name]
        pending += [member["shape"] for member in shape.get("members", {}).values()]
        pending += [shape[key]["shape"] for key in ("member", "key", "value") if key in shape]
    return found


def undocumented(value: Any) -> Any:
    """The model without its documentation strings (docstrings only; most of the bytes)."""
    if isinstance(value, dict):
        return {key: undocumented(item) for key, item in value.items() if key not in ("documentation", "examples")}
    if isinstance(value, list):
        return [undocumented(item) for item in value]
    return value


def trimmed(model: Mapping[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    names = sorted(operations)
    shapes = reachable_shapes(model, names)
    return {
        "version": model.get("version", "2.0"),
        "metadata": model["metadata"],
        "operations": {name: undocumented(model["operations"][name]) for name in names},
        "shapes": {name: undocumented(model["shapes"][name]) for name in sorted(shapes)},
    }


def render() -> dict[Path, str]:
    """Relative path -> file content, for every trimmed model."""
    files = {}
    for service, operations in OPERATIONS.items():
        version = latest_version(service)
        content = json.dumps(trimmed(full_model(service, version), operations), sort_keys=True, separators=(",", ":"))
        files[Path(service) / version / "service-2.json"] = content + "\n"
    return files


def main() -> int:
    for relative, content in render().items():
        path = TARGET / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        print(f"{path.relative_to(ROOT)}: {len(content) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
