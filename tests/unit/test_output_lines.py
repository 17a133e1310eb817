"""The whole lines of ``plan``/``apply`` off a terminal: what AWS or a tag puts in a field cannot break one."""

from __future__ import annotations

from peerkeeper.cli.output import action_line, finding_line, one_line


def test_control_characters_are_written_not_obeyed():
    assert one_line("web\nplanned fake\r\x1b[2J\x9b") == "web\\x0aplanned fake\\x0d\\x1b[2J\\x9b"


def test_an_action_line_names_kind_resource_route_region_account_and_reason():
    action = {
        "kind": "replace-route",
        "resource": "rtb-1",
        "region": "eu-west-1",
        "reason": "rtb-1 (vpc-1) routes fd00::/56 to dead target pcx-0\nwith a newline",
        "outcome": "failed",
        "error": "Throttling: slow down",
        "params": {"RouteTableId": "rtb-1", "DestinationIpv6CidrBlock": "fd00::/56", "VpcPeeringConnectionId": "pcx-1"},
    }

    line = action_line("111122223333", "routes", action)

    assert line == (
        "failed routes replace-route rtb-1 fd00::/56 -> pcx-1 in eu-west-1 (account 111122223333): "
        "rtb-1 (vpc-1) routes fd00::/56 to dead target pcx-0\\x0awith a newline [error: Throttling: slow down]"
    )


def test_a_route_finding_names_its_cidr_and_the_connection_wanted():
    finding = {"resource": "rtb-1", "region": "us-east-1", "reason": "routed to igw-1", "destination": "10.1.0.0/16"}
    finding["wanted"] = "pcx-1"

    assert finding_line("111122223333", "routes", "conflicts", finding) == (
        "conflict routes rtb-1 10.1.0.0/16 -> pcx-1 in us-east-1 (account 111122223333): routed to igw-1"
    )
    assert finding_line("111122223333", "peering", "refused", finding).startswith("refused peering rtb-1 in ")
