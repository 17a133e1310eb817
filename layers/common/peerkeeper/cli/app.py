"""The ``peerkeeper`` command: arguments parsed, one command run, a person's mistakes turned into one line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from peerkeeper.cli.common import EXIT_ERROR, Parser, common_options, explain, fleet_options, terminal_logging, version
from peerkeeper.cli.graph import cmd_graph
from peerkeeper.cli.intent import add_parser as add_intent_parser
from peerkeeper.cli.plan import cmd_apply, cmd_plan, fail_on
from peerkeeper.cli.why import cmd_why

if TYPE_CHECKING:
    pass


def cmd_demo(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    from peerkeeper.cli.demo.runner import main as demo_main  # noqa: PLC0415  (needs moto and PyYAML: a development tool)

    return demo_main()


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="peerkeeper", description="Reconcile VPC peering, routes, private DNS and flow logs.")
    parser.add_argument("--version", action="version", version=f"peerkeeper {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = commands.add_parser("plan", help="show every action the sweep would take (exit 0 in sync, 2 drift)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--out", metavar="FILE", help="save the plan (JSON) for review and apply --plan FILE")
    plan.add_argument(
        "--fail-on",
        type=fail_on,
        metavar="KINDS",
        help="exit 2 also when a finding of these kinds exists: any of refused,conflicts,problems",
    )
    common_options(plan)
    fleet_options(plan)
    plan.set_defaults(handler=cmd_plan)
    apply = commands.add_parser(
        "apply", help="reconcile now; on a terminal, shows the plan and asks first (exit 0 converged, 1 error)"
    )
    apply.add_argument("--plan", metavar="FILE", help="carry out exactly the plan saved by plan --out FILE")
    apply.add_argument("--yes", "-y", action="store_true", help="do not ask (automation): apply what is found now")
    apply.add_argument("--json", action="store_true", help="print the plan's document with each action's outcome")
    common_options(apply)
    fleet_options(apply)
    apply.set_defaults(handler=cmd_apply)
    graph = commands.add_parser("graph", help="draw the VPCs, peering connections and drift that plan sees")
    graph.add_argument(
        "--format",
        choices=("mermaid", "dot", "html", "svg", "png"),
        help="default: from --output's suffix (.mmd .dot .gv .html .svg .png), else mermaid; svg and png need Graphviz",
    )
    graph.add_argument("--output", metavar="FILE", help="write to FILE (atomically) instead of standard output")
    graph.add_argument("--detail", choices=("tables",), help="tables: each VPC's route tables, missing routes in red")
    graph.add_argument("--intent", metavar="FILE", help="also draw the pairs a network file declares (dotted)")
    common_options(graph)
    fleet_options(graph)
    graph.set_defaults(handler=cmd_graph)
    demo = commands.add_parser("demo", help="the seed lab on an embedded AWS emulator, driven by events")
    demo.set_defaults(handler=cmd_demo)
    _why_parser(commands)
    add_intent_parser(commands, common_options, fleet_options)
    return parser


def _why_parser(commands: Any) -> None:
    why = commands.add_parser(
        "why", help="explain whether SOURCE reaches DESTINATION and what blocks it (exit 0 reachable, 2 not)"
    )
    why.add_argument("source", metavar="SOURCE", help="instance ID, network interface ID or private IP address")
    why.add_argument("destination", metavar="DESTINATION", help="the same, or a DNS name of a private hosted zone")
    why.add_argument("--protocol", default="tcp", help="tcp (default), udp, icmp (echo, ping) or all")
    why.add_argument("--port", help="destination port, tcp and udp only (default: any port)")
    why.add_argument("--json", action="store_true", help="print the answer as JSON")
    aws = why.add_argument_group("AWS")
    aws.add_argument("--region", action="append", metavar="REGION", help="region to look in (repeatable)")
    aws.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    aws.add_argument("--endpoint-url", help="endpoint for every service, e.g. an emulator (or AWS_ENDPOINT_URL)")
    accounts = why.add_argument_group("other accounts (SOURCE or DESTINATION may be there; each end read in its own)")
    accounts.add_argument("--account", action="append", metavar="ID", help="look in this account too (repeatable)")
    accounts.add_argument("--role-name", metavar="NAME", help="the role assumed in each --account")
    why.add_argument(
        "--to-targets",
        action="store_true",
        help="follow a load balancer DESTINATION on to its registered targets (their health is not judged)",
    )
    why.set_defaults(handler=cmd_why)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Parse, run, and turn a person's mistakes into one line on stderr.

    The reconcile modules are imported here, inside the ``try``, so that whatever they set up at
    import and whatever reads the AWS config (a missing ``AWS_PROFILE`` fails at the first botocore
    session) ends as one line, not a traceback.
    """
    args = build_parser().parse_args(argv)
    base = dict(os.environ if environ is None else environ)
    try:
        with terminal_logging(base.get("POWERTOOLS_LOG_LEVEL") or "WARNING"):
            code: int = args.handler(args, base)
    except KeyboardInterrupt:
        sys.stderr.write("peerkeeper: interrupted\n")
        return 130
    except Exception as error:
        line = explain(error)
        if line is None:
            raise
        sys.stderr.write(f"peerkeeper: error: {line}\n")
        return EXIT_ERROR
    return code
