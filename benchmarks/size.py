"""Deployment size: the zipped layer and functions, against Cloud Custodian's Lambda package.

From ``sam build``'s output (``make build`` -> ``.aws-sam/build``) when it exists; otherwise the
layer is rebuilt here with ``pip install --target`` of ``layers/common/requirements.lock`` (for this
machine) plus the layer Makefile's copy of the core, and the result says so. Custodian's
package is the one ``c7n.mu.custodian_archive()`` builds (what ``custodian`` deploys for a
``mode: periodic`` policy), measured with Custodian's own interpreter.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PIP_TARGET = [
    sys.executable,
    "-m",
    "pip",
    "install",
    "--quiet",
    "--disable-pip-version-check",
    "--no-compile",
    "--target",
]
SAM_BUILD = ROOT / ".aws-sam" / "build"
C7N_PYTHON = ROOT / ".tools" / "c7n" / "bin" / "python"
MIB = 1024 * 1024
GROUPS = {
    "boto3/botocore": ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"),
    "powertools": ("aws_lambda_powertools", "typing_extensions"),
    "x-ray sdk": ("aws_xray_sdk", "wrapt"),
    "peerkeeper": ("peerkeeper",),
}


def zipped(directory: Path, *, bytecode: bool = False) -> tuple[int, dict[str, int]]:
    """Bytes of ``directory`` zipped (deflate, like sam), and the compressed bytes per group.

    ``bytecode``: count ``__pycache__`` too (``make build`` compiles the layer and sam zips every file)."""
    buffer = io.BytesIO()
    per_top: dict[str, int] = defaultdict(int)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and (bytecode or "__pycache__" not in path.parts):
                relative = path.relative_to(directory)
                archive.write(path, relative)
                info = archive.getinfo(str(relative))
                top = (
                    relative.parts[1]
                    if relative.parts[0] == "python" and len(relative.parts) > 1
                    else relative.parts[0]
                )
                per_top[top.split("-")[0].split(".dist")[0]] += info.compress_size
    groups: dict[str, int] = defaultdict(int)
    for top, size in per_top.items():
        name = next((group for group, tops in GROUPS.items() if top in tops), "other")
        groups[name] += size
    return len(buffer.getvalue()), dict(groups)


LAYER_LOCK = ["--require-hashes", "--no-deps", "-r", str(ROOT / "layers" / "common" / "requirements.lock")]


def layer_core(artifacts: Path) -> None:
    """``artifacts/python/peerkeeper``: the core as ``layers/common/Makefile`` copies it for sam."""
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "-C",
            str(ROOT / "layers" / "common"),
            "core",
            f"ARTIFACTS_DIR={artifacts}",
        ],
        check=True,
    )


def _pip_layer(target: Path) -> None:
    subprocess.run([*PIP_TARGET, str(target / "python"), *LAYER_LOCK], check=True)
    layer_core(target)


def custodian_package() -> float | None:
    if not C7N_PYTHON.exists():
        return None
    code = "from c7n.mu import custodian_archive; a = custodian_archive(); a.close(); print(a.size)"
    done = subprocess.run([str(C7N_PYTHON), "-c", code], capture_output=True, text=True, check=False)
    return round(int(done.stdout.strip()) / MIB, 2) if done.returncode == 0 else None


def run() -> dict[str, Any]:
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if (SAM_BUILD / "CommonLayer").is_dir():
            layer, functions = (
                SAM_BUILD / "CommonLayer",
                {p.name: p for p in SAM_BUILD.iterdir() if p.name != "CommonLayer" and p.is_dir()},
            )
            result["source"] = "make build (.aws-sam/build, layer with its .pyc)"
        else:
            layer = Path(tmp) / "layer"
            _pip_layer(layer)
            functions = {p.name: p for p in (ROOT / "functions").iterdir() if p.is_dir()}
            result["source"] = "pip install --target of layers/common/requirements.lock + the core (no sam build found)"
        size, groups = zipped(layer, bytecode=layer == SAM_BUILD / "CommonLayer")
        result["layer_mib"] = round(size / MIB, 2)
        result["layer_groups_mib"] = {name: round(b / MIB, 2) for name, b in sorted(groups.items())}
        result["functions_kib"] = {name: round(zipped(path)[0] / 1024, 1) for name, path in sorted(functions.items())}
    result["custodian_package_mib"] = custodian_package()
    return result
