"""The story: chapters of events delivered by the template's rules, and the checks on the world after each."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from peerkeeper.cli.demo.cloudtrail import (
    associate_cidr_event,
    change_record_event,
    create_load_balancer_event,
    create_vpc_event,
    delete_load_balancer_event,
    echo_event,
    peering_request_event,
    route_event,
    scheduled_event,
)
from peerkeeper.cli.demo.emulator import Functions, LambdaContext, stack_in
from peerkeeper.cli.demo.lab import (
    ACCOUNT,
    MAX_ECHO_DEPTH,
    OTHER_REGION,
    RECORD,
    REGION,
    STRANGER,
    WEB_RECORD,
    DemoError,
    Lab,
    Network,
    build_network,
    cname,
    create_load_balancer,
    flow_logged,
    peering_status,
    route_targets,
    routed,
    stranger_clients,
)
from peerkeeper.cli.output import escape, render_answer, verdict
from peerkeeper.clients import Clients

if TYPE_CHECKING:
    from rich.console import Console

    from peerkeeper.cli.demo.rules import Rule


_FINDINGS = (("refused", "refused", "yellow"), ("conflicts", "conflict", "magenta"), ("problems", "problem", "red"))

_OUTCOME_MARKS = {"done": "[green]✓[/green]", "converged": "[green]=[/green]", "failed": "[red]✗[/red]"}


@dataclass
class Story:
    console: Console
    rules: list[Rule]
    functions: Functions
    lab: Lab
    clients: Clients
    failures: list[str] = field(default_factory=list)
    delivered: int = 0

    def chapter(self, title: str) -> None:
        self.console.print()
        self.console.rule(f"[bold]{title}[/bold]", align="left")

    def note(self, text: str) -> None:
        self.console.print(f"  [dim]{text}[/dim]")

    def check(self, description: str, ok: bool) -> None:
        mark = "[green]✔[/green]" if ok else "[bold red]✘[/bold red]"
        self.console.print(f"  {mark} {description}")
        if not ok:
            self.failures.append(description)

    def deliver(
        self, event: dict[str, Any], label: str = "", depth: int = 0, region: str = REGION
    ) -> list[dict[str, Any]]:
        """Route ``event`` by the template's rules, invoke each target, play back peerkeeper's own calls.

        ``region`` is the stack that receives it: this one, or the one in OTHER_REGION.
        """
        from peerkeeper.cli.demo.rules import rules_matching  # noqa: PLC0415  (moto's pattern matcher)

        indent = "  " + "    " * depth
        name = event.get("detail", {}).get("eventName") or event.get("detail-type", "")
        who = "peerkeeper" if depth else event.get("account", "")
        where = "" if region == REGION else f", [bold]to the {region} stack[/bold]"
        self.console.print(
            f"{indent}[bold cyan]▶ {name}[/bold cyan] {label} [dim]({event['source']}, {who}{where})[/dim]"
        )
        matched = rules_matching(event, self.rules)
        if not matched:
            self.console.print(f"{indent}  [dim]no rule matches: nothing is invoked[/dim]")
        summaries = []
        for rule in matched:
            self.delivered += 1
            self.console.print(f"{indent}  → rule [magenta]{rule.name}[/magenta] → [bold]{rule.function}[/bold]")
            summary = self.invoke(rule.function, event, indent, region)
            summaries.append(summary)
            self.echo(summary, depth)
        return summaries

    def deliver_everywhere(self, event: dict[str, Any], label: str = "", depth: int = 0) -> list[dict[str, Any]]:
        """A Route 53 event: delivered in us-east-1, whose stack forwards it to the other region's bus."""
        summaries = self.deliver(event, label, depth)
        forwarded = f"{label} [dim](forwarded from {REGION})[/dim]"
        return summaries + self.deliver(event, forwarded, depth, region=OTHER_REGION)

    def invoke(self, function: str, event: dict[str, Any], indent: str, region: str = REGION) -> dict[str, Any]:
        from peerkeeper.reconcile import ReconcileError  # noqa: PLC0415

        context = LambdaContext(f"peerkeeper-{function.replace('_', '-')}", region=region)
        try:
            with stack_in(region):
                summary = self.functions[function](event, context)
        except ReconcileError as error:
            self.console.print(f"{indent}    [red]✗ raised (EventBridge would retry): {error}[/red]")
            self.failures.append(f"{function} raised: {error}")
            return {"actions": []}
        self.show(summary, indent + "    ")
        return summary

    def show(self, summary: Mapping[str, Any], indent: str) -> None:
        for action in summary.get("actions", []):
            mark = _OUTCOME_MARKS.get(action.get("outcome", ""), "•")
            where = "" if action["resource"] in action["reason"] else f" [bold]{action['resource']}[/bold]:"
            error = f" [red]{action['error']}[/red]" if action.get("error") else ""
            self.console.print(f"{indent}{mark} {action['kind']}{where} {action['reason']}{error}")
        for key, label, style in _FINDINGS:
            for finding in summary.get(key, []):
                where = f"{finding['resource']}: " if finding["resource"] not in finding["reason"] else ""
                self.console.print(f"{indent}[{style}]⊘ {label}[/{style}] {where}{finding['reason']}")
        if not any(summary.get(key) for key in ("actions", "refused", "conflicts", "problems")):
            reason = summary.get("ignored") or "in sync"
            self.console.print(f"{indent}[dim]· no action ({reason})[/dim]")

    def echo(self, summary: Mapping[str, Any], depth: int) -> None:
        """Play back the events of peerkeeper's own calls that a rule would deliver."""
        from peerkeeper.cli.demo.rules import rules_matching  # noqa: PLC0415

        done = [a for a in summary.get("actions", []) if a.get("outcome") == "done"]
        if not done:
            return
        if depth >= MAX_ECHO_DEPTH:
            self.failures.append(f"peerkeeper's own calls keep triggering changes: {[a['kind'] for a in done]}")
            return
        for action in done:
            event = echo_event(action, self.lab, self.clients)
            if event is None or not rules_matching(event, self.rules):
                continue
            label = f"[dim]by peerkeeper: {action['resource']}[/dim]"
            if event["source"] == "aws.route53":
                self.deliver_everywhere(event, label, depth + 1)
            else:
                self.deliver(event, label, depth + 1)


def chapter_vpcs(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter("1. The VPCs are created")
    for network in lab.networks:
        story.deliver(create_vpc_event(network), f"{network.name} {network.vpc}")
    story.check("every VPC delivers flow logs to flow-logs-group", flow_logged(clients) >= {lab.web.vpc, lab.api.vpc})


def chapter_load_balancers(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter(f"2. The load balancers are created: web-elb here, api-elb here and in {OTHER_REGION}")
    story.note(f"DNS_RECORDS={os.environ['DNS_RECORDS']}, the same in the {REGION} and {OTHER_REGION} stacks")
    remote, api_eu = lab.load_balancers[f"api-elb@{OTHER_REGION}"], lab.api_eu
    if api_eu is not None:
        event = create_load_balancer_event("api-elb", remote, api_eu.subnets, OTHER_REGION)
        story.note(f"logged in {OTHER_REGION}: its own stack hears it, the {REGION} stack does not")
        story.deliver(event, f"api-elb in {OTHER_REGION}", region=OTHER_REGION)
    for name, network in (("web-elb", lab.web), ("api-elb", lab.api)):
        story.deliver(
            create_load_balancer_event(name, lab.load_balancers[name], network.subnets), f"{name} in {REGION}"
        )
    web_dns = lab.load_balancers["web-elb"]["dns"]
    story.check(f"{WEB_RECORD} is a CNAME to web-elb ({web_dns})", cname(clients, lab.zone_id, WEB_RECORD) == web_dns)
    story.check(
        f"{RECORD} is a CNAME to api-elb in {OTHER_REGION} ({remote['dns']}), not to its {REGION} namesake",
        cname(clients, lab.zone_id) == remote["dns"] != lab.load_balancers["api-elb"]["dns"],
    )


def chapter_peering(story: Story) -> str:
    lab, clients = story.lab, story.clients
    web, api = lab.web, lab.api
    story.chapter("3. api-vpc asks to peer with web-vpc")
    created = clients.ec2(REGION).create_vpc_peering_connection(VpcId=api.vpc, PeerVpcId=web.vpc)
    pcx = created["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    requester = {"owner": ACCOUNT, "vpc": api.vpc, "cidr": api.cidr}
    story.deliver(peering_request_event(pcx, requester, {"owner": ACCOUNT, "vpc": web.vpc}), pcx)
    story.check(f"{pcx} is active", peering_status(clients, pcx) == "active")
    story.check(f"every web-vpc table routes {api.cidr} to it", routed(clients, web, api.cidr, pcx))
    story.check(f"every api-vpc table routes {web.cidr} to it", routed(clients, api, web.cidr, pcx))
    return pcx


def launch(ec2: Any, network: Network, name: str, ingress: list[dict[str, Any]]) -> tuple[str, str]:
    """An instance in the network's first subnet with its own security group; (instance id, group id)."""
    group = ec2.create_security_group(GroupName=name, Description=f"{name} (demo)", VpcId=network.vpc)["GroupId"]
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=ingress)
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=network.subnets[0], SecurityGroupIds=[group]
    )["Instances"][0]
    return str(instance["InstanceId"]), str(group)


def run_fix(clients: Clients, fix: str) -> None:
    """Carry out an ``aws ec2 authorize-security-group-ingress`` fix as the AWS CLI would (no CLI here)."""
    words = shlex.split(fix)
    if words[:3] != ["aws", "ec2", "authorize-security-group-ingress"]:
        raise DemoError(f"the demo only carries out security group fixes, not {fix!r}")
    options = dict(zip(words[3::2], words[4::2], strict=True))
    low, _, high = options["--port"].lstrip("-").partition("-")
    ports = (-1, -1) if options["--port"] == "-1" else (int(low), int(high or low))
    clients.ec2(options.get("--region", REGION)).authorize_security_group_ingress(
        GroupId=options["--group-id"],
        IpProtocol=options["--protocol"],
        FromPort=ports[0],
        ToPort=ports[1],
        CidrIp=options["--cidr"],
    )


def chapter_ping(story: Story) -> None:
    """The seed's troubleshooting: peering active, routes right both ways, and still no ping."""
    from peerkeeper.reach import command  # noqa: PLC0415  (only this chapter)

    lab, clients = story.lab, story.clients
    story.chapter("3b. An instance in each VPC: api pings web, and the ping fails")
    ec2 = clients.ec2(REGION)
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": lab.api.cidr}]}
    web, web_group = launch(ec2, lab.web, "web-sg", [ssh])
    api, _ = launch(ec2, lab.api, "api-sg", [])
    story.note(f"web-sg ({web_group}) allows SSH from {lab.api.cidr} and nothing else: the seed's mistake")
    story.console.print(f"  [bold]$ peerkeeper why {api} {web} --protocol icmp[/bold]")
    ping = command.traffic_of("icmp", None)
    answer = command.why(clients, [REGION], api, web, ping)
    render_answer(story.console, answer)
    found = [(e.code, e.direction, e.component) for e in answer.explanations]
    story.check(
        f"why blames web-sg's ingress, and only it ({answer.reads.total()} reads, no change)",
        found == [("ENI_SG_RULES_MISMATCH", "forward", web_group)] and not answer.reachable,
    )
    fix = answer.fixes[0]
    story.console.print(f"  [bold]$ {escape(fix)}[/bold]", soft_wrap=True)
    run_fix(clients, fix)
    story.console.print(f"  [bold]$ peerkeeper why {api} {web} --protocol icmp[/bold]")
    answer = command.why(clients, [REGION], api, web, ping)
    verdict(story.console, answer)
    story.check("why says reachable: the ping gets there and back", answer.reachable)
    ssh_answer = command.why(clients, [REGION], api, web, command.traffic_of("tcp", "22"))
    story.check(f"SSH from {api} to {web} was never in question", ssh_answer.reachable)


def hand_edit(story: Story, record: str, value: str) -> list[dict[str, Any]]:
    """Someone UPSERTs ``record`` by hand; the event reaches us-east-1 and is forwarded from there."""
    change: Any = {
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": record, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": value}]},
    }
    zone = story.lab.zone_id
    story.clients.route53().change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [change]})
    return story.deliver_everywhere(change_record_event(zone, record, value, 60), f"{record} → {value}")


def chapter_dns_drift(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter("4. DNS: web-elb is recreated, then both records are edited by hand")
    old = lab.load_balancers["web-elb"]
    clients.elbv2(REGION).delete_load_balancer(LoadBalancerArn=old["arn"])
    story.deliver(delete_load_balancer_event(old), "web-elb")
    story.check(
        "the record is left as it was while web-elb is gone", cname(clients, lab.zone_id, WEB_RECORD) == old["dns"]
    )
    new = lab.load_balancers["web-elb"] = create_load_balancer(clients, "web-elb", lab.web.subnets)
    story.note("moto gives a recreated load balancer the same DNS name; in AWS it changes and sync_dns upserts it")
    story.deliver(create_load_balancer_event("web-elb", new, lab.web.subnets), "web-elb")
    story.check(f"{WEB_RECORD} points at the new web-elb", cname(clients, lab.zone_id, WEB_RECORD) == new["dns"])
    hand_edit(story, WEB_RECORD, "old-web.example.com")
    story.check(f"{WEB_RECORD} is restored to {new['dns']}", cname(clients, lab.zone_id, WEB_RECORD) == new["dns"])
    namesake, remote = lab.load_balancers["api-elb"]["dns"], lab.load_balancers[f"api-elb@{OTHER_REGION}"]["dns"]
    story.note(f"{RECORD} is pointed at api-elb of {REGION}: the right name, the wrong region")
    summaries = hand_edit(story, RECORD, namesake)
    story.check(f"{RECORD} is restored to api-elb in {OTHER_REGION} ({remote})", cname(clients, lab.zone_id) == remote)
    writes = [a for s in summaries for a in s.get("actions", []) if a.get("outcome") == "done"]
    story.check(f"the {REGION} and {OTHER_REGION} stacks agree: one write between them", len(writes) == 1)


def chapter_route_drift(story: Story, pcx: str) -> None:
    lab, clients = story.lab, story.clients
    story.chapter("5. Someone deletes a route by hand")
    table, destination = lab.web.tables[1], lab.api.cidr
    clients.ec2(REGION).delete_route(RouteTableId=table, DestinationCidrBlock=destination)
    story.deliver(route_event("DeleteRoute", table, destination), f"{table} {destination}")
    story.check(f"{table} routes {destination} to {pcx} again", route_targets(clients, table).get(destination) == pcx)


def chapter_hijack(story: Story, pcx: str) -> None:
    """A compromised peer associates a public block, hoping every table will send it that traffic."""
    lab, clients = story.lab, story.clients
    public = "52.94.0.0/16"
    story.chapter(f"6. api-vpc's owner associates the public block {public} (a hijack attempt)")
    clients.ec2(REGION).associate_vpc_cidr_block(VpcId=lab.api.vpc, CidrBlock=public)
    story.note("AWS allows publicly routable secondary blocks; ALLOWED_PEER_CIDRS says which a peer may announce")
    summaries = story.deliver(associate_cidr_event(lab.api.vpc, public), f"{lab.api.vpc} {public}")
    reported = {f["resource"] for s in summaries for f in s.get("conflicts", []) if f.get("destination") == public}
    story.check(
        f"no web-vpc table routes {public}",
        all(public not in route_targets(clients, table) for table in lab.web.tables),
    )
    story.check(
        f"the refusal is reported as a conflict for each web-vpc table ({len(reported)})",
        reported == set(lab.web.tables),
    )
    story.check(
        f"every web-vpc table still routes {lab.api.cidr} to {pcx}", routed(clients, lab.web, lab.api.cidr, pcx)
    )


def chapter_stranger(story: Story, endpoint: str) -> str:
    lab, clients = story.lab, story.clients
    story.chapter(f"7. Account {STRANGER} (not on the allowlist) asks to peer with web-vpc")
    stranger = stranger_clients(clients, endpoint).ec2(REGION)
    vpc = build_network(stranger, "stranger-vpc", "10.2.0.0/16")
    created = stranger.create_vpc_peering_connection(VpcId=vpc.vpc, PeerVpcId=lab.web.vpc, PeerOwnerId=ACCOUNT)
    pcx = created["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    story.note(f"in AWS this event stays in account {STRANGER}; here it is forwarded to this account's bus")
    requester = {"owner": STRANGER, "vpc": vpc.vpc, "cidr": vpc.cidr}
    event = peering_request_event(pcx, requester, {"owner": ACCOUNT, "vpc": lab.web.vpc}, account=STRANGER)
    story.deliver(event, pcx)
    story.check(f"{pcx} is refused and left pending", peering_status(clients, pcx) == "pending-acceptance")
    return pcx


def chapter_sweep(story: Story, stranger_pcx: str) -> None:
    lab, clients = story.lab, story.clients
    story.chapter("8. The scheduled sweep")
    summaries = story.deliver(scheduled_event(), "rate(15 minutes)")
    refused = {f["resource"] for s in summaries for f in s.get("refused", [])}
    changed = {(a["kind"], a["resource"]) for s in summaries for a in s.get("actions", [])}
    default = clients.ec2(REGION).describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    default_vpc = default[0]["VpcId"] if default else ""
    story.check("the sweep is delivered", bool(summaries))
    story.check(f"the sweep finds {stranger_pcx} and still refuses it", stranger_pcx in refused)
    story.check(
        f"the sweep gives the default VPC {default_vpc}, which no event announced, its flow log",
        not default_vpc or ("create-flow-logs", default_vpc) in changed,
    )
    story.check("the sweep has nothing else to do", changed <= {("create-flow-logs", default_vpc)})
    story.check(f"{stranger_pcx} is still pending", peering_status(clients, stranger_pcx) == "pending-acceptance")
    tables = [table for network in lab.networks for table in network.tables]
    story.check(
        "no route to the stranger's 10.2.0.0/16", all("10.2.0.0/16" not in route_targets(clients, t) for t in tables)
    )


def play(story: Story, endpoint: str) -> None:
    chapter_vpcs(story)
    chapter_load_balancers(story)
    pcx = chapter_peering(story)
    chapter_ping(story)
    chapter_dns_drift(story)
    chapter_route_drift(story, pcx)
    chapter_hijack(story, pcx)
    stranger_pcx = chapter_stranger(story, endpoint)
    chapter_sweep(story, stranger_pcx)
