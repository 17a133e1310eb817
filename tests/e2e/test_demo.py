"""``peerkeeper demo`` end to end: the console script in its own process, as ``make demo`` runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

CHAPTERS = (
    "1. The VPCs are created",
    "2. The load balancers are created",
    "3. api-vpc asks to peer with web-vpc",
    "4. api-elb is recreated, then someone edits the CNAME by hand",
    "5. Someone deletes a route by hand",
    "6. api-vpc's owner associates the public block 52.94.0.0/16 (a hijack attempt)",
    "7. Account 210987654321 (not on the allowlist) asks to peer with web-vpc",
    "8. The scheduled sweep",
    "9. peerkeeper plan",
)


def peerkeeper_command() -> list[str]:
    script = Path(sys.executable).parent / "peerkeeper"
    return [str(script)] if script.exists() else [shutil.which("peerkeeper") or "peerkeeper"]


@pytest.mark.slow
def test_demo_converges_and_exits_0():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "PEERKEEPER_"))}
    env.update({"COLUMNS": "200", "NO_COLOR": "1"})  # long lines unwrapped, plain text

    completed = subprocess.run(
        [*peerkeeper_command(), "demo"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
        check=False,
    )

    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    assert "Traceback" not in out + completed.stderr
    for chapter in CHAPTERS:
        assert chapter in out
    for line in (
        "→ rule EnableFlowLogsFunctionVpcOrFlowLogChanged → enable_flow_logs",
        "→ rule AcceptPeeringFunctionPeeringRequested → accept_peering",
        "→ rule RepairRoutesFunctionRoutingChanged → repair_routes",
        "→ rule SyncDnsRoute53Rule → sync_dns",
        "→ rule SweepFunctionSchedule → sweep",
        "✓ accept-peering",
        "✓ upsert-record",
        "requester account 210987654321 is not allowed",
        "52.94.0.0/16 is outside ALLOWED_PEER_CIDRS",
        "✔ the plan has no action",
        "✔ converged",
    ):
        assert line in out, line
    assert "✘" not in out
    assert "http://127.0.0.1:" in out  # loopback only
