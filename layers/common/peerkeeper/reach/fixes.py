"""The change a person could make for each blocking component, as a command they can run.

Pure: each function turns what blocks into an AWS CLI command (or ``peerkeeper apply`` when the fix is a
route peerkeeper's own planner would add). ``why`` itself never changes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peerkeeper.reach.model import ICMP, ICMPV6, MAIN_ACL_DEFAULT_RULE, TCP, UDP

if TYPE_CHECKING:
    from peerkeeper.reach.model import (
        AclEntry,
        Address,
        LoadBalancer,
        Network,
        NetworkAcl,
        Node,
        Peering,
        Route,
        RouteTable,
        Traffic,
    )
    from peerkeeper.reach.packets import Packet

CLI_PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "all": "-1"}


def _ipv6(cidr: str) -> bool:
    return ":" in cidr


def security_group(local: Node, egress: bool, traffic: Traffic, cidr: str) -> str:
    """Allow ``traffic`` to (egress) or from (ingress) ``cidr`` on the first group of ``local``."""
    group = local.group_ids[0] if local.group_ids else "SECURITY_GROUP_ID"
    region = f" --region {local.region}"
    if not egress and not _ipv6(cidr):  # the short form, as AWS's own examples write it
        port = {"icmp": " --port -1", "all": ""}.get(traffic.protocol, f" --port {_port(traffic)}")
        return (
            f"aws ec2 authorize-security-group-ingress --group-id {group} "
            f"--protocol {CLI_PROTOCOLS[traffic.protocol]}{port} --cidr {cidr}{region}"
        )
    verb = "egress" if egress else "ingress"
    ranges = f"Ipv6Ranges=[{{CidrIpv6={cidr}}}]" if _ipv6(cidr) else f"IpRanges=[{{CidrIp={cidr}}}]"
    protocol = traffic.number(6 if _ipv6(cidr) else 4)
    if protocol in (TCP, UDP):
        low, _, high = _port(traffic).partition("-")
        ports = f"FromPort={low},ToPort={high or low},"
    elif protocol in (ICMP, ICMPV6):
        ports = "FromPort=-1,ToPort=-1,"
    else:
        ports = ""
    return (
        f"aws ec2 authorize-security-group-{verb} --group-id {group} "
        f"--ip-permissions 'IpProtocol={protocol},{ports}{ranges}'{region}"
    )


def _port(traffic: Traffic) -> str:
    return str(traffic.port) if traffic.port is not None else "PORT"


def free_rule_number(acl: NetworkAcl, egress: bool, below: int | None) -> int | None:
    """A free rule number: just below the denying rule, else after the numbered rules."""
    used = {e.number for e in acl.entries if e.egress == egress}
    if below is not None:
        return next((n for n in range(below - 1, 0, -1) if n not in used), None)
    numbered = [n for n in used if n < MAIN_ACL_DEFAULT_RULE]
    start = (max(numbered, default=0) // 10 + 1) * 10
    return next((n for n in range(start, MAIN_ACL_DEFAULT_RULE) if n not in used), None)


def acl_entry(
    acl: NetworkAcl, egress: bool, denying: AclEntry | None, packet: Packet, cidr: str, *, region: str
) -> str:
    """An allow rule placed before the rule that denies (or replacing it when no number is free)."""
    number = free_rule_number(acl, egress, denying.number if denying is not None else None)
    verb = "create"
    if number is None and denying is not None:
        number, verb = denying.number, "replace"
    parts = [
        f"aws ec2 {verb}-network-acl-entry --network-acl-id {acl.id}",
        "--egress" if egress else "--ingress",
        f"--rule-number {number} --protocol {packet.protocol}",
    ]
    if packet.protocol in (TCP, UDP):
        low, high = packet.ports.ranges[0][0], packet.ports.ranges[-1][1]
        parts.append(f"--port-range From={low},To={high}")
    elif packet.protocol in (ICMP, ICMPV6):
        parts.append(f"--icmp-type-code Type={packet.icmp_type},Code=-1")
    parts.append(f"--ipv6-cidr-block {cidr}" if _ipv6(cidr) else f"--cidr-block {cidr}")
    parts.append(f"--rule-action allow --region {region}")
    return " ".join(parts)


def peerkeeper_apply(table: RouteTable, cidr: str, peering_id: str) -> str:
    return f"run `peerkeeper apply` (it routes {cidr} to {peering_id} in {table.id}, {table.region})"


def route(table: RouteTable, cidr: str, peering_id: str, *, replace: bool) -> str:
    key = "--destination-ipv6-cidr-block" if _ipv6(cidr) else "--destination-cidr-block"
    verb = "replace-route" if replace else "create-route"
    return (
        f"aws ec2 {verb} --route-table-id {table.id} {key} {cidr} "
        f"--vpc-peering-connection-id {peering_id} --region {table.region}"
    )


def delete_route(table: RouteTable, used: Route) -> str:
    key = "--destination-ipv6-cidr-block" if _ipv6(used.destination) else "--destination-cidr-block"
    if used.prefix_list:
        key = "--destination-prefix-list-id"
    return f"aws ec2 delete-route --route-table-id {table.id} {key} {used.destination} --region {table.region}"


def create_peering(net: Network, vpc_id: str, region: str, receiver: Node) -> str:
    command = f"aws ec2 create-vpc-peering-connection --vpc-id {vpc_id} --peer-vpc-id {receiver.vpc_id}"
    owner = net.vpcs[vpc_id].owner_id if vpc_id in net.vpcs else ""
    if receiver.owner_id and owner and receiver.owner_id != owner:
        command += f" --peer-owner-id {receiver.owner_id}"
    if receiver.region != region:
        command += f" --peer-region {receiver.region}"
    return f"{command} --region {region} (then `peerkeeper apply` routes it once it is accepted)"


def peering_state(peering: Peering) -> str:
    accepter = peering.accepter
    if peering.status == "pending-acceptance":
        return (
            f"aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id {peering.id} "
            f"--region {accepter.region} (as account {accepter.owner_id}; peerkeeper accepts it when the "
            "requester is on its allowlist)"
        )
    if peering.status in ("provisioning", "initiating-request"):
        return f"wait: {peering.id} is {peering.status} and becomes active on its own"
    requester = peering.requester
    command = (
        f"aws ec2 create-vpc-peering-connection --vpc-id {requester.vpc_id} --peer-vpc-id {accepter.vpc_id}"
        f" --region {requester.region}"
    )
    if accepter.region != requester.region:
        command += f" --peer-region {accepter.region}"
    if accepter.owner_id != requester.owner_id:
        command += f" --peer-owner-id {accepter.owner_id}"
    return f"{command} ({peering.id} is {peering.status}: a new connection is needed)"


def start_instance(node: Node) -> str:
    return f"aws ec2 start-instances --instance-ids {node.name} --region {node.region}"


def listener(lb: LoadBalancer, traffic: Traffic) -> str:
    """A listener on the asked port (its default action is the person's choice: a placeholder)."""
    port = _port(traffic)
    if lb.kind == "classic":
        protocol = "TCP" if traffic.protocol == "tcp" else "UDP"
        return (
            f"aws elb create-load-balancer-listeners --load-balancer-name {lb.name} --listeners "
            f"Protocol={protocol},LoadBalancerPort={port},InstanceProtocol={protocol},InstancePort={port} "
            f"--region {lb.region}"
        )
    protocol = "HTTP" if lb.kind == "application" else traffic.protocol.upper()
    return (
        f"aws elbv2 create-listener --load-balancer-arn {lb.arn or lb.name} --protocol {protocol} --port {port} "
        f"--default-actions Type=forward,TargetGroupArn=TARGET_GROUP_ARN --region {lb.region}"
    )


def internet_route(table: RouteTable, address: Address, gateway: str, *, replace: bool) -> str:
    """A route to the internet: through a NAT gateway (a private subnet) or an internet gateway."""
    cidr = "::/0" if address.version == 6 else "0.0.0.0/0"
    key = "--destination-ipv6-cidr-block" if address.version == 6 else "--destination-cidr-block"
    target = "--nat-gateway-id NAT_GATEWAY_ID" if gateway == "nat-" else "--gateway-id INTERNET_GATEWAY_ID"
    verb = "replace-route" if replace else "create-route"
    return f"aws ec2 {verb} --route-table-id {table.id} {key} {cidr} {target} --region {table.region}"


def public_address(node: Node) -> str:
    interface = node.interface or "NETWORK_INTERFACE_ID"
    return (
        f"aws ec2 associate-address --allocation-id ALLOCATION_ID --network-interface-id {interface} "
        f"--region {node.region} (or route 0.0.0.0/0 through a NAT gateway)"
    )
