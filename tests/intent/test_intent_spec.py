"""The network file: each mistake is one line naming the file, the line and the fix (no AWS needed)."""

from __future__ import annotations

import pytest

from peerkeeper.intent.model import HUB_SPOKE, MESH, Selector
from peerkeeper.intent.spec import IntentFileError, parse

GOOD = """\
version: 1
networks:
  prod:
    topology: mesh            # every pair of members is connected
    members:
      - tags: {net: prod}
      - vpc: vpc-0123456789abcdef0
    dns: true
  core:
    topology: hub-spoke
    members: [{tags: {net: core}}]
    hubs: [{tags: {role: hub}}]
max-peerings-per-vpc: 50
isolate: [[prod, core]]
"""


def test_the_contract_example_reads():
    intent = parse(GOOD, "n.yaml")
    assert [n.name for n in intent.networks] == ["core", "prod"]
    core, prod = intent.networks
    assert (core.topology, core.hubs) == (HUB_SPOKE, (Selector((("role", "hub"),)),))
    assert (prod.topology, prod.dns) == (MESH, True)
    assert prod.members == (Selector((("net", "prod"),)), Selector(vpc="vpc-0123456789abcdef0"))
    assert intent.isolate == (("core", "prod"),)


def test_json_is_yaml_too():
    text = '{"version": 1, "networks": {"a": {"topology": "mesh", "members": [{"tags": {"net": "a"}}]}}}'
    assert parse(text).networks[0].name == "a"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: 1\nnetworks:\n  prod:\n    topolgy: mesh\n",
            "n.yaml:4: unknown key 'topolgy' in network 'prod': did you mean 'topology'?",
        ),
        (
            "version: 1\nnetworks:\n  prod:\n    topology: mesh\n    members: [{tags: {net: prod}}]\n    color: red\n",
            "n.yaml:6: unknown key 'color' in network 'prod': expected one of 'dns', 'hubs', 'members', 'topology'",
        ),
        (
            "version: 1\nnetworks:\n  a: {topology: mesh, members: [{vpc: vpc-12345678}]}\n"
            "  a: {topology: mesh, members: [{vpc: vpc-12345678}]}\n",
            "n.yaml:4: network 'a' is named twice (first on line 3): rename or merge one",
        ),
        (
            "version: 1\nnetworks:\n  a:\n    topology: mesh\n    members: [{vpc: vpc-12345678}]\n"
            "    hubs: [{vpc: vpc-12345678}]\n",
            "n.yaml:6: hubs in network 'a', whose topology is mesh: set 'topology: hub-spoke' or remove hubs",
        ),
        (
            "version: 1\nnetworks:\n  a: {topology: hub-and-spoke, members: [{vpc: vpc-12345678}]}\n",
            "n.yaml:3: topology 'hub-and-spoke' of network 'a': did you mean 'hub-spoke'?",
        ),
        ("version: 2\nnetworks: {}\n", "n.yaml:1: version must be 1 (the only version this peerkeeper reads)"),
        (
            "version: 1\nnetworks:\n  a: {topology: mesh, members: [{vpc: vpc-12345678}]}\nisolate: [[a, b]]\n",
            "n.yaml:4: isolate names 'b', which is not a network: expected one of 'a'",
        ),
        (
            "version: 1\nnetworks:\n  a: {topology: mesh, members: [{vpc: vcp-12345678}]}\n",
            "n.yaml:3: 'vcp-12345678' in members of network 'a' is not a VPC ID: expected vpc- and 8 or 17 hex digits",
        ),
        (
            "version: 1\nnetworks:\n  a: {topology: mesh, members: [{vpc: vpc-12345678}]}\nmax-peerings-per-vpc: 200\n",
            "n.yaml:4: max-peerings-per-vpc must be from 1 to 125, not 200",
        ),
        (
            "version: 1\nnetworks: [a\n",
            "n.yaml:3: not valid YAML (expected ',' or ']', but got '<stream end>'): check the indentation and quotes",
        ),
    ],
)
def test_each_mistake_is_one_line_with_file_line_and_fix(text, message):
    with pytest.raises(IntentFileError) as error:
        parse(text, "n.yaml")
    assert str(error.value) == message
    assert "\n" not in str(error.value)


def test_the_readme_example_is_a_valid_ten_line_file():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Declare the network: `peerkeeper intent`") :]
    example = section[section.index("```yaml\n") + len("```yaml\n") : section.index("```\n", section.index("```yaml"))]
    assert len(example.splitlines()) == 10
    intent = parse(example, "README.md")
    assert [n.name for n in intent.networks] == ["prod", "shared"]
