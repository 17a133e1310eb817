"""Every environment installs from a lock with hashes that agrees with the pins it was compiled from."""

from __future__ import annotations

from pathlib import Path

from tests.support import ROOT
from tools import check_locks


def test_every_lock_agrees_with_its_pins_and_hashes_everything():
    assert check_locks.disagreements() == []


def _copy_locks(tmp_path: Path) -> None:
    for source, lock in check_locks.LOCKS.items():
        for name in (source, lock):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text((ROOT / name).read_text())


def test_a_pin_edited_without_make_lock_is_reported(tmp_path: Path):
    _copy_locks(tmp_path)
    layer = (ROOT / "layers/common/requirements.txt").read_text()
    (tmp_path / "layers/common/requirements.txt").write_text(layer.replace("boto3==", "boto3==0.0.1\n# was "))

    assert check_locks.disagreements(tmp_path) == [
        "requirements-dev.txt pins boto3==0.0.1 but requirements-dev.lock has "
        + ", ".join(sorted(check_locks.locked(ROOT / "requirements-dev.lock")["boto3"]))
        + ": run 'make lock'",
        "layers/common/requirements.txt pins boto3==0.0.1 but layers/common/requirements.lock has "
        + ", ".join(sorted(check_locks.locked(ROOT / "layers/common/requirements.lock")["boto3"]))
        + ": run 'make lock'",
    ]


def test_the_layer_is_locked_to_the_tested_resolution(tmp_path: Path):
    """The layer's lock (one platform) holds exactly the versions the tests ran with."""
    layer = check_locks.locked(ROOT / "layers/common/requirements.lock")
    tested = check_locks.locked(ROOT / "requirements-dev.lock")
    assert {"boto3", "botocore", "aws-lambda-powertools", "urllib3"} <= layer.keys()
    assert all(versions <= tested[name] for name, versions in layer.items())

    # requirements-dev.lock moved on (a new botocore) without 'make lock': the layer's lock is stale.
    _copy_locks(tmp_path)
    (botocore,) = tested["botocore"]
    dev = tmp_path / "requirements-dev.lock"
    dev.write_text(dev.read_text().replace(f"botocore=={botocore}", "botocore==9.9.9"))

    assert check_locks.disagreements(tmp_path) == [
        f"layers/common/requirements.lock has botocore=={botocore} but requirements-dev.lock has 9.9.9: run 'make lock'"
    ]


def test_the_makefile_installs_every_environment_from_its_lock_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    for lock in check_locks.LOCKS.values():
        assert lock in makefile, lock
    assert makefile.count("--require-hashes") >= 2  # uv's bootstrap (pip) and every uv environment
