"""``graph --intent FILE``: declared pairs without a connection dotted (with the code when infeasible),
connections that join isolated networks marked."""

from __future__ import annotations

import re

from tests.intent.conftest import in_account, make_vpc

FILE = """\
version: 1
networks:
  prod:
    topology: mesh
    members: [{tags: {net: prod}}]
  dev:
    topology: mesh
    members: [{tags: {net: dev}}]
isolate: [[prod, dev]]
"""


def test_graph_draws_declared_pairs_dotted_and_marks_isolation_violations(cli, calls):
    a, _ = make_vpc("10.1.0.0/16", {"net": "prod"})
    b, _ = make_vpc("10.2.0.0/16", {"net": "prod"})
    c, _ = make_vpc("10.1.128.0/20", {"net": "prod"})  # overlaps a
    dev, _ = make_vpc("10.9.0.0/16", {"net": "dev"})
    ec2 = in_account("ec2")
    pcx = ec2.create_vpc_peering_connection(VpcId=dev, PeerVpcId=b)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    file = cli.file(FILE)

    code, out, err = cli.run("graph", "--format", "dot", "--intent", file)
    assert code == 0, err
    declared = [line for line in out.splitlines() if "declared by prod" in line]
    assert len(declared) == 3  # a-b, a-c, b-c: no connection for any of them
    assert all("style=dotted" in line for line in declared)
    (overlap,) = [line for line in declared if f'"{a}"' in line and f'"{c}"' in line]
    assert "CIDR_OVERLAP" in overlap
    assert "infeasible" in overlap
    (violation,) = [line for line in out.splitlines() if f'id="{pcx}"' in line]
    assert "ISOLATION_VIOLATED" in violation

    code, out, _ = cli.run("graph", "--format", "mermaid", "--intent", file)
    assert code == 0
    assert out.count("declared by prod") == 3
    assert "ISOLATION_VIOLATED" in out
    assert "ISOLATION_VIOLATED" in out


def test_graph_with_a_malformed_intent_file_is_one_line_before_any_call(cli, calls):
    file = cli.file("version: 1\nnetworks:\n  prod: {topology: mesh}\n")
    calls.clear()
    code, out, err = cli.run("graph", "--intent", file)
    assert code == 1
    assert out == ""
    assert (
        err == f"peerkeeper: error: {file}:3: network 'prod' has no members: add 'members: [{{tags: {{net: prod}}}}]'\n"
    )
    assert calls.made == []


def test_the_page_draws_declared_pairs_too(cli, calls):
    make_vpc("10.1.0.0/16", {"net": "prod"})
    make_vpc("10.2.0.0/16", {"net": "prod"})
    file = cli.file(FILE)
    code, out, err = cli.run("graph", "--format", "html", "--intent", file)
    assert code == 0, err
    assert 'class="edge k-declared"' in out
    assert "declared by prod" in out
    # The label says what the pair is, not a made-up connection ID (the hover names the two VPCs).
    label = re.search(r'<text class="elabel k-declared"[^>]*>.*?</text>', out, re.S)
    assert label is not None
    spans = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", label.group(0))
    assert spans == ["missing · declared by prod"]
