"""``python -m peerkeeper why`` as a person runs it: its own process, against moto's server.

The exit status is the answer (0 reachable, 2 not, 1 a mistake); a mistake is one line on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from benchmarks.emulator import Emulator
from benchmarks.why import Lab, build
from peerkeeper.cli.demo import emulator as demo_emulator
from tests.support import REGION, ROOT


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[str, Lab]]:
    with demo_emulator.emulator() as endpoint:
        yield endpoint, build(Emulator(endpoint), noise=0)


def why_process(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "COLUMNS": "160"})
    return subprocess.run(
        [sys.executable, "-m", "peerkeeper", "why", *args, "--endpoint-url", endpoint, "--region", REGION],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_the_exit_status_is_the_answer(world):
    endpoint, lab = world
    api, web = lab.instances["api"], lab.instances["web"]

    ping = why_process(endpoint, api, web, "--protocol", "icmp")
    assert (ping.returncode, ping.stderr) == (2, "")
    assert "ENI_SG_RULES_MISMATCH" in ping.stdout
    assert "aws ec2 authorize-security-group-ingress" in ping.stdout

    ssh = why_process(endpoint, lab.ips["api"], lab.enis["web"], "--port", "22", "--json")
    assert ssh.returncode == 0
    assert json.loads(ssh.stdout)["reachable"] is True


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["i-0123456789abcdef0", "WEB"], "peerkeeper: error: unknown instance i-0123456789abcdef0 in us-east-1"),
        (["API", "WEB", "--port", "65536"], "peerkeeper: error: --port 65536 is outside 0-65535"),
        (["API"], "peerkeeper why: error: the following arguments are required: DESTINATION"),
    ],
)
def test_a_mistake_is_one_line_and_exit_1(world, args, line):
    endpoint, lab = world
    names = {"API": lab.instances["api"], "WEB": lab.instances["web"]}
    done = why_process(endpoint, *(names.get(a, a) for a in args))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert any(text.startswith(line) for text in lines)
    if not line.startswith("peerkeeper why:"):  # argparse's own mistakes come with the usage
        assert len(lines) == 1
