"""The ``peerkeeper`` command line against moto's server (a real HTTP endpoint, ``--endpoint-url``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from functions.sweep import app as sweep_app
from peerkeeper.cli import app, common
from peerkeeper.cli.demo import emulator as demo_emulator
from peerkeeper.cli.demo import lab as demo_lab
from peerkeeper.clients import Clients
from tests.support import ACCOUNT, ROOT

OTHER = "444455556666"
DNS = "api.elb.lab.private=api-elb"


@pytest.fixture
def lab(endpoint: str) -> demo_lab.Lab:
    return demo_lab.build_lab(Clients(endpoint_url=endpoint), endpoint)


def request_peering(endpoint: str, lab: demo_lab.Lab) -> str:
    ec2 = Clients(endpoint_url=endpoint).ec2("us-east-1")
    created = ec2.create_vpc_peering_connection(VpcId=lab.api.vpc, PeerVpcId=lab.web.vpc)
    return created["VpcPeeringConnection"]["VpcPeeringConnectionId"]


def peering_status(endpoint: str, pcx: str) -> str:
    ec2 = Clients(endpoint_url=endpoint).ec2("us-east-1")
    return ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"][0]["Status"][
        "Code"
    ]


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = app.main(["plan", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_cli_reconciles_the_sweeps_concerns():
    assert common.CONCERNS == sweep_app.CONCERNS


def test_plan_json_lists_the_drift_by_concern_and_exits_2(lab, endpoint, capsys):
    pcx = request_peering(endpoint, lab)

    code, doc = plan_json(capsys, "--endpoint-url", endpoint, "--region", "us-east-1", "--dns-records", DNS)

    assert code == common.EXIT_DRIFT
    assert peering_status(endpoint, pcx) == "pending-acceptance"  # plan changes nothing
    assert set(doc) == {"command", "account", "mode", "regions", "in_sync", "counts", "concerns", "errors"}
    assert (doc["command"], doc["account"], doc["mode"], doc["regions"]) == ("plan", ACCOUNT, "dry-run", ["us-east-1"])
    assert doc["in_sync"] is False
    assert list(doc["concerns"]) == ["peering", "routes", "dns", "flow_logs"]
    for group in doc["concerns"].values():
        assert set(group) == {"actions", "refused", "conflicts", "problems"}
    concerns = doc["concerns"]
    assert [(a["kind"], a["resource"], a["outcome"]) for a in concerns["peering"]["actions"]] == [
        ("accept-peering", pcx, "planned")
    ]
    assert concerns["peering"]["actions"][0]["params"] == {"VpcPeeringConnectionId": pcx}
    routes = concerns["routes"]["actions"]
    assert sorted(a["resource"] for a in routes) == sorted(lab.web.tables + lab.api.tables)
    assert all({"kind", "resource", "region", "reason", "outcome", "params"} <= set(a) for a in routes)
    assert all(a["params"]["VpcPeeringConnectionId"] == pcx for a in routes)
    assert [a["resource"] for a in concerns["dns"]["actions"]] == ["api.elb.lab.private"]
    assert len(concerns["flow_logs"]["actions"]) == 1
    assert doc["counts"] == {"actions": 7, "refused": 0, "conflicts": 0, "problems": 0, "errors": 0}


def test_apply_converges_then_plan_exits_0(lab, endpoint, capsys):
    pcx = request_peering(endpoint, lab)
    args = ["--endpoint-url", endpoint, "--dns-records", DNS]

    assert app.main(["apply", "--yes", *args]) == common.EXIT_OK

    output = capsys.readouterr().out
    assert "converged" in output
    assert '"level"' not in output  # the functions' JSON logs stay off the terminal's stdout
    assert peering_status(endpoint, pcx) == "active"
    assert app.main(["plan", *args]) == common.EXIT_OK
    assert "no action" in capsys.readouterr().out
    code, doc = plan_json(capsys, *args)
    assert (code, doc["in_sync"], doc["counts"]["actions"]) == (common.EXIT_OK, True, 0)


def test_a_refused_request_is_shown_but_is_not_drift(lab, endpoint, capsys):
    """The flag overrides the environment's allowlist; what policy refuses stays refused, so exit 0."""
    pcx = request_peering(endpoint, lab)
    args = ["--endpoint-url", endpoint, "--dns-records", DNS, "--allowed-accounts", OTHER]
    assert app.main(["apply", "--yes", *args]) == common.EXIT_OK

    code, doc = plan_json(capsys, *args)

    assert code == common.EXIT_OK
    assert peering_status(endpoint, pcx) == "pending-acceptance"
    assert [f["resource"] for f in doc["concerns"]["peering"]["refused"]] == [pcx]
    assert f"requester account {ACCOUNT} is not allowed" in doc["concerns"]["peering"]["refused"][0]["reason"]
    assert app.main(["plan", *args]) == common.EXIT_OK
    assert "refused" in capsys.readouterr().out


def test_allowed_cidrs_flag_narrows_what_is_accepted(lab, endpoint, capsys):
    pcx = request_peering(endpoint, lab)

    code, doc = plan_json(capsys, "--endpoint-url", endpoint, "--allowed-cidrs", "10.0.0.0/16,192.168.0.0/16")

    (refusal,) = doc["concerns"]["peering"]["refused"]
    assert (refusal["resource"], refusal["reason"]) == (pcx, "requester CIDR 10.1.0.0/16 is outside ALLOWED_PEER_CIDRS")
    assert code == common.EXIT_DRIFT  # the lab's VPCs have no flow logs yet


def test_malformed_allowed_cidrs_flag_names_the_flag(capsys):
    assert app.main(["plan", "--allowed-cidrs", "10.0.0.1/8", "--no-route-over-aggregates"]) == common.EXIT_ERROR
    line = one_line_error(capsys)
    assert "ALLOWED_PEER_CIDRS='10.0.0.1/8'" in line
    assert "--allowed-cidrs" in line


def test_an_unset_allowlist_means_this_account(lab, endpoint, capsys, monkeypatch):
    monkeypatch.delenv("ALLOWED_PEER_ACCOUNTS")
    pcx = request_peering(endpoint, lab)

    code, doc = plan_json(capsys, "--endpoint-url", endpoint)

    assert code == common.EXIT_DRIFT
    assert doc["concerns"]["peering"]["actions"][0]["resource"] == pcx


def test_aws_endpoint_url_from_the_environment_works_too(lab, endpoint, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    code, doc = plan_json(capsys)
    assert code == common.EXIT_DRIFT  # the lab's VPCs have no flow logs yet
    assert doc["account"] == ACCOUNT


# -- a person's mistakes: one line on stderr, exit 1, no traceback ----------------------------
def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("peerkeeper: error: ")
    return lines[0]


def test_malformed_allowlist_in_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("ALLOWED_PEER_ACCOUNTS", "12345,not-an-account")
    assert app.main(["plan"]) == common.EXIT_ERROR
    line = one_line_error(capsys)
    assert "ALLOWED_PEER_ACCOUNTS" in line
    assert "'12345'" in line


def test_malformed_allowlist_flag_names_the_flag(capsys):
    assert app.main(["apply", "--yes", "--allowed-accounts", "12"]) == common.EXIT_ERROR
    line = one_line_error(capsys)
    assert "ALLOWED_PEER_ACCOUNTS='12'" in line
    assert "--allowed-accounts" in line


def plan_in_a_process(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m peerkeeper plan`` as a person runs it: its own process and environment."""
    return subprocess.run(
        [sys.executable, "-m", "peerkeeper", "plan"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_malformed_allowlist_through_python_m_peerkeeper():
    """The real process: exit status, a single line on stderr, no traceback."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_ENDPOINT_URL")}
    env["ALLOWED_PEER_ACCOUNTS"] = "123"
    completed = plan_in_a_process(env)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        "peerkeeper: error: ALLOWED_PEER_ACCOUNTS='123' is invalid: expected comma-separated 12-digit account IDs"
    ]


def test_missing_profile_in_the_environment_through_the_console_script(tmp_path):
    """A missing AWS_PROFILE breaks botocore as soon as anything builds a client (the X-Ray SDK does, on import)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"AWS_PROFILE": "ghost", "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_REGION": "us-east-1"})
    completed = plan_in_a_process(env)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == ["peerkeeper: error: AWS profile 'ghost' not found"]


def test_outcome_names_are_reconciles():
    from peerkeeper import reconcile

    names = ("PLANNED", "DONE", "CONVERGED", "TERMINAL", "FAILED", "SKIPPED")
    assert [getattr(common, name) for name in names] == [getattr(reconcile, name) for name in names]


def test_unknown_region(capsys):
    assert app.main(["plan", "--region", "xx-nowhere-9"]) == common.EXIT_ERROR
    assert "unknown region 'xx-nowhere-9'" in one_line_error(capsys)


def test_malformed_region(capsys):
    assert app.main(["plan", "--region", "Mars"]) == common.EXIT_ERROR
    assert "invalid region 'Mars'" in one_line_error(capsys)


def test_no_region(capsys, monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert app.main(["plan"]) == common.EXIT_ERROR
    assert "no region" in one_line_error(capsys)


def test_unknown_profile(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert app.main(["plan", "--profile", "nobody"]) == common.EXIT_ERROR
    assert "profile 'nobody' not found" in one_line_error(capsys)


def test_no_credentials(endpoint, capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert app.main(["plan", "--endpoint-url", endpoint]) == common.EXIT_ERROR
    assert "no AWS credentials found" in one_line_error(capsys)


def test_unreachable_endpoint(capsys, monkeypatch):
    monkeypatch.setenv("PEERKEEPER_MAX_ATTEMPTS", "1")
    closed = f"http://127.0.0.1:{demo_emulator.free_port()}"
    assert app.main(["plan", "--endpoint-url", closed]) == common.EXIT_ERROR
    assert f"cannot reach {closed}" in one_line_error(capsys)
