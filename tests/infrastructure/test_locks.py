"""Every environment installs from a lock with hashes that agrees with the pins it was compiled from."""

from __future__ import annotations

from pathlib import Path

from tests.support import ROOT
from tools import check_locks


def test_every_lock_agrees_with_its_pins_and_hashes_everything():
    assert check_locks.disagreements() == []


def test_a_pin_edited_without_make_lock_is_reported(tmp_path: Path):
    for source, lock in check_locks.LOCKS.items():
        for name in (source, lock):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "layers/common").mkdir(parents=True)
    layer = (ROOT / "layers/common/requirements.txt").read_text()
    (tmp_path / "layers/common/requirements.txt").write_text(layer.replace("boto3==", "boto3==0.0.1\n# was "))

    assert check_locks.disagreements(tmp_path) == [
        "requirements-dev.txt pins boto3==0.0.1 but requirements-dev.lock has "
        + ", ".join(sorted(check_locks.locked(ROOT / "requirements-dev.lock")["boto3"]))
        + ": run 'make lock'"
    ]


def test_the_makefile_installs_every_environment_from_its_lock_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    for lock in check_locks.LOCKS.values():
        assert lock in makefile, lock
    assert makefile.count("--require-hashes") >= 2  # uv's bootstrap (pip) and every uv environment
