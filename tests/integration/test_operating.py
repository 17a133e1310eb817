"""Operating it safely (contract: "Operating it safely"): ``plan``/``apply`` as a CI log and a reviewer see them.

Every command runs through ``app.main`` as a user runs it, stdout captured (not a terminal), against
moto (``mock_aws``: the CLI's own boto3 sessions are intercepted too). The lab: api-vpc 10.1.0.0/16
requests peering with web-vpc 10.0.0.0/16, two route tables each, and moto's default VPC.
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

# Powertools' logger keeps the sys.stdout of its import: import it before capsys swaps stdout.
import peerkeeper.observability  # noqa: F401
from peerkeeper.cli import app, common
from tests.support import ACCOUNT, REGION, Lab, ec2_client, peering_status, request_peering, routes_of

ROLE = "peerkeeper-operator"


@pytest.fixture
def pcx(lab: Lab) -> str:
    return request_peering(ec2_client(), lab.api_vpc, lab.web_vpc)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = app.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("peerkeeper: error: ")
    return lines[0]


def arguments(action: dict[str, Any]) -> dict[str, Any]:
    """An action's API arguments but its ClientToken (new for every run)."""
    return {name: value for name, value in action["params"].items() if name != "ClientToken"}


def flow_logged(vpc_ids: list[str] | None = None) -> set[str]:
    found = ec2_client().describe_flow_logs()["FlowLogs"]
    return {log["ResourceId"] for log in found if vpc_ids is None or log["ResourceId"] in vpc_ids}


def default_vpc() -> str:
    vpcs = ec2_client().describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return str(vpcs[0]["VpcId"])


# -- one whole line per action and finding ------------------------------------------------------
def test_piped_plan_prints_each_route_with_its_table_cidr_and_target_on_one_line(lab, pcx, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")  # a narrow CI log: nothing may be cut to it

    code, out, _ = run(capsys, "plan")

    assert code == common.EXIT_DRIFT
    lines = out.splitlines()
    for table in lab.web_tables:
        (line,) = [line for line in lines if f" {table} " in line]
        assert line.startswith(f"planned routes create-route {table} 10.1.0.0/16 -> {pcx} in {REGION} ")
        assert f"(account {ACCOUNT}): {table} ({lab.web_vpc}) has no route for 10.1.0.0/16 via {pcx}" in line
    for table in lab.api_tables:
        assert any(line.startswith(f"planned routes create-route {table} 10.0.0.0/16 -> {pcx} ") for line in lines)
    assert f"planned peering accept-peering {pcx} in {REGION} (account {ACCOUNT}): allowed request" in out
    assert lines[-1] == f"plan: account {ACCOUNT} in {REGION}: 6 actions"
    assert len(lines) == 7  # one per action (4 routes, accept, flow logs batch), then the total
    assert not any(mark in out for mark in ("…", "┃", "│", "━"))  # no table, nothing cut


def test_piped_plan_over_accounts_prints_the_same_lines_and_one_per_account(lab, pcx, capsys):
    code, out, _ = run(capsys, "plan", "--account", ACCOUNT, "--role-name", ROLE)

    assert code == common.EXIT_DRIFT
    table = lab.web_tables[0]
    assert f"planned routes create-route {table} 10.1.0.0/16 -> {pcx} in {REGION} (account {ACCOUNT}): " in out
    assert f"drift: account {ACCOUNT} in {REGION}: 6 actions\n" in out
    assert out.endswith(f"plan: 1 account in {REGION}: 6 actions\n")


def test_apply_json_prints_the_plans_document_with_each_outcome(lab, pcx, capsys):
    _, planned, _ = run(capsys, "plan", "--json")

    code, out, err = run(capsys, "apply", "--yes", "--json")

    assert code == common.EXIT_OK
    doc, plan_doc = json.loads(out), json.loads(planned)
    assert set(plan_doc) <= set(doc)
    assert (doc["command"], doc["mode"], doc["converged"]) == ("apply", "enforce", True)
    for name, group in plan_doc["concerns"].items():
        applied = doc["concerns"][name]["actions"]
        assert [(a["kind"], a["resource"], arguments(a)) for a in applied] == [
            (a["kind"], a["resource"], arguments(a)) for a in group["actions"]
        ]
        assert {a["outcome"] for a in applied} <= {common.DONE}
    assert peering_status(ec2_client(), pcx) == "active"
    assert all(routes_of(ec2_client(), t)["10.1.0.0/16"] == pcx for t in lab.web_tables)
    assert err.strip() == "converged"  # the closing line stays off stdout, which holds the document


def test_piped_apply_prints_each_outcome_on_one_line(lab, pcx, capsys):
    code, out, _ = run(capsys, "apply", "--yes")

    assert code == common.EXIT_OK
    table = lab.api_tables[1]
    assert f"done routes create-route {table} 10.0.0.0/16 -> {pcx} in {REGION} (account {ACCOUNT}): " in out
    assert f"apply: account {ACCOUNT} in {REGION}: 6 actions (6 done)\n" in out
    assert out.endswith("converged\n")


# -- a saved plan, applied exactly --------------------------------------------------------------
def test_a_saved_plan_is_applied_exactly_a_stale_action_skipped_a_new_table_untouched(lab, pcx, capsys, tmp_path):
    saved = tmp_path / "reviewed.json"
    code, _, err = run(capsys, "plan", "--out", str(saved))
    assert code == common.EXIT_DRIFT
    assert err == f"peerkeeper: saved the plan (6 actions) to {saved}\n"
    ec2 = ec2_client()
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)  # someone accepted it after the review
    created_after = ec2.create_route_table(VpcId=lab.web_vpc)["RouteTable"]["RouteTableId"]

    code, out, _ = run(capsys, "apply", "--plan", str(saved), "--json")

    assert code == common.EXIT_OK
    doc = json.loads(out)
    (accept,) = doc["concerns"]["peering"]["actions"]
    assert (accept["kind"], accept["outcome"], accept["stale"]) == ("accept-peering", "skipped", True)
    applied = {(a["resource"], a["outcome"]) for a in doc["concerns"]["routes"]["actions"]}
    assert applied == {(table, "done") for table in lab.web_tables + lab.api_tables}
    for table in lab.web_tables:
        assert routes_of(ec2, table)["10.1.0.0/16"] == pcx
    assert "10.1.0.0/16" not in routes_of(ec2, created_after)  # never reviewed: left for the next review
    assert flow_logged() == {lab.web_vpc, lab.api_vpc, default_vpc()}
    assert doc["converged"] is True

    code, out, _ = run(capsys, "plan")
    assert code == common.EXIT_DRIFT
    assert f"planned routes create-route {created_after} 10.1.0.0/16 -> {pcx} " in out


def test_a_stale_action_is_reported_on_its_own_line_and_the_run_exits_0(lab, pcx, capsys, tmp_path):
    saved = tmp_path / "plan.json"
    run(capsys, "plan", "--out", str(saved))
    ec2_client().accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    ec2_client().create_route_table(VpcId=lab.web_vpc)

    code, out, _ = run(capsys, "apply", "--plan", str(saved))

    assert code == common.EXIT_OK
    assert (
        f"skipped peering accept-peering {pcx} in {REGION} (account {ACCOUNT}): allowed request from "
        f"{ACCOUNT}/{lab.api_vpc} to {lab.web_vpc} [no longer wanted: the current state does not need it]"
    ) in out
    assert "skipped: 1 action of the reviewed plan no longer wanted\n" in out
    assert "left: 1 action not in the reviewed plan wanted now (review them: plan)\n" in out
    assert out.endswith("converged: the reviewed plan is carried out\n")


def test_a_reviewed_flow_log_batch_is_done_vpc_by_vpc(lab, capsys, tmp_path):
    saved = tmp_path / "plan.json"
    run(capsys, "plan", "--out", str(saved))
    ec2 = ec2_client()
    role = json.loads(saved.read_text())["concerns"]["flow_logs"]["actions"][0]["params"]["DeliverLogsPermissionArn"]
    ec2.create_flow_logs(  # someone else logged web-vpc after the review, the same way
        ResourceIds=[lab.web_vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName="flow-logs-group",
        DeliverLogsPermissionArn=role,
    )
    newcomer = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]

    code, out, _ = run(capsys, "apply", "--plan", str(saved), "--json")

    assert code == common.EXIT_OK
    done, skipped = json.loads(out)["concerns"]["flow_logs"]["actions"]
    assert (done["outcome"], sorted(done["params"]["ResourceIds"])) == ("done", sorted([lab.api_vpc, default_vpc()]))
    assert (skipped["outcome"], skipped["stale"], skipped["params"]["ResourceIds"]) == ("skipped", True, [lab.web_vpc])
    assert newcomer not in flow_logged()


def test_a_saved_plan_of_another_region_is_refused_before_any_change(lab, pcx, capsys, tmp_path):
    saved = tmp_path / "plan.json"
    run(capsys, "plan", "--out", str(saved))

    code, _, err = run(capsys, "apply", "--plan", str(saved), "--region", "eu-west-1")

    assert code == common.EXIT_ERROR
    assert f"the plan has actions in {ACCOUNT}/{REGION}, outside this run" in one_line_error(err)
    assert peering_status(ec2_client(), pcx) == "pending-acceptance"


def test_a_fleets_saved_plan_is_applied_in_its_accounts_and_regions(lab, pcx, capsys, tmp_path):
    saved = tmp_path / "plan.json"
    mine = "--policy-from-environment"  # no deployed stack here: the caller's settings (test_fleet_policy.py)
    run(capsys, "plan", "--account", ACCOUNT, "--role-name", ROLE, "--out", str(saved), mine)
    assert json.loads(saved.read_text())["accounts"] == [ACCOUNT]

    code, out, _ = run(capsys, "apply", "--plan", str(saved), "--role-name", ROLE, mine)  # accounts from the plan

    assert code == common.EXIT_OK
    assert f"done routes create-route {lab.web_tables[0]} 10.1.0.0/16 -> {pcx} in {REGION} (account {ACCOUNT})" in out
    assert f"apply: 1 account in {REGION}: 6 actions (6 done)\n" in out
    assert peering_status(ec2_client(), pcx) == "active"


def test_a_saved_plan_with_nothing_to_do_changes_nothing(lab, capsys, tmp_path):
    assert run(capsys, "apply", "--yes")[0] == common.EXIT_OK
    saved = tmp_path / "plan.json"
    run(capsys, "plan", "--out", str(saved))
    pcx = request_peering(ec2_client(), lab.api_vpc, lab.web_vpc)  # after the (empty) review

    code, out, _ = run(capsys, "apply", "--plan", str(saved))

    assert code == common.EXIT_OK
    assert peering_status(ec2_client(), pcx) == "pending-acceptance"
    assert "left: 5 actions not in the reviewed plan wanted now" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "is not a plan: not JSON"), ('{"command": "apply"}', "is not a plan"), ('{"command": "plan"}', "missing")],
)
def test_a_file_that_is_not_a_plan_is_one_line(capsys, tmp_path, content, message):
    path = tmp_path / "plan.json"
    path.write_text(content)

    code, _, err = run(capsys, "apply", "--plan", str(path))

    assert code == common.EXIT_ERROR
    assert message in one_line_error(err)


# -- asking before changing anything ------------------------------------------------------------
class Terminal:
    """A terminal's standard input with the person's answer typed in; ``before_answer`` runs as they read."""

    def __init__(self, answer: str, before_answer: Callable[[], Any] = lambda: None) -> None:
        self.typed = io.StringIO(answer)
        self.before_answer = before_answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        self.before_answer()
        return self.typed.readline()


def test_off_a_terminal_apply_without_yes_refuses_and_changes_nothing(lab, pcx, capsys):
    code, out, err = run(capsys, "apply")

    assert code == common.EXIT_ERROR
    assert "pass --yes" in one_line_error(err)
    assert "--plan FILE" in err
    assert out == ""
    assert peering_status(ec2_client(), pcx) == "pending-acceptance"
    assert flow_logged() == set()


def test_on_a_terminal_apply_shows_the_plan_and_no_changes_nothing(lab, pcx, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))

    code, out, err = run(capsys, "apply")

    assert code == common.EXIT_ERROR
    assert f"planned routes create-route {lab.web_tables[0]} 10.1.0.0/16 -> {pcx} " in out
    assert "Apply these 6 actions? [y/N] " in err
    assert "apply cancelled: nothing changed" in err
    assert peering_status(ec2_client(), pcx) == "pending-acceptance"
    assert flow_logged() == set()


def test_on_a_terminal_yes_applies_what_was_shown_and_nothing_that_appeared_since(lab, pcx, capsys, monkeypatch):
    appeared: list[str] = []
    monkeypatch.setattr(
        "sys.stdin",
        Terminal("y\n", lambda: appeared.append(ec2_client().create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"])),
    )

    code, out, _ = run(capsys, "apply")

    assert code == common.EXIT_OK
    assert peering_status(ec2_client(), pcx) == "active"
    assert all(routes_of(ec2_client(), t)["10.1.0.0/16"] == pcx for t in lab.web_tables)
    assert appeared
    assert appeared[0] not in flow_logged()
    assert "left: 1 action not in the reviewed plan wanted now" in out


def test_yes_does_not_ask_even_on_a_terminal(lab, pcx, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", Terminal(""))

    code, _, err = run(capsys, "apply", "--yes")

    assert code == common.EXIT_OK
    assert "[y/N]" not in err
    assert peering_status(ec2_client(), pcx) == "active"


@pytest.fixture
def organisation(aws: None) -> str:
    organizations = boto3.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    status = organizations.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]
    return str(status["AccountId"])


def test_org_apply_needs_yes_off_a_terminal_and_does_not_ask_with_it(organisation, capsys):
    code, _, err = run(capsys, "apply", "--org", "--role-name", ROLE)
    assert code == common.EXIT_ERROR
    assert "pass --yes" in one_line_error(err)

    code, out, _ = run(capsys, "apply", "--org", "--role-name", ROLE, "--yes", "--policy-from-environment")

    assert code == common.EXIT_OK
    assert "done flow_logs create-flow-logs vpc-" in out
    assert f"(account {organisation})" in out
    assert out.endswith("converged\n")


# -- CI gates on findings -----------------------------------------------------------------------
@pytest.fixture
def only_conflicts(lab: Lab, pcx: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Converged, then one of web's tables sends api-vpc's CIDR to an internet gateway: a conflict, no action."""
    assert app.main(["apply", "--yes"]) == common.EXIT_OK
    ec2 = ec2_client()
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=lab.web_vpc)
    ec2.replace_route(RouteTableId=lab.web_tables[0], DestinationCidrBlock="10.1.0.0/16", GatewayId=gateway)
    capsys.readouterr()
    return gateway


def test_fail_on_conflicts_exits_2_when_only_conflicts_are_left(lab, pcx, only_conflicts, capsys):
    code, out, _ = run(capsys, "plan")
    assert code == common.EXIT_OK  # nothing for peerkeeper to do
    assert f"conflict routes {lab.web_tables[0]} 10.1.0.0/16 -> {pcx} in {REGION} (account {ACCOUNT}): " in out
    assert f"routed to {only_conflicts}, not {pcx}" in out
    assert out.endswith(f"plan: account {ACCOUNT} in {REGION}: no action: every concern is in sync (1 conflict)\n")

    assert run(capsys, "plan", "--fail-on", "conflicts")[0] == common.EXIT_DRIFT
    assert run(capsys, "plan", "--fail-on", "refused,problems")[0] == common.EXIT_OK
    assert run(capsys, "plan", "--fail-on", "problems,conflicts", "--json")[0] == common.EXIT_DRIFT


def test_fail_on_an_unknown_kind_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        app.main(["plan", "--fail-on", "conflicts,warnings"])
    assert exited.value.code == common.EXIT_ERROR
    err = capsys.readouterr().err
    assert "expected a comma-separated list of refused, conflicts, problems, got 'conflicts,warnings'" in err


def test_plan_out_writes_the_json_document(lab, pcx, capsys, tmp_path):
    saved = tmp_path / "plan.json"
    _, printed, _ = run(capsys, "plan", "--json", "--out", str(saved))
    assert json.loads(Path(saved).read_text()) == json.loads(printed)


# -- a real terminal ----------------------------------------------------------------------------
def _read_until(master: int, wanted: bytes, seen: bytearray, timeout: float = 120) -> None:
    """Read the pseudo-terminal until ``wanted`` appears (or it closes: then fail with what was seen)."""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"timed out waiting for {wanted!r}: {seen.decode(errors='replace')}"
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the command ended and closed the terminal
            chunk = b""
        assert chunk, f"ended before {wanted!r}: {seen.decode(errors='replace')}"
        seen.extend(chunk)


@pytest.mark.slow
def test_on_a_pseudo_terminal_apply_shows_the_table_asks_and_applies(endpoint):
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    web = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    api = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    pcx = request_peering(ec2, api, web)
    master, slave = os.openpty()
    command = [sys.executable, "-m", "peerkeeper", "apply", "--endpoint-url", endpoint]
    environ = {**os.environ, "COLUMNS": "200"}
    with subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=environ) as process:
        os.close(slave)
        seen = bytearray()
        try:
            _read_until(master, b"[y/N] ", seen)
            assert peering_status(ec2, pcx) == "pending-acceptance"  # nothing changed before the answer
            os.write(master, b"y\n")
            _read_until(master, b"converged", seen)
            assert process.wait(timeout=120) == common.EXIT_OK
        finally:
            os.close(master)
    text = seen.decode(errors="replace")
    assert f"Plan for account {ACCOUNT}" in text  # a terminal gets the tables
    assert "Apply these 4 actions? [y/N] y" in text  # accept, each VPC's main table, one flow-log batch
    assert peering_status(ec2, pcx) == "active"


@pytest.mark.slow
def test_a_region_the_emulator_does_not_serve_is_one_line(endpoint):
    command = [sys.executable, "-m", "peerkeeper", "plan", "--endpoint-url", endpoint, "--region", "xx-nowhere-9"]
    environ = {**os.environ, "PEERKEEPER_MAX_ATTEMPTS": "1"}

    completed = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120, check=False)

    assert completed.returncode == common.EXIT_ERROR
    assert completed.stdout == ""
    assert completed.stderr.splitlines() == [
        "peerkeeper: error: the endpoint's answer is not an AWS answer (an emulator answers so for a region it does "
        "not serve): check --region and --endpoint-url"
    ]
