"""``python -m benchmarks.why`` still runs (reads only, two unrelated VPCs): not a timed test.

Only what does not depend on the machine is asserted: the answers, the reads per question (a
same-region question takes at most 10).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.bench
def test_why_benchmark_runs_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "why.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.why", "--runs", "0", "--noise", "2", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    questions = json.loads(out.read_text())["questions"]
    answers = [(q["reachable"], q["codes"], q["reads"]) for q in questions]
    assert answers == [
        (False, ["ENI_SG_RULES_MISMATCH"], 6),
        (True, [], 8),  # + one DescribeInstances for the two instances' states (issue 21)
        (True, [], 11),  # + DescribeListeners (issue 21)
        (True, [], 11),  # two regions: each kind once per region, and the peering once
    ]
    assert "peerkeeper why: reads and wall time" in done.stdout
