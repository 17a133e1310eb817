"""The trimmed botocore models of the Lambda functions: current, sufficient, and the ones used.

``peerkeeper/botocore_data`` holds, for EC2, ELB, ELBv2 and Route 53, botocore's models cut down to
the operations the functions call (``tools/trim_botocore_data.py``, the cold-start figures in
docs/benchmarks.md). A call missing from them would fail at run time with an AttributeError, so:
every action the template grants a function is in them, they are exactly what the tool cuts from the
botocore installed (the layer's pin), and every integration test runs the handlers on them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from peerkeeper.clients import TRIMMED_DATA, default_clients
from tools import trim_botocore_data

ROOT = Path(__file__).resolve().parents[2]
# IAM prefix -> the services whose models carry its actions
PREFIXES = {"ec2": ("ec2",), "route53": ("route53",), "elasticloadbalancing": ("elb", "elbv2")}


def test_the_committed_models_are_what_the_tool_cuts_from_the_installed_botocore():
    for relative, content in trim_botocore_data.render().items():
        assert (TRIMMED_DATA / relative).read_text() == content, f"run python -m tools.trim_botocore_data ({relative})"


# Roles the command line assumes (plan, graph, why; apply): the CLI loads botocore's full models.
CLI_ROLES = {"PlanRole", "OperatorRole"}


def granted_actions() -> set[tuple[str, str]]:
    """Every EC2, Route 53 and ELB action the template grants, outside the roles only the CLI uses."""
    import json

    from peerkeeper.cli.demo.rules import load_template

    resources = load_template(ROOT / "template.yaml")["Resources"]
    text = json.dumps([body for name, body in resources.items() if name not in CLI_ROLES], default=str)
    return set(re.findall(r"\b(ec2|route53|elasticloadbalancing):([A-Z][A-Za-z0-9]+)\b", text))


def test_every_action_the_template_grants_a_function_is_in_the_trimmed_models():
    granted = granted_actions()
    assert ("ec2", "CreateRoute") in granted  # the scan finds the policies
    for prefix, operation in sorted(granted):
        services = PREFIXES[prefix]
        # Names that are no operation (condition keys such as ec2:RequesterVpc) are not calls.
        offered = [s for s in services if operation in trim_botocore_data.full_model(s, _version(s))["operations"]]
        for service in offered:
            assert operation in trim_botocore_data.OPERATIONS[service], f"{prefix}:{operation} missing from {service}"


def _version(service: str) -> str:
    return trim_botocore_data.latest_version(service)


@pytest.mark.usefixtures("aws")
def test_the_functions_clients_load_the_trimmed_models_and_the_cli_the_full_ones():
    from peerkeeper.clients import Clients

    lambda_ec2 = default_clients().ec2("us-east-1")
    cli_ec2 = Clients().ec2("us-east-1")

    assert sorted(lambda_ec2.meta.service_model.operation_names) == sorted(trim_botocore_data.OPERATIONS["ec2"])
    assert len(cli_ec2.meta.service_model.operation_names) > 500
    assert lambda_ec2.can_paginate("describe_route_tables")  # paginators still come from botocore
