"""Translate the built SAM template to plain CloudFormation for a service-managed StackSet.

StackSets cannot run the SAM transform (aws/aws-sam-cli#1141), so ``make stackset-template``:

1. takes ``sam build``'s output (``.aws-sam/build``: the layer with its dependencies, the functions),
2. zips every artefact deterministically and names it by its content hash,
3. points each ``CodeUri``/``ContentUri`` at
   ``s3://<ArtifactBucketPrefix>-<ArtifactBucketOwner>-<region>-an/peerkeeper/<zip>`` (Lambda reads
   code only from a bucket in its own region: one bucket per target region). The ``-<account>-<region>-an``
   suffix is S3's account regional namespace: only ``ArtifactBucketOwner`` can create such a bucket,
   so a member account cannot claim the bucket of a region not yet deployed and have its own code
   run under peerkeeper's roles (docs/security.md, "The StackSet's artefacts"),
4. runs the SAM translator offline and writes ``.aws-sam/stackset/template.json``.

Run with the SAM tool environment's Python (it has ``samtranslator``):
``.tools/sam/bin/python tools/stackset_template.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same build gives the same zip and hash

# Managed policies the SAM transform adds by name (Tracing: Active, the basic execution role).
# The real loader asks IAM; StackSet preparation must work offline, and these ARNs never change.
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}


class OfflinePolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader without calling IAM."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


def zip_directory(source: Path, target_dir: Path, name: str) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    temporary = target_dir / f"{name}.zip.tmp"
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(source)), ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    digest = hashlib.sha256(temporary.read_bytes()).hexdigest()[:16]
    final = target_dir / f"{name}-{digest}.zip"
    temporary.replace(final)
    return final


# <prefix>-<12-digit owner>-<region>-an: at most 63 characters with the longest region names (14).
BUCKET = "${ArtifactBucketPrefix}-${ArtifactBucketOwner}-${AWS::Region}-an"
PREFIX_PATTERN = "^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$"
OWNER_PATTERN = "^[0-9]{12}$"


def bucket_name(prefix: str, owner: str, region: str) -> str:
    return (
        BUCKET.replace("${ArtifactBucketPrefix}", prefix)
        .replace("${ArtifactBucketOwner}", owner)
        .replace("${AWS::Region}", region)
    )


def s3_location(key: str) -> dict[str, Any]:
    return {"Bucket": {"Fn::Sub": BUCKET}, "Key": key}


def prepare(template: dict[str, Any], build_dir: Path, artefact_dir: Path) -> list[Path]:
    """Zip the built artefacts and rewrite the template's code locations; returns the zips."""
    zips: list[Path] = []
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            local = properties.get(key)
            if isinstance(local, str) and (build_dir / local).is_dir():
                archive = zip_directory(build_dir / local, artefact_dir, logical_id)
                properties[key] = s3_location(f"peerkeeper/{archive.name}")
                zips.append(archive)
    parameters = template.setdefault("Parameters", {})
    parameters["ArtifactBucketPrefix"] = {
        "Type": "String",
        "Description": (
            "Prefix of the per-region artefact buckets <prefix>-<owner>-<region>-an (peerkeeper/*.zip); "
            "3-32 characters, best with a random part"
        ),
        "AllowedPattern": PREFIX_PATTERN,
    }
    parameters["ArtifactBucketOwner"] = {
        "Type": "String",
        "Description": (
            "Account that owns the artefact buckets (the management or delegated administrator account): "
            "they are in its account regional namespace, which no other account can create buckets in"
        ),
        "AllowedPattern": OWNER_PATTERN,
    }
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=".aws-sam/build", type=Path)
    parser.add_argument("--out-dir", default=".aws-sam/stackset", type=Path)
    args = parser.parse_args(argv)

    from samtranslator.translator.transform import transform  # noqa: PLC0415 - tool environment only
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

    # The translator wants a region to pick the partition; the output keeps ${AWS::Region} symbolic.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    built = args.build_dir / "template.yaml"
    if not built.is_file():
        print(f"{built} not found: run `make build` first", file=sys.stderr)
        return 1
    template = yaml_parse(built.read_text())
    zips = prepare(template, args.build_dir, args.out_dir / "artefacts")
    translated = transform(template, {}, OfflinePolicyLoader())
    output = args.out_dir / "template.json"
    output.write_text(json.dumps(translated, indent=2, sort_keys=True) + "\n")
    leftovers = [r for r, v in translated["Resources"].items() if v["Type"].startswith("AWS::Serverless::")]
    if leftovers or "Transform" in translated:
        print(f"translation incomplete: {leftovers}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({len(translated['Resources'])} resources, no SAM transform)")
    bucket = bucket_name("<ArtifactBucketPrefix>", "<ArtifactBucketOwner>", "<region>")
    for archive in zips:
        print(f"  upload {archive} -> s3://{bucket}/peerkeeper/{archive.name} (--expected-bucket-owner)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
