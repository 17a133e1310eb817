"""``plan`` / ``apply`` across accounts (``--account`` / ``--org`` with ``--role-name``) against moto's server.

moto runs organizations and STS: the caller (moto's default account) creates an organisation and
member accounts; AssumeRole into ``arn:aws:iam::<ID>:role/<NAME>`` returns keys with which moto
serves that account's own world. moto allows every AssumeRole, so a refused role is made here: a
botocore ``before-send`` handler on the caller's session answers AssumeRole for the refused account
with the 403 ``AccessDenied`` error body STS sends (tests/reliability/faults.py builds it), and
records every RoleArn asked for.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import boto3
import pytest

# Powertools' logger is made at import and keeps the sys.stdout of that moment: import it now, not
# inside a test whose captured stdout closes when the test ends (common.terminal_logging swaps it).
import peerkeeper.observability  # noqa: F401
from peerkeeper.cli import app, common
from peerkeeper.cli import plan as plan_command
from peerkeeper.clients import Clients
from tests.reliability.faults import error_response
from tests.support import ACCOUNT, hook_sessions

ROLE = "peerkeeper-plan"
REGION = "us-east-1"


class Sts:
    """Records the roles asked for; refuses those of ``refused`` accounts as STS does (403 AccessDenied)."""

    def __init__(self) -> None:
        self.refused: set[str] = set()
        self.assumed: list[str] = []

    def __call__(self, request: Any, **_: Any) -> Any:
        arn = urllib.parse.parse_qs(request.body.decode() if isinstance(request.body, bytes) else request.body)[
            "RoleArn"
        ][0]
        if arn.endswith(f":role/{ROLE}"):  # not the test's own setup sessions
            self.assumed.append(arn)
        account_id = arn.split(":")[4]
        if account_id in self.refused:
            message = (
                f"User: arn:aws:iam::{ACCOUNT}:user/ops is not authorized to perform: sts:AssumeRole on resource: {arn}"
            )
            return error_response(request.url, "sts", "AccessDenied", message, 403)
        return None


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Sts:
    """Every boto3 session the command makes (the caller's) gets the AssumeRole handler."""
    recorder = Sts()
    hook_sessions(monkeypatch, "before-send.sts.AssumeRole", recorder)
    return recorder


@pytest.fixture
def organisation(endpoint: str) -> dict[str, str]:
    """The caller's organisation: the management account and members ``b``, ``c``, ``d`` (``d`` closed)."""
    organizations = Clients(endpoint_url=endpoint).organizations(REGION)
    organizations.create_organization(FeatureSet="ALL")
    members = {}
    for name in ("b", "c", "d"):
        status = organizations.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        members[name] = status["AccountId"]
    organizations.close_account(AccountId=members["d"])
    return members


def in_account(endpoint: str, account_id: str) -> Clients:
    """Clients acting in ``account_id`` (moto: keys from AssumeRole select the account)."""
    sts = Clients(endpoint_url=endpoint).sts(REGION)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/setup", RoleSessionName="setup")[
        "Credentials"
    ]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return Clients(session, endpoint_url=endpoint)


def vpc_in(endpoint: str, account_id: str, region: str = REGION) -> str:
    return in_account(endpoint, account_id).ec2(region).create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]


def flow_logged_vpcs(endpoint: str, account_id: str, region: str = REGION) -> set[str]:
    logs = in_account(endpoint, account_id).ec2(region).describe_flow_logs()["FlowLogs"]
    return {log["ResourceId"] for log in logs}


def planned_vpcs(entry: dict[str, Any]) -> set[str]:
    return {vpc for action in entry["concerns"]["flow_logs"]["actions"] for vpc in action["params"]["ResourceIds"]}


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = app.main(["plan", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


# -- --account ----------------------------------------------------------------------------------
def test_plan_accounts_json_has_an_entry_per_account_and_region_and_the_refused_one_exits_1(
    endpoint, organisation, sts, capsys
):
    b, c = organisation["b"], organisation["c"]
    vpc_b = vpc_in(endpoint, b)
    sts.refused.add(c)

    code, doc = plan_json(capsys, "--endpoint-url", endpoint, "--account", b, "--account", c, "--role-name", ROLE)

    assert code == common.EXIT_ERROR  # the worst: c's error over b's drift
    assert (doc["command"], doc["mode"], doc["accounts"], doc["regions"]) == ("plan", "dry-run", [b, c], [REGION])
    assert [(e["account"], e["region"]) for e in doc["entries"]] == [(b, REGION), (c, REGION)]
    entry_b, entry_c = doc["entries"]
    assert vpc_b in planned_vpcs(entry_b)  # b's own world, seen through b's role
    assert (entry_b["in_sync"], entry_b["errors"]) == (False, [])
    assert entry_c["counts"] == {"actions": 0, "refused": 0, "conflicts": 0, "problems": 0, "errors": 1}
    (reason,) = entry_c["errors"]
    assert reason.startswith(f"cannot assume {ROLE}: AssumeRole failed (AccessDenied): User: ")
    assert reason.endswith(f"on resource: arn:aws:iam::{c}:role/{ROLE}")
    assert doc["unreachable"] == [{"account": c, "reason": entry_c["errors"][0]}]
    assert sorted(sts.assumed) == sorted(f"arn:aws:iam::{a}:role/{ROLE}" for a in (b, c))
    assert flow_logged_vpcs(endpoint, b) == set()  # plan changes nothing


def test_accounts_times_regions_one_role_session_per_account(endpoint, organisation, sts, capsys):
    b, c = organisation["b"], organisation["c"]
    vpcs = {
        (account, region): vpc_in(endpoint, account, region)
        for account in (b, c)
        for region in ("us-east-1", "eu-west-1")
    }
    args = ["--endpoint-url", endpoint, "--role-name", ROLE, "--parallel", "3"]

    code, doc = plan_json(
        capsys, *args, "--account", c, "--account", b, "--region", "us-east-1", "--region", "eu-west-1"
    )

    assert code == common.EXIT_DRIFT
    assert [(e["account"], e["region"]) for e in doc["entries"]] == [
        (c, "us-east-1"),
        (c, "eu-west-1"),
        (b, "us-east-1"),
        (b, "eu-west-1"),
    ]
    for entry in doc["entries"]:
        assert vpcs[entry["account"], entry["region"]] in planned_vpcs(entry)
        assert not {vpc for key, vpc in vpcs.items() if key != (entry["account"], entry["region"])} & planned_vpcs(
            entry
        )
    assert sorted(sts.assumed) == sorted(f"arn:aws:iam::{a}:role/{ROLE}" for a in (b, c))  # not one per region


def test_the_allowlist_defaults_to_each_account_itself(endpoint, organisation, sts, capsys, monkeypatch):
    """A same-account peering request in b is accepted by b's plan: b is b's own allowlist."""
    monkeypatch.delenv("ALLOWED_PEER_ACCOUNTS")
    b = organisation["b"]
    ec2 = in_account(endpoint, b).ec2(REGION)
    one, two = (ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"] for cidr in ("10.1.0.0/16", "10.2.0.0/16"))
    pcx = ec2.create_vpc_peering_connection(VpcId=one, PeerVpcId=two)["VpcPeeringConnection"]["VpcPeeringConnectionId"]

    code, doc = plan_json(capsys, "--endpoint-url", endpoint, "--account", b, "--role-name", ROLE)

    assert code == common.EXIT_DRIFT
    (entry,) = doc["entries"]
    assert [a["resource"] for a in entry["concerns"]["peering"]["actions"]] == [pcx]


# -- --org --------------------------------------------------------------------------------------
def test_plan_org_runs_in_every_active_account(endpoint, organisation, sts, capsys):
    b, c, closed = organisation["b"], organisation["c"], organisation["d"]
    sts.refused.add(c)

    code, doc = plan_json(capsys, "--endpoint-url", endpoint, "--org", "--role-name", ROLE)

    assert code == common.EXIT_ERROR
    assert set(doc["accounts"]) == {ACCOUNT, b, c}  # the management account is a member too; d is closed
    assert closed not in doc["accounts"]
    assert [item["account"] for item in doc["unreachable"]] == [c]
    assert {entry["account"] for entry in doc["entries"] if not entry["errors"]} == {ACCOUNT, b}


def test_exclude_account_leaves_an_account_out(endpoint, organisation, sts, capsys):
    code, doc = plan_json(
        capsys, "--endpoint-url", endpoint, "--org", "--role-name", ROLE, "--exclude-account", organisation["c"]
    )
    assert code == common.EXIT_DRIFT  # every account has moto's default VPC without flow logs
    assert set(doc["accounts"]) == {ACCOUNT, organisation["b"]}


def test_plan_org_tables_are_grouped_by_account(endpoint, organisation, sts, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setattr(plan_command, "stdout_is_terminal", lambda: True)  # tables are for a terminal
    sts.refused.add(organisation["c"])
    capsys.readouterr()

    code = app.main(["plan", "--endpoint-url", endpoint, "--org", "--role-name", ROLE])

    out = capsys.readouterr().out
    assert code == common.EXIT_ERROR
    assert "Accounts" in out
    assert f"cannot assume {ROLE}" in out
    assert "1 account unreachable" in out
    assert "3 accounts" in out


# -- apply --------------------------------------------------------------------------------------
def test_apply_accounts_converges_the_reachable_ones_and_exits_1_for_the_refused(endpoint, organisation, sts, capsys):
    b, c = organisation["b"], organisation["c"]
    vpc_b = vpc_in(endpoint, b)
    sts.refused.add(c)
    args = ["--endpoint-url", endpoint, "--account", b, "--account", c, "--role-name", ROLE]

    assert app.main(["apply", "--yes", *args, "--policy-from-environment"]) == common.EXIT_ERROR

    assert vpc_b in flow_logged_vpcs(endpoint, b)  # b went on despite c
    assert flow_logged_vpcs(endpoint, ACCOUNT) == set()  # the caller's own account was not asked for
    sts.refused.clear()
    code, doc = plan_json(capsys, "--endpoint-url", endpoint, "--account", b, "--role-name", ROLE)
    assert (code, doc["in_sync"]) == (common.EXIT_OK, True)


# -- a person's mistakes ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "111122223333"], "--account and --org need --role-name NAME (the role assumed in each account)"),
        (["--role-name", ROLE], "--role-name needs --account ID or --org"),
        (["--account", "1234", "--role-name", ROLE], "invalid account ID '1234': expected 12 digits"),
        (["--account", "111122223333", "--role-name", "bad name"], "invalid role name 'bad name'"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_1(endpoint, capsys, args, message):
    capsys.readouterr()
    assert app.main(["plan", "--endpoint-url", endpoint, *args]) == common.EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"peerkeeper: error: {message}"]


def test_account_and_org_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as stopped:
        app.main(["plan", "--account", "111122223333", "--org", "--role-name", ROLE])
    assert stopped.value.code == common.EXIT_ERROR  # a usage mistake, never the "drift" exit code
    assert "not allowed with argument" in capsys.readouterr().err


# -- graph ----------------------------------------------------------------------------------------
def test_graph_draws_every_account_asked_for(endpoint, organisation, sts, capsys):
    b, c = organisation["b"], organisation["c"]
    vpc_b, vpc_c = vpc_in(endpoint, b), vpc_in(endpoint, c)
    capsys.readouterr()

    args = ["graph", "--endpoint-url", endpoint, "--account", b, "--account", c, "--role-name", ROLE]
    assert app.main([*args, "--format", "mermaid"]) == common.EXIT_OK

    out = capsys.readouterr().out
    assert f'["account {b}"]' in out
    assert f'["account {c}"]' in out
    assert vpc_b in out
    assert vpc_c in out


def test_graph_draws_the_reachable_accounts_and_exits_1_for_a_refused_one(endpoint, organisation, sts, capsys):
    b, c = organisation["b"], organisation["c"]
    vpc_b = vpc_in(endpoint, b)
    sts.refused.add(c)
    capsys.readouterr()

    args = ["graph", "--endpoint-url", endpoint, "--account", b, "--account", c, "--role-name", ROLE]
    assert app.main(args) == common.EXIT_ERROR

    captured = capsys.readouterr()
    assert vpc_b in captured.out
    assert f"peerkeeper: warning: {c}: cannot assume {ROLE}: AssumeRole failed (AccessDenied)" in captured.err
