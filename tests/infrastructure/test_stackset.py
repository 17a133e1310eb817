"""make stackset-template: built artefacts zipped by content and the template pointed at S3.

The translation itself (samtranslator) runs in the SAM tool environment: `make stackset-template`,
which CI runs after `make validate`, fails if any AWS::Serverless resource or the transform is left.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from tools.stackset_template import OWNER_PATTERN, PREFIX_PATTERN, bucket_name, prepare, zip_directory


def built_tree(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    build = tmp_path / "build"
    (build / "CommonLayer" / "python" / "peerkeeper").mkdir(parents=True)
    (build / "CommonLayer" / "python" / "peerkeeper" / "__init__.py").write_text("")
    (build / "SweepFunction").mkdir()
    (build / "SweepFunction" / "app.py").write_text("def lambda_handler(event, context): ...\n")
    template = {
        "Resources": {
            "CommonLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "CommonLayer"}},
            "SweepFunction": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "SweepFunction"}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }
    return build, template


def test_code_locations_point_at_the_regional_artefact_bucket(tmp_path):
    build, template = built_tree(tmp_path)

    zips = prepare(template, build, tmp_path / "out")

    assert len(zips) == 2
    code = template["Resources"]["SweepFunction"]["Properties"]["CodeUri"]
    assert code["Bucket"] == {"Fn::Sub": "${ArtifactBucketPrefix}-${ArtifactBucketOwner}-${AWS::Region}-an"}
    assert code["Key"].startswith("peerkeeper/SweepFunction-")
    assert code["Key"].endswith(".zip")
    assert template["Resources"]["CommonLayer"]["Properties"]["ContentUri"]["Key"].startswith("peerkeeper/CommonLayer-")
    assert {"ArtifactBucketPrefix", "ArtifactBucketOwner"} <= template["Parameters"].keys()
    with zipfile.ZipFile(zips[0]) as archive:
        assert archive.namelist() == ["python/peerkeeper/__init__.py"]


def test_zips_are_reproducible(tmp_path):
    build, _ = built_tree(tmp_path)

    first = zip_directory(build / "SweepFunction", tmp_path / "a", "SweepFunction")
    second = zip_directory(build / "SweepFunction", tmp_path / "b", "SweepFunction")

    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()


def test_artefact_buckets_are_in_the_owners_account_regional_namespace(tmp_path):
    """Only the owner can create <prefix>-<owner>-<region>-an (S3's account regional namespace): a
    member account cannot pre-create the bucket of a region not yet deployed and have its code run."""
    build, template = built_tree(tmp_path)
    prepare(template, build, tmp_path / "out")
    parameters = template["Parameters"]
    assert parameters["ArtifactBucketOwner"]["AllowedPattern"] == OWNER_PATTERN
    assert parameters["ArtifactBucketPrefix"]["AllowedPattern"] == PREFIX_PATTERN

    prefix = "peerkeeper-" + "a" * 21  # the longest prefix allowed: 32 characters
    assert re.fullmatch(PREFIX_PATTERN, prefix)
    longest = bucket_name(prefix, "111122223333", "ap-southeast-5")
    assert longest == f"{prefix}-111122223333-ap-southeast-5-an"
    assert len(longest) <= 63  # S3's limit
    for bad in (prefix + "a", "Peerkeeper", "pk.artefacts", "pk-", "-pk", "pk"):
        assert not re.fullmatch(PREFIX_PATTERN, bad), bad
    for bad in ("11112222333", "1111222233334", "o-abc"):
        assert not re.fullmatch(OWNER_PATTERN, bad), bad
