"""``--only`` and ``--flow-log-destination`` on the command line, as a user runs it (moto's server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import peerkeeper.observability  # noqa: F401  (the logger's handler takes the real stdout, not a capture's)
from peerkeeper.cli import app, common
from peerkeeper.cli.demo import lab as demo_lab
from peerkeeper.clients import Clients
from tests.support import CallRecorder, hook_sessions

FLOW_LOG_CALLS = {"DescribeFlowLogs", "CreateFlowLogs"}
pytestmark = pytest.mark.slow  # the embedded emulator (moto's server)


@pytest.fixture
def lab(endpoint: str) -> demo_lab.Lab:
    return demo_lab.build_lab(Clients(endpoint_url=endpoint), endpoint)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> CallRecorder:
    """Every call of the sessions the command makes from now on."""
    recorder = CallRecorder()
    hook_sessions(monkeypatch, "before-call", recorder)
    return recorder


def no_flow_logs(endpoint: str) -> None:
    ec2: Any = Clients(endpoint_url=endpoint).ec2("us-east-1")
    ids = [fl["FlowLogId"] for fl in ec2.describe_flow_logs()["FlowLogs"]]
    if ids:
        ec2.delete_flow_logs(FlowLogIds=ids)


def test_plan_only_some_concerns_makes_no_call_for_the_others(lab, endpoint, recorded, capsys):
    no_flow_logs(endpoint)  # drift that plan would show, were enable_flow_logs in
    recorded.calls.clear()

    code = app.main(
        [
            "plan",
            "--json",
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "--only",
            "accept_peering,repair_routes",
        ]
    )

    doc = json.loads(capsys.readouterr().out)
    assert code in (common.EXIT_OK, common.EXIT_DRIFT)
    assert set(doc["concerns"]) == {"peering", "routes"}  # nothing said about what was not looked at
    assert not FLOW_LOG_CALLS & set(recorded.operations), recorded.operations
    assert "DescribeVpcs" in recorded.operations  # the recorder does see the command's calls

    recorded.calls.clear()
    code = app.main(["plan", "--json", "--endpoint-url", endpoint, "--region", "us-east-1"])
    doc = json.loads(capsys.readouterr().out)
    assert code == common.EXIT_DRIFT
    assert doc["concerns"]["flow_logs"]["actions"]  # all four by default
    assert "DescribeFlowLogs" in recorded.operations


def test_an_unknown_concern_is_one_line_naming_the_flag(capsys):
    code = app.main(["plan", "--region", "us-east-1", "--only", "flow_logs"])

    assert code == common.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "CONCERNS='flow_logs' is invalid" in err
    assert "(from --only)" in err


def test_flow_log_destination_flag_plans_s3_delivery(lab, endpoint, capsys):
    no_flow_logs(endpoint)

    code = app.main(
        [
            "plan",
            "--json",
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "--only",
            "enable_flow_logs",
            "--flow-log-destination",
            "arn:aws:s3:::org-flow-logs/vpc",
        ]
    )

    doc = json.loads(capsys.readouterr().out)
    assert code == common.EXIT_DRIFT
    (action,) = doc["concerns"]["flow_logs"]["actions"]
    assert "S3 arn:aws:s3:::org-flow-logs/vpc" in action["reason"]
