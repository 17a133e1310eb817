"""The benchmarks still run: ``python -m benchmarks --size tiny`` end to end (not a timed test).

It starts moto's server, measures one handler's cold start once, two call-economy scenarios and a
10-VPC sweep (Cloud Custodian too when ``.tools/c7n`` exists), and writes the JSON. The figures are
not asserted, only that every measure produced them and that the call counts hold their goals.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.bench
def test_tiny_benchmark_runs_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size", "tiny", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Sweep on moto's server" in done.stdout
    assert "Regions under the round trip" in done.stdout
    results = json.loads(out.read_text())

    cold = results["cold_start"]["functions"]
    assert [f["function"] for f in cold] == ["repair_routes"]
    assert cold[0]["ms"]["init"] > 0
    assert cold[0]["calls"] == {
        "DescribeRouteTables": 1,
        "DescribeVpcPeeringConnections": 1,
        "DescribeVpcs": 1,
        "CreateRoute": 1,
    }

    for scenario in results["economy"]["scenarios"]:
        assert scenario["mutations_exact"], scenario
        assert scenario["reads_ok"], scenario

    world = results["sweep"]["sizes"][0]
    plan = world["tools"]["peerkeeper"]
    assert plan["mutations"] == 0
    assert plan["drift"]["missed_connections"] == []
    assert plan["drift"]["false_routes"] == 0
    assert plan["drift"]["missing_routes"] == f"{world['world']['missing_routes']}/{world['world']['missing_routes']}"

    # Under the latency proxy: the same reads as without it, and regions side by side.
    latency = results["latency"]
    for key in ("no_latency", "latency"):
        assert latency[key]["sequential floor"]["reads"] == 4
        assert latency[key]["parallel floor"]["reads"] == 4
        assert latency[key]["peerkeeper plan"]["calls"] == {
            "DescribeFlowLogs": 1,
            "DescribeRouteTables": 1,
            "DescribeVpcPeeringConnections": 1,
            "DescribeVpcs": 1,
            "GetCallerIdentity": 1,
        }
    assert latency["economy"]["graph"] == latency["economy"]["plan"]  # graph reads what plan reads, no more
    assert latency["latency"]["peerkeeper plan"]["round_trips_median"] > 0  # the proxy saw the calls wait

    # The budget of a sweep: every action of the drift built in is planned (20 VPCs here).
    assert results["scale"]["drift_found_as_built"] is True
    assert results["scale"]["pages"]["describe_route_tables"] == 1
    two = latency["regions"]["tools"]["plan, 2 regions"]
    assert two["calls"]["DescribeRouteTables"] == 2
