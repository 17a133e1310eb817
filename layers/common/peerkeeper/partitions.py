"""AWS partitions (``aws``, ``aws-cn``, ``aws-us-gov`` ...), from botocore's own partition data.

Never hard-coded: ARNs start with ``arn:<partition>:``, and a global service such as Route 53 is
served from one region per partition (``us-east-1``, ``cn-northwest-1``, ``us-gov-west-1``). botocore
ships both facts in ``data/partitions.json`` (the file its endpoint rules read): each partition's
``regions``, its ``regionRegex`` for regions newer than the file, and ``implicitGlobalRegion``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.loaders import create_loader

_DEFAULT = "aws"


@dataclass(frozen=True)
class Partition:
    name: str  # aws, aws-cn, aws-us-gov ...
    global_region: str  # where the partition's global services (Route 53, IAM) are signed


@lru_cache(maxsize=1)
def _partitions() -> tuple[dict[str, Any], ...]:
    return tuple(create_loader().load_data("partitions")["partitions"])


def _partition(data: dict[str, Any]) -> Partition:
    return Partition(str(data["id"]), str(data["outputs"]["implicitGlobalRegion"]))


@lru_cache(maxsize=64)
def partition_of(region: str) -> Partition:
    """The partition ``region`` belongs to (botocore's answer); ``aws`` for a region none claims."""
    partitions = _partitions()
    for data in partitions:
        if region in data.get("regions", {}):
            return _partition(data)
    for data in partitions:
        if re.match(data.get("regionRegex", "$^"), region):
            return _partition(data)
    return _partition(next(data for data in partitions if data["id"] == _DEFAULT))
