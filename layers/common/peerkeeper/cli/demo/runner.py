"""``peerkeeper demo``: the emulator started, the lab built, the story played, the plan checked empty."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from peerkeeper.cli.demo.emulator import (
    DEMO_EXTRA,
    Functions,
    configure_process,
    emulator,
    missing_requirements,
    project_root,
)
from peerkeeper.cli.demo.lab import ACCOUNT, LOG_GROUP, REGION, ROLE_NAME, ZONE_NAME, DemoError, build_lab, build_tiers
from peerkeeper.cli.demo.story import BEYOND, Story, play
from peerkeeper.cli.output import render_actions, render_findings
from peerkeeper.cli.run import run
from peerkeeper.clients import Clients
from peerkeeper.fleet import Target, dry_run
from peerkeeper.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console


def final_plan(story: Story, endpoint: str) -> None:
    story.chapter(f"{BEYOND}the final plan (peerkeeper plan, {REGION})")
    settings = Settings.from_env(os.environ)
    target = Target(Clients(endpoint_url=endpoint), ACCOUNT, (settings,))
    doc = run(dry_run(target), "plan").document()
    render_actions(story.console, doc, "Plan")
    render_findings(story.console, doc)
    story.check("the plan has no action", doc["counts"]["actions"] == 0 and not doc["errors"])


def picture(console: Console, endpoint: str, path: Path, when: str) -> None:
    """``peerkeeper graph --format html`` of the lab as it is now, written to ``path``."""
    from peerkeeper import graph  # noqa: PLC0415

    target = Target(Clients(endpoint_url=endpoint), ACCOUNT, (Settings.from_env(os.environ),))
    result = run(dry_run(target), "graph")
    observed = graph.observed(result.account_id, result.reports, result.inventories)
    graph.write_atomically(path, graph.render(graph.picture(observed, errors=result.errors), "html"))
    console.print(f"  [bold]picture of the lab {when}:[/bold] {path} [dim](open it in a browser)[/dim]")


def main() -> int:
    from rich.console import Console  # noqa: PLC0415

    from peerkeeper.cli.demo.rules import deploy, load_template  # noqa: PLC0415

    console = Console(highlight=False)
    missing = missing_requirements()
    if missing:
        sys.stderr.write(
            f"peerkeeper: error: the demo needs its emulator ({', '.join(missing)} missing): {DEMO_EXTRA}\n"
        )
        return 1
    try:
        root = project_root()
        template = load_template(root / "template.yaml")
        stack = deploy(template, REGION, ACCOUNT)
        with emulator() as endpoint:
            configure_process(endpoint)
            console.print(f"[bold]peerkeeper demo[/bold]: moto's AWS emulator at {endpoint} (loopback only)")
            clients = Clients(endpoint_url=endpoint)
            lab = build_lab(clients, endpoint)
            build_tiers(clients, endpoint, lab)
            console.print(
                f"  the seed lab, in {REGION}: web-vpc {lab.web.vpc} 10.0.0.0/16 and api-vpc {lab.api.vpc} "
                "10.1.0.0/16, each with two subnets, two route tables and an autoscaling group (web-asg, "
                f"api-asg) behind an internal ALB (web-elb, api-elb); private zone {ZONE_NAME} ({lab.zone_id}); "
                f"log group {LOG_GROUP}, role {ROLE_NAME}"
            )
            console.print(
                f"  {len(stack.rules)} rules from template.yaml route the events to functions/*/app.py; "
                "peerkeeper's own calls are played back too, made as its stack's roles, which the rules' "
                "self-filter drops"
            )
            story = Story(console, {REGION: stack}, Functions(root), lab, clients, template)
            picture(console, endpoint, Path.cwd() / "demo-before.html", "before reconciling")
            play(story, endpoint)
            final_plan(story, endpoint)
            picture(console, endpoint, Path.cwd() / "demo-after.html", "after reconciling")
    except DemoError as error:
        console.print(f"[bold red]demo failed:[/bold red] {error}")
        return 1
    console.print()
    if story.failures:
        console.print(f"[bold red]✘ demo failed: {len(story.failures)} check(s) did not hold[/bold red]")
        for failure in story.failures:
            console.print(f"  - {failure}")
        return 1
    console.print(
        f"[bold green]✔ converged[/bold green]: {story.delivered} deliveries, every check held, plan is empty"
    )
    return 0
