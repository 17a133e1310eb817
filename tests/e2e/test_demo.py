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
    "2. The load balancers are created: web-elb here, api-elb here and in eu-west-1",
    "3. api-vpc asks to peer with web-vpc",
    "3b. An instance in each VPC: api pings web, and the ping fails",
    "4. DNS: web-elb is recreated, then both records are edited by hand",
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
        # DNS across regions: api.elb.lab.private=api-elb@eu-west-1, in the us-east-1 and eu-west-1 stacks.
        "(aws.elasticloadbalancing, 123456789012, to the eu-west-1 stack)",
        "wanted api-elb-1.eu-west-1.elb.amazonaws.com",
        "✔ api.elb.lab.private is a CNAME to api-elb in eu-west-1 (api-elb-1.eu-west-1.elb.amazonaws.com), "
        "not to its us-east-1 namesake",
        "✔ api.elb.lab.private is restored to api-elb in eu-west-1 (api-elb-1.eu-west-1.elb.amazonaws.com)",
        "✔ the us-east-1 and eu-west-1 stacks agree: one write between them",
        "requester account 210987654321 is not allowed",
        "52.94.0.0/16 is outside ALLOWED_PEER_CIDRS",
        "✔ why blames web-sg's ingress, and only it (6 reads, no change)",
        "✔ why says reachable: the ping gets there and back",
        "✔ the plan has no action",
        "✔ converged",
        "picture of the lab before reconciling:",
        "picture of the lab after reconciling:",
    ):
        assert line in out, line
    # every check held ("✘" also marks the hop that blocks the seed's ping in `why`'s answer)
    assert not [line for line in out.splitlines() if line.startswith("  ✘")]
    assert "✘ demo failed" not in out
    assert "http://127.0.0.1:" in out  # loopback only
