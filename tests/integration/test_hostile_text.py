"""Text from AWS or tags reaches the operator's terminal as text: ``plan``, ``apply``, ``graph``.

Run as a user runs them (``peerkeeper.cli.app.main``, stdout captured), against moto. Before issue 18
a ``[/]`` in a reason made ``plan`` die with rich's ``MarkupError`` (exit 1), ``[link=…]x[/link]``
hid the real value behind a link, and ANSI escapes reached the terminal raw. The hostile text comes
in where a member account controls it: an AWS answer peerkeeper reports (a route target it cannot
classify, rewritten into ``DescribeRouteTables`` since moto only stores known targets), an AWS error
message (``CreateRoute`` answered with an error, as IAM or EC2 would), and a VPC's Name tag. EC2's
XML cannot carry an ESC byte, so the tag is rewritten into the parsed answer (``after-call``) the way
a JSON API's text would arrive; the markup part is a real tag, stored by moto as AWS stores it.
"""

from __future__ import annotations

from typing import Any

import pytest

from peerkeeper import observability  # noqa: F401  (its logger takes sys.stdout at import: before capsys)
from peerkeeper.cli import app
from peerkeeper.cli import plan as plan_command
from tests.support import ec2_client, hook_sessions, request_peering

HOSTILE = "evil[/] [link=https://attacker.example]x[/link] \x1b[31mred\x1b[0m"
SHOWN = ("evil[/]", "[link=https://attacker.example]x[/link]", "\\x1b[31mred\\x1b[0m")  # as the terminal shows it


@pytest.fixture
def hostile(lab, monkeypatch):
    """api-vpc peered with web-vpc by hand: one web table reports a hostile target, every CreateRoute
    into the other fails with a hostile message, web-vpc's Name tag is hostile."""
    monkeypatch.setenv("COLUMNS", "400")  # one reason per line: the literal text is not wrapped
    ec2 = ec2_client()
    pcx = request_peering(ec2, lab.api_vpc, lab.web_vpc)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    ec2.create_tags(Resources=[lab.web_vpc], Tags=[{"Key": "Name", "Value": HOSTILE.replace("\x1b", "")}])
    reported, failing = lab.web_tables

    def escape_sequences(parsed: dict[str, Any], **_: Any) -> None:
        for vpc in parsed.get("Vpcs", []):
            vpc["Tags"] = [
                {**t, "Value": HOSTILE} if t["Value"] == HOSTILE.replace("\x1b", "") else t for t in vpc.get("Tags", [])
            ]

    def unknown_target(parsed: dict[str, Any], **_: Any) -> None:
        for table in parsed.get("RouteTables", []):
            if table["RouteTableId"] == reported:
                table["Routes"].append({"DestinationCidrBlock": "10.1.0.0/16", "FutureTargetId": HOSTILE})

    def refused(model: Any, params: dict[str, Any], **_: Any) -> Any:
        if model.name != "CreateRoute" or params["body"].get("RouteTableId") != failing:
            return None
        error = {"Error": {"Code": "UnauthorizedOperation", "Message": HOSTILE}}
        return type("Response", (), {"status_code": 403, "headers": {}})(), error

    hook_sessions(monkeypatch, "after-call.ec2.DescribeRouteTables", unknown_target)
    hook_sessions(monkeypatch, "after-call.ec2.DescribeVpcs", escape_sequences)
    hook_sessions(monkeypatch, "before-call.ec2.CreateRoute", refused)
    return lab


@pytest.fixture(params=["terminal", "pipe"])
def shown_on(request, monkeypatch) -> str:
    """On a terminal ``plan`` and ``apply`` draw rich tables; piped, whole lines (both are printed)."""
    monkeypatch.setattr(plan_command, "stdout_is_terminal", lambda: request.param == "terminal")
    return str(request.param)


def shows_the_literal_text(output: str) -> None:
    for text in SHOWN:
        assert text in output, text
    assert "\x1b" not in output  # no escape sequence reaches the terminal


def test_plan_shows_hostile_text_as_text(hostile, capsys, shown_on):
    capsys.readouterr()

    code = app.main(["plan", "--region", "us-east-1"])

    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "MarkupError" not in captured.err
    shows_the_literal_text(captured.out)


def test_apply_shows_hostile_text_as_text(hostile, capsys, shown_on):
    capsys.readouterr()

    code = app.main(["apply", "--region", "us-east-1", "--yes"])

    captured = capsys.readouterr()
    assert code == 1, captured.err  # the refused CreateRoute: not converged
    assert "MarkupError" not in captured.err
    shows_the_literal_text(captured.out)
    assert captured.out.count("\\x1b[31mred") >= 2  # the conflict's reason and the action's error


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_shows_hostile_text_as_text(hostile, capsys, fmt):
    capsys.readouterr()

    code = app.main(["graph", "--region", "us-east-1", "--format", fmt, "--detail", "tables"])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "\x1b" not in captured.out + captured.err
    assert "x1b[31mred" in captured.out  # the Name tag, written out (its backslash in the format's own escape)
    assert "[link=https://attacker.example]x[/link]" in captured.out
