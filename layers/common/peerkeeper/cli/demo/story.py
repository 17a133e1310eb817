"""The story: chapters of events delivered by the template's rules, and the checks on the world after each.

Part one is the seed lab exactly as written (one region, one stack, ``api.elb.lab.private=api-elb``):
peerkeeper does the seed's steps 1, 3, 4 and 5 from the events, a person does step 2, and the seed's
ping story follows. Part two goes beyond the seed lab, each chapter announced as such. Chapters are
numbered as they are told, so a chapter added in :func:`play` renumbers the ones after it.
"""

from __future__ import annotations

import copy
import os
import shlex
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peerkeeper.cli.demo.cloudtrail import (
    associate_cidr_event,
    associate_zone_event,
    change_record_event,
    create_hosted_zone_event,
    create_load_balancer_event,
    create_vpc_event,
    delete_load_balancer_event,
    echo_event,
    peering_request_event,
    route_event,
    scheduled_event,
)
from peerkeeper.cli.demo.emulator import Functions, LambdaContext, set_parameters, stack_in
from peerkeeper.cli.demo.lab import (
    ACCOUNT,
    LOG_GROUP,
    MAX_ECHO_DEPTH,
    OTHER_REGION,
    RECORD,
    REGION,
    ROLE_NAME,
    STRANGER,
    WEB_RECORD,
    ZONE_NAME,
    DemoError,
    Lab,
    Network,
    build_network,
    build_other_region,
    build_tagged_vpc,
    cname,
    create_load_balancer,
    flow_logs_as_seeded,
    peering_status,
    record_sets,
    route_targets,
    routed,
    stranger_clients,
    zone_vpcs,
)
from peerkeeper.cli.output import escape, render_answer, verdict
from peerkeeper.clients import Clients

if TYPE_CHECKING:
    from rich.console import Console

    from peerkeeper.cli.demo.rules import Rule, Stack
    from peerkeeper.fleet import Target
    from peerkeeper.intent.model import Intent
    from peerkeeper.intent.run import IntentResult


_FINDINGS = (("refused", "refused", "yellow"), ("conflicts", "conflict", "magenta"), ("problems", "problem", "red"))

_OUTCOME_MARKS = {"done": "[green]✓[/green]", "converged": "[green]=[/green]", "failed": "[red]✗[/red]"}

BEYOND = "Beyond the seed lab: "


def issuer(event: Mapping[str, Any]) -> str:
    """The ARN of the role whose session made the call ("" for a user, the root user, a service)."""
    context = event.get("detail", {}).get("userIdentity", {}).get("sessionContext", {})
    return str(context.get("sessionIssuer", {}).get("arn", ""))


def as_a_person(event: Mapping[str, Any]) -> dict[str, Any]:
    """The same call made by someone else: what the rules would do without their self-filter."""
    changed = copy.deepcopy(dict(event))
    changed["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        f"arn:aws:iam::{ACCOUNT}:role/NetworkAdmin"
    )
    return changed


@dataclass
class Story:
    console: Console
    stacks: dict[str, Stack]  # region -> the stack deployed there
    functions: Functions
    lab: Lab
    clients: Clients
    template: Mapping[str, Any]  # template.yaml, read once: deploying another stack resolves it again
    failures: list[str] = field(default_factory=list)
    delivered: int = 0
    chapters: int = 0

    def part(self, title: str, note: str) -> None:
        self.console.print()
        self.console.rule(f"[bold reverse] {title} [/bold reverse]", characters="═", align="left")
        self.note(note)

    def chapter(self, title: str) -> None:
        self.chapters += 1
        self.console.print()
        self.console.rule(f"[bold]{self.chapters}. {title}[/bold]", align="left")

    def note(self, text: str) -> None:
        self.console.print(f"  [dim]{text}[/dim]")

    def check(self, description: str, ok: bool) -> None:
        mark = "[green]✔[/green]" if ok else "[bold red]✘[/bold red]"
        self.console.print(f"  {mark} {description}")
        if not ok:
            self.failures.append(description)

    def rules(self, region: str) -> list[Rule]:
        stack = self.stacks.get(region)
        return stack.rules if stack is not None else []

    def own_function(self, arn: str) -> tuple[str, str] | None:
        """(function, region) when ``arn`` is the role of a function of a deployed stack."""
        for region, stack in self.stacks.items():
            for function, role in stack.roles.items():
                if role == arn:
                    return function, region
        return None

    def deliver(
        self, event: dict[str, Any], label: str = "", depth: int = 0, region: str = REGION
    ) -> list[dict[str, Any]]:
        """Route ``event`` by the rules of the stack in ``region``, invoke each target, play back its calls."""
        from peerkeeper.cli.demo.rules import rules_matching  # noqa: PLC0415  (moto's pattern matcher)

        indent = "  " + "    " * depth
        name = event.get("detail", {}).get("eventName") or event.get("detail-type", "")
        made_by = self.own_function(issuer(event))
        who = f"{made_by[0]} of the {made_by[1]} stack" if made_by else event.get("account", "")
        where = "" if region == REGION else f", [bold]to the {region} stack[/bold]"
        self.console.print(
            f"{indent}[bold cyan]▶ {name}[/bold cyan] {label} [dim]({event['source']}, {who}{where})[/dim]"
        )
        matched = rules_matching(event, self.rules(region))
        if not matched:
            self.console.print(f"{indent}  [dim]{self.unmatched(event, region)}[/dim]")
        summaries = []
        for rule in matched:
            self.delivered += 1
            self.console.print(f"{indent}  → rule [magenta]{rule.name}[/magenta] → [bold]{rule.function}[/bold]")
            summary = self.invoke(rule.function, event, indent, region)
            summaries.append(summary)
            self.echo(summary, depth, rule.function, region)
        return summaries

    def unmatched(self, event: dict[str, Any], region: str) -> str:
        """Why no rule of the stack in ``region`` delivers ``event``."""
        from peerkeeper.cli.demo.rules import rules_matching  # noqa: PLC0415

        role = issuer(event)
        if role in self.stacks[region].roles.values() and rules_matching(as_a_person(event), self.rules(region)):
            return f"⊘ the rules' self-filter drops it: {role.rsplit('/', 1)[-1]} is this stack's own role"
        return "no rule matches: nothing is invoked"

    def deliver_route53(self, event: dict[str, Any], label: str = "", depth: int = 0) -> list[dict[str, Any]]:
        """A Route 53 event: delivered in us-east-1, whose stack forwards it to the regions it lists."""
        from peerkeeper.cli.demo.rules import rules_matching  # noqa: PLC0415

        summaries = self.deliver(event, label, depth)
        home = self.stacks[REGION]
        if home.forward is None or not home.forwards_to:
            return summaries
        indent = "  " + "    " * depth
        if not rules_matching(event, [home.forward]):
            self.console.print(f"{indent}  [dim]not forwarded: {home.forward.name} has the same self-filter[/dim]")
            return summaries
        for region in home.forwards_to:
            forwarded = f"{label} [dim](forwarded by {home.forward.name})[/dim]"
            summaries += self.deliver(event, forwarded, depth, region=region)
        return summaries

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

    def echo(self, summary: Mapping[str, Any], depth: int, function: str, region: str) -> None:
        """Play back the CloudTrail events of peerkeeper's own calls, made as its stack's role.

        An event that no rule would deliver even for a person (CreateRoute, CreateFlowLogs) is left out.
        """
        from peerkeeper.cli.demo.rules import rules_matching  # noqa: PLC0415

        done = [a for a in summary.get("actions", []) if a.get("outcome") == "done"]
        if not done:
            return
        if depth >= MAX_ECHO_DEPTH:
            self.failures.append(f"peerkeeper's own calls keep triggering changes: {[a['kind'] for a in done]}")
            return
        role = self.stacks[region].roles[function]
        session = f"peerkeeper-{function.replace('_', '-')}"
        for action in done:
            event = echo_event(action, self.lab, self.clients, function=session, role_arn=role)
            if event is None:
                continue
            label = f"[dim]by peerkeeper: {action['resource']}[/dim]"
            if event["source"] == "aws.route53":
                self.deliver_route53(event, label, depth + 1)
                continue
            lands = str(event["region"])
            if lands in self.stacks and rules_matching(as_a_person(event), self.rules(lands)):
                self.deliver(event, label, depth + 1, region=lands)


# -- part one: the seed lab, as written ----------------------------------------------------------
def part_one(story: Story) -> None:
    story.part(
        "Part one: the seed lab, as written",
        f"one stack, in {REGION}; DNS_RECORDS={os.environ['DNS_RECORDS']}. peerkeeper does the seed's steps "
        "1, 3, 4 and 5 from the events; a person does step 2.",
    )


def chapter_flow_logs(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter(f"Seed step 1: flow logs on web-vpc and api-vpc (all traffic, {LOG_GROUP}, {ROLE_NAME})")
    for network in lab.networks:
        story.deliver(create_vpc_event(network), f"{network.name} {network.vpc}")
    for network in lab.networks:
        story.check(
            f"{network.name} has a flow log of all traffic to {LOG_GROUP} through {ROLE_NAME}",
            flow_logs_as_seeded(clients, lab, network.vpc),
        )


def chapter_private_zone(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter(f"Seed step 2, by hand: the private hosted zone {ZONE_NAME} in web-vpc")
    story.deliver(create_hosted_zone_event(lab.zone_id, ZONE_NAME, lab.web.vpc), f"{ZONE_NAME} ({lab.zone_id})")
    story.note("peerkeeper makes no zone: it keeps the records that DNS_RECORDS names in the zones people make")
    story.check(f"{ZONE_NAME} is a private zone of web-vpc only", zone_vpcs(clients, lab.zone_id) == {lab.web.vpc})


def chapter_cname(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter(f"Seed step 3: the CNAME {RECORD} → api-elb (simple routing, TTL 300)")
    story.note("the load balancers in front of the autoscaling groups are created; DNS_RECORDS names api-elb only")
    for name, network in (("web-elb", lab.web), ("api-elb", lab.api)):
        lb = lab.load_balancers[name]
        story.deliver(create_load_balancer_event(name, lb, network.subnets), f"{name} in {REGION}")
    api_dns = lab.load_balancers["api-elb"]["dns"]
    found = record_sets(clients, lab.zone_id, RECORD)
    simple = [
        r
        for r in found
        if r["Type"] == "CNAME"
        and r.get("TTL") == 300  # the seed's TTL
        and [v["Value"].rstrip(".") for v in r.get("ResourceRecords", [])] == [api_dns]
        and not {"SetIdentifier", "Weight", "Region", "Failover", "GeoLocation", "MultiValueAnswer"} & set(r)
    ]
    story.check(f"{RECORD} is one simple CNAME to api-elb ({api_dns}), TTL 300", len(found) == len(simple) == 1)
    story.check(
        f"no record for web-elb: {WEB_RECORD} is not in the seed", not record_sets(clients, lab.zone_id, WEB_RECORD)
    )


def chapter_peering(story: Story) -> str:
    lab, clients = story.lab, story.clients
    web, api = lab.web, lab.api
    story.chapter("Seed steps 4 and 5: api-vpc (requester) peers with web-vpc (accepter); the routes both ways")
    created = clients.ec2(REGION).create_vpc_peering_connection(VpcId=api.vpc, PeerVpcId=web.vpc)
    pcx = created["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    requester = {"owner": ACCOUNT, "vpc": api.vpc, "cidr": api.cidr}
    story.note("accepting a request brings both sides' routes in the same invocation")
    story.deliver(peering_request_event(pcx, requester, {"owner": ACCOUNT, "vpc": web.vpc}), pcx)
    story.check(f"{pcx} is active", peering_status(clients, pcx) == "active")
    story.check(f"every web-vpc table routes {api.cidr} to it", routed(clients, web, api.cidr, pcx))
    story.check(f"every api-vpc table routes {web.cidr} to it", routed(clients, api, web.cidr, pcx))
    return pcx


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
    story.chapter("The seed's ping: an instance in api pings one in web, and the ping fails")
    web, api, web_group = lab.tiers["web"].instance, lab.tiers["api"].instance, lab.tiers["web"].group
    story.note(f"{api} of api-asg pings {web} of web-asg")
    story.note(
        f"web-sg ({web_group}) admits HTTP from web-vpc (web-elb) and SSH from {lab.api.cidr}, "
        "no ICMP: the seed's mistake"
    )
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


# -- part two: beyond the seed lab ----------------------------------------------------------------
def part_two(story: Story) -> None:
    story.part(
        "Part two: beyond the seed lab",
        "what the seed does not ask for, each chapter announced as such: another region, drift, attacks, the sweep",
    )


def chapter_other_region(story: Story) -> None:
    """A second stack in eu-west-1, a second api-elb there, and Route 53 events forwarded to it."""
    from peerkeeper.cli.demo.rules import deploy  # noqa: PLC0415

    lab, clients = story.lab, story.clients
    story.chapter(f"{BEYOND}another region (a second stack in {OTHER_REGION}, Route 53 events forwarded)")
    records = f"{WEB_RECORD}=web-elb@{REGION},{RECORD}=api-elb@{OTHER_REGION}"
    story.note(
        f"the stack is deployed in {OTHER_REGION} too, and both stacks' DNS_RECORDS become {records} "
        f"(a parameter update: no event); the {REGION} stack forwards Route 53 events to {OTHER_REGION} "
        "(DnsEventRegions). A pair naming its region means the same load balancer to every stack."
    )
    set_parameters({"DNS_RECORDS": records})
    home = story.stacks[REGION]
    story.stacks[OTHER_REGION] = deploy(story.template, OTHER_REGION, ACCOUNT)
    story.stacks[REGION] = home.forwarding((OTHER_REGION,))
    remote = build_other_region(clients, lab)
    api_eu = lab.api_eu
    if api_eu is None:
        raise DemoError(f"api-eu-vpc was not built in {OTHER_REGION}")
    story.note(f"api-eu-vpc {api_eu.vpc} {api_eu.cidr} gets an internal ALB also named api-elb (names are per region)")
    story.note(f"logged in {OTHER_REGION}: its own stack hears it, the {REGION} stack does not")
    event = create_load_balancer_event("api-elb", remote, api_eu.subnets, OTHER_REGION)
    story.deliver(event, f"api-elb in {OTHER_REGION}", region=OTHER_REGION)
    story.note(f"by hand: {ZONE_NAME} is associated with api-eu-vpc too")
    clients.route53().associate_vpc_with_hosted_zone(
        HostedZoneId=lab.zone_id, VPC={"VPCRegion": OTHER_REGION, "VPCId": api_eu.vpc}
    )
    story.deliver_route53(associate_zone_event(lab.zone_id, api_eu.vpc, OTHER_REGION), f"{ZONE_NAME} + api-eu-vpc")
    web_dns = lab.load_balancers["web-elb"]["dns"]
    story.check(f"{WEB_RECORD} is a CNAME to web-elb ({web_dns})", cname(clients, lab.zone_id, WEB_RECORD) == web_dns)
    story.check(
        f"{RECORD} is a CNAME to api-elb in {OTHER_REGION} ({remote['dns']}), not to its {REGION} namesake",
        cname(clients, lab.zone_id) == remote["dns"] != lab.load_balancers["api-elb"]["dns"],
    )


def hand_edit(story: Story, record: str, value: str) -> list[dict[str, Any]]:
    """Someone UPSERTs ``record`` by hand; the event reaches us-east-1 and is forwarded from there."""
    change: Any = {
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": record, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": value}]},
    }
    zone = story.lab.zone_id
    story.clients.route53().change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [change]})
    return story.deliver_route53(change_record_event(zone, record, value, 60), f"{record} → {value}")


def chapter_dns_drift(story: Story) -> None:
    lab, clients = story.lab, story.clients
    story.chapter(f"{BEYOND}DNS drift (web-elb recreated, then both records edited by hand)")
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
    story.note(f"{RECORD} is pointed back at api-elb of {REGION}: the right name, the wrong region now")
    summaries = hand_edit(story, RECORD, namesake)
    story.check(f"{RECORD} is restored to api-elb in {OTHER_REGION} ({remote})", cname(clients, lab.zone_id) == remote)
    writes = [a for s in summaries for a in s.get("actions", []) if a.get("outcome") == "done"]
    story.check(f"the {REGION} and {OTHER_REGION} stacks agree: one write between them", len(writes) == 1)


def chapter_route_drift(story: Story, pcx: str) -> None:
    lab, clients = story.lab, story.clients
    story.chapter(f"{BEYOND}route drift (a route deleted by hand)")
    table, destination = lab.web.tables[1], lab.api.cidr
    clients.ec2(REGION).delete_route(RouteTableId=table, DestinationCidrBlock=destination)
    story.deliver(route_event("DeleteRoute", table, destination), f"{table} {destination}")
    story.check(f"{table} routes {destination} to {pcx} again", route_targets(clients, table).get(destination) == pcx)


def chapter_hijack(story: Story, pcx: str) -> None:
    """A compromised peer associates a public block, hoping every table will send it that traffic."""
    lab, clients = story.lab, story.clients
    public = "52.94.0.0/16"
    story.chapter(f"{BEYOND}the hijack (api-vpc's owner associates the public block {public})")
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


def chapter_prefix_list_guard(story: Story, pcx: str) -> None:
    """A table whose managed prefix list sends the corporate ranges to a transit gateway is left alone."""
    lab, clients = story.lab, story.clients
    ec2 = clients.ec2(REGION)
    corporate = "10.0.0.0/8"
    table, destination = lab.web.tables[1], lab.api.cidr
    story.chapter(f"{BEYOND}a table guarded by a prefix list (corporate ranges → a transit gateway)")
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName="corporate", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": corporate}]
    )["PrefixList"]["PrefixListId"]
    tgw = ec2.create_transit_gateway(Description="corporate firewall")["TransitGateway"]["TransitGatewayId"]
    ec2.create_route(RouteTableId=table, DestinationPrefixListId=prefix_list, TransitGatewayId=tgw)
    story.note(
        f"the network team routes the managed prefix list {prefix_list} ({corporate}) from web-vpc's subnet "
        f"table {table} to the transit gateway {tgw}, and deletes that table's {destination} route: "
        "api traffic is to go through the firewall"
    )
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock=destination)
    summaries = story.deliver(route_event("DeleteRoute", table, destination), f"{table} {destination}")
    conflicts = [f for s in summaries for f in s.get("conflicts", []) if f.get("destination") == destination]
    story.check(
        f"{table} is left without a {destination} route (the route drift chapter's repair does not happen)",
        destination not in route_targets(clients, table),
    )
    story.check(
        f"the conflict is reported for {table}, naming {prefix_list} and {tgw}",
        [(f["resource"], f.get("prefix_list"), f.get("target")) for f in conflicts] == [(table, prefix_list, tgw)],
    )
    story.check(
        f"web-vpc's main table still routes {destination} to {pcx}",
        route_targets(clients, lab.web.tables[0]).get(destination) == pcx,
    )
    story.check(
        f"every api-vpc table still routes {lab.web.cidr} to {pcx}", routed(clients, lab.api, lab.web.cidr, pcx)
    )


def chapter_stranger(story: Story, endpoint: str) -> str:
    lab, clients = story.lab, story.clients
    story.chapter(f"{BEYOND}the stranger (account {STRANGER}, not on the allowlist, asks to peer with web-vpc)")
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
    story.chapter(f"{BEYOND}the sweep (the {REGION} stack's schedule)")
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


INTENT_TAG = ("net", "shop")

# Three VPCs splitting 10.20.0.0/16 between them, and a fourth that reuses the whole /16.
INTENT_VPCS = (
    ("orders-vpc", "10.20.0.0/18"),
    ("billing-vpc", "10.20.64.0/18"),
    ("search-vpc", "10.20.128.0/18"),
    ("legacy-vpc", "10.20.0.0/16"),
)

NETWORK_FILE = f"""\
version: 1
networks:
  shop:
    topology: mesh                  # every pair of members is connected
    members: [{{tags: {{{INTENT_TAG[0]}: {INTENT_TAG[1]}}}}}]
    dns: true                       # AllowDnsResolutionFromRemoteVpc on both sides
"""


def show_intent(story: Story, doc: Mapping[str, Any], names: Mapping[str, str], *, each_action: bool) -> None:
    """``intent plan`` / ``intent apply``'s lines, shortened: the pairs (a plan) or each action (apply),
    the findings no pair already names, then the counts."""
    if not each_action:
        for edge in doc["edges"]:
            vpcs = " ↔ ".join(names.get(v["vpc"], v["vpc"]) for v in edge["vpcs"])
            via = f" via {edge['connection']}" if edge["connection"] else ""
            code = f" [bold red]{edge['code']}[/bold red]: {escape(edge.get('reason', ''))}" if edge.get("code") else ""
            story.console.print(f"    {edge['state']:10} {escape(edge['network'])}: {vpcs}{via}{code}", soft_wrap=True)
    kinds = Counter(action["kind"] for action in doc["actions"])
    if doc["actions"] and not each_action:
        story.console.print(f"    would do: {', '.join(f'{n} {kind}' for kind, n in kinds.items())}")
    for action in doc["actions"] if each_action else ():
        mark = _OUTCOME_MARKS.get(action.get("outcome", ""), "•")
        story.console.print(
            f"    {mark} {action['kind']} [bold]{action['resource']}[/bold]: {escape(action['reason'])}", soft_wrap=True
        )
    on_edges = {(edge.get("code"), edge.get("reason")) for edge in doc["edges"]}
    for finding in doc["findings"]:
        if (finding["code"], finding["reason"]) not in on_edges:
            story.console.print(
                f"    [magenta]{finding['code']}[/magenta] {escape(str(finding['reason']))}", soft_wrap=True
            )
    counts = doc["counts"]
    states = ", ".join(f"{counts[state]} {state}" for state in ("in-sync", "pending", "missing", "infeasible"))
    story.console.print(
        f"    [bold]{doc['command']}[/bold]: {counts['edges']} pairs ({states}), {counts['actions']} action(s), "
        f"{counts['findings']} finding(s), {counts['errors']} error(s)"
    )


def chapter_intent(story: Story, endpoint: str, directory: Path) -> None:
    """``peerkeeper intent``: three VPCs tagged into a mesh, an overlapping fourth refused, apply, plan in sync."""
    from peerkeeper.fleet import Target  # noqa: PLC0415
    from peerkeeper.intent import spec  # noqa: PLC0415
    from peerkeeper.intent.run import apply_intent, plan_intent  # noqa: PLC0415
    from peerkeeper.settings import Settings  # noqa: PLC0415

    lab, clients = story.lab, story.clients
    ec2 = clients.ec2(REGION)
    key, value = INTENT_TAG
    story.chapter(f"{BEYOND}intent (a network declared in a file: three VPCs in a mesh, one refused)")
    story.note(f"four VPCs are created tagged {key}={value}; legacy-vpc reuses the whole 10.20.0.0/16 of the others")
    built = [build_tagged_vpc(ec2, name, cidr, {key: value}) for name, cidr in INTENT_VPCS]
    names = {network.vpc: network.name for network in built}
    for network in built:
        story.deliver(create_vpc_event(network), f"{network.name} {network.vpc} {network.cidr}")
    path = directory / "shop.yaml"
    path.write_text(NETWORK_FILE, encoding="utf-8")
    story.console.print(f"  [bold]{path}[/bold]")
    for line in NETWORK_FILE.splitlines():
        story.console.print(f"    [dim]{escape(line)}[/dim]", soft_wrap=True)
    intent = spec.load(path)
    target = Target(Clients(endpoint_url=endpoint), ACCOUNT, (Settings.from_env(os.environ),))
    command = f"{path.name} --region {REGION}"
    story.console.print(f"  [bold]$ peerkeeper intent plan {command}[/bold]")
    show_intent(story, plan_intent(intent, [target]).document(), names, each_action=False)
    story.console.print(f"  [bold]$ peerkeeper intent apply {command}[/bold]")
    applied = apply_intent(intent, [target])
    show_intent(story, applied.document(), names, each_action=True)
    story.note(
        "intent apply's calls are logged like anyone's: its AcceptVpcPeeringConnection events reach "
        "repair_routes (its CreateVpcPeeringConnection events, to accept_peering, are left out here)"
    )
    for action in applied.actions:
        if action["kind"] == "accept-peering" and action.get("outcome") == "done":
            event = echo_event(action, lab, clients, function="alice", role_arn="")
            if event is not None:
                story.deliver(event, f"{action['resource']} [dim]by intent apply[/dim]")
    story.console.print(f"  [bold]$ peerkeeper intent plan {command}[/bold]")
    again = plan_intent(intent, [target])
    show_intent(story, again.document(), names, each_action=False)
    check_intent(story, built, applied, again)
    intent_picture(story, target, intent, path.name)


def check_intent(story: Story, built: list[Network], applied: IntentResult, again: IntentResult) -> None:
    """The mesh built in one apply, the second plan in sync, legacy-vpc refused, routes and flow logs."""
    lab, clients = story.lab, story.clients
    final = again.document()
    members, legacy = built[:3], built[3]
    legacy_pairs = [e for e in final["edges"] if legacy.vpc in {v["vpc"] for v in e["vpcs"]}]
    mesh_pairs = [e for e in final["edges"] if e not in legacy_pairs]
    connections = {e["connection"] for e in mesh_pairs}
    story.check(
        "apply built the mesh in one run, without error",
        applied.exit_code() == 0 and not applied.all_errors and len(applied.actions) > 0,
    )
    story.check(
        "the second plan: the three pairs in sync, over three connections, nothing to do",
        [e["state"] for e in mesh_pairs] == ["in-sync"] * 3
        and len(connections - {None, ""}) == 3
        and not final["actions"],
    )
    story.check(
        "legacy-vpc's three pairs are refused with CIDR_OVERLAP, and nothing was requested for them",
        [(e["state"], e["code"]) for e in legacy_pairs] == [("infeasible", "CIDR_OVERLAP")] * 3
        and not any(e["connection"] for e in legacy_pairs),
    )
    for network in members:
        peers = [other for other in members if other is not network]
        story.check(
            f"{network.name}'s table routes {' and '.join(p.cidr for p in peers)} to the mesh's connections",
            all(route_targets(clients, network.tables[0]).get(p.cidr) in connections for p in peers),
        )
    story.check(
        f"every new VPC has the seed's flow log ({LOG_GROUP})",
        all(flow_logs_as_seeded(clients, lab, network.vpc) for network in built),
    )


def intent_picture(story: Story, target: Target, intent: Intent, file_name: str) -> None:
    """``peerkeeper graph --intent FILE --output demo-intent.html``: the lab with the intent drawn."""
    from peerkeeper import graph  # noqa: PLC0415  (only this chapter draws the intent)
    from peerkeeper.cli.run import run  # noqa: PLC0415
    from peerkeeper.fleet import dry_run  # noqa: PLC0415
    from peerkeeper.intent.run import plan_intent  # noqa: PLC0415

    seen = run(dry_run(target), "graph")
    observed = graph.observed(seen.account_id, seen.reports, seen.inventories)
    drawing = graph.intent_overlay(graph.picture(observed, errors=seen.errors), plan_intent(intent, [target]).final)
    picture = Path.cwd() / "demo-intent.html"
    graph.write_atomically(picture, graph.render(drawing, "html"))
    story.console.print(
        f"  [bold]$ peerkeeper graph --intent {file_name} --output {picture.name}[/bold]: {picture} "
        "[dim](legacy-vpc's refused pairs dotted, labelled CIDR_OVERLAP; open it in a browser)[/dim]"
    )


def play(story: Story, endpoint: str) -> None:
    """The seed lab as written, then the chapters beyond it (the final plan is the runner's)."""
    part_one(story)
    chapter_flow_logs(story)
    chapter_private_zone(story)
    chapter_cname(story)
    pcx = chapter_peering(story)
    chapter_ping(story)
    part_two(story)
    chapter_other_region(story)
    chapter_dns_drift(story)
    chapter_route_drift(story, pcx)
    chapter_hijack(story, pcx)
    chapter_prefix_list_guard(story, pcx)
    stranger_pcx = chapter_stranger(story, endpoint)
    chapter_sweep(story, stranger_pcx)
    with tempfile.TemporaryDirectory(prefix="peerkeeper-demo-") as directory:
        chapter_intent(story, endpoint, Path(directory))
