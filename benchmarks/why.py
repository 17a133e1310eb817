"""``python -m benchmarks.why [--runs N] [--noise N] [--out FILE]``: what one ``peerkeeper why`` costs.

For each question of a small lab (with ``--noise`` unrelated VPCs beside it, each with an instance, so
that filtered reads have something to filter out):

- the reads ``why`` makes, by operation (recorded in-process through botocore's
  ``before-parameter-build`` hook, with their exact parameters, page by page);
- the wall time of ``peerkeeper why ... --json`` as a fresh process, as a person runs it, against a
  floor: a fresh process that imports boto3 only and makes exactly the same requests (the recorded
  ones, replayed by :mod:`benchmarks.why_floor`). Subject and floor alternate; medians of ``--runs``.

Everything runs against moto's server in its own process (:mod:`benchmarks.emulator`). Writes
``benchmarks/results/why.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from benchmarks.emulator import REGION, Emulator, child_env, running

ROOT = Path(__file__).resolve().parent.parent
OTHER_REGION = "eu-west-1"
ZONE = "elb.lab.private"


@dataclass
class Lab:
    instances: dict[str, str] = field(default_factory=dict)  # name -> instance id
    ips: dict[str, str] = field(default_factory=dict)
    enis: dict[str, str] = field(default_factory=dict)


def _network(emu: Emulator, lab: Lab, name: str, cidr: str, *, region: str, ingress: list[dict[str, Any]]) -> str:
    ec2 = emu.client("ec2", region)
    prefix = cidr.rsplit(".", 2)[0]
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.1.0/24", AvailabilityZone=f"{region}a")["Subnet"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet["SubnetId"])
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description=name, VpcId=vpc)["GroupId"]
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=ingress)
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"], SecurityGroupIds=[group]
    )["Instances"][0]
    lab.instances[name] = instance["InstanceId"]
    lab.ips[name] = instance["PrivateIpAddress"]
    lab.enis[name] = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    return str(vpc)


def _peer(emu: Emulator, one: str, other: str, regions: tuple[str, str], cidrs: tuple[str, str]) -> None:
    ec2 = emu.client("ec2", regions[0])
    extra = {"PeerRegion": regions[1]} if regions[1] != regions[0] else {}
    pcx = ec2.create_vpc_peering_connection(VpcId=one, PeerVpcId=other, **extra)["VpcPeeringConnection"]
    pcx_id = pcx["VpcPeeringConnectionId"]
    emu.client("ec2", regions[1]).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
    for vpc, region, destination in ((one, regions[0], cidrs[1]), (other, regions[1], cidrs[0])):
        client = emu.client("ec2", region)
        for table in client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]:
            client.create_route(
                RouteTableId=table["RouteTableId"], DestinationCidrBlock=destination, VpcPeeringConnectionId=pcx_id
            )


def build(emu: Emulator, noise: int) -> Lab:
    """The seed lab (SSH allowed, ping not), an internal ALB behind a private name, a cross-region peer."""
    lab = Lab()
    ssh = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]
    https = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]
    api = _network(emu, lab, "api", "10.1.0.0/16", region=REGION, ingress=[])
    web = _network(emu, lab, "web", "10.0.0.0/16", region=REGION, ingress=ssh)
    far = _network(emu, lab, "far", "10.2.0.0/16", region=OTHER_REGION, ingress=ssh)
    _peer(emu, api, web, (REGION, REGION), ("10.1.0.0/16", "10.0.0.0/16"))
    _peer(emu, api, far, (REGION, OTHER_REGION), ("10.1.0.0/16", "10.2.0.0/16"))
    ec2 = emu.client("ec2")
    subnets = [
        ec2.create_subnet(VpcId=web, CidrBlock=f"10.0.{10 + i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    group = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=web)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=https)
    elbv2 = emu.client("elbv2")
    lb = elbv2.create_load_balancer(
        Name="api-elb", Subnets=subnets, SecurityGroups=[group], Scheme="internal", Type="application"
    )["LoadBalancers"][0]
    target_group = elbv2.create_target_group(Name="api", Protocol="HTTP", Port=8080, VpcId=web)["TargetGroups"][0]
    forward = [{"Type": "forward", "TargetGroupArn": target_group["TargetGroupArn"]}]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=443, DefaultActions=forward)
    route53 = emu.client("route53")
    zone = route53.create_hosted_zone(
        Name=ZONE,
        CallerReference=f"bench-{time.time()}",
        VPC={"VPCRegion": REGION, "VPCId": api},
        HostedZoneConfig={"Comment": "", "PrivateZone": True},
    )["HostedZone"]["Id"]
    record = {"Name": f"api.{ZONE}", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": lb["DNSName"]}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )
    for index in range(noise):
        _network(emu, lab, f"noise{index}", f"10.{100 + index}.0.0/16", region=REGION, ingress=ssh)
    return lab


def questions(lab: Lab) -> list[tuple[str, list[str]]]:
    same = ["--region", REGION]
    api = lab.instances["api"]
    return [
        ("seed ping, instance → instance (icmp)", [api, lab.instances["web"], "--protocol", "icmp", *same]),
        ("SSH, IP → interface (tcp 22)", [lab.ips["api"], lab.enis["web"], "--port", "22", *same]),
        (f"private name → internal ALB (api.{ZONE}, tcp 443)", [api, f"api.{ZONE}", "--port", "443", *same]),
        (
            f"cross-region, {REGION} → {OTHER_REGION} (tcp 22)",
            [api, lab.instances["far"], "--port", "22", *same, "--region", OTHER_REGION],
        ),
    ]


def record(emu: Emulator, argv: list[str]) -> tuple[list[list[Any]], dict[str, Any]]:
    """The answer and every request ``why`` makes for it: [service, region, operation, params]."""
    from peerkeeper.cli import app
    from peerkeeper.clients import Clients
    from peerkeeper.reach import command

    calls: list[list[Any]] = []

    class Recording(Clients):
        def _client(self, service: str, region: str) -> Any:
            client = super()._client(service, region)
            if not getattr(client, "_bench_recorded", False):

                def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
                    calls.append([service, region, model.name, json.loads(json.dumps(params, default=str))])

                client.meta.events.register("before-parameter-build", hook)
                client._bench_recorded = True
            return client

    args = app.build_parser().parse_args(["why", *argv])
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    clients = Recording(session, endpoint_url=emu.url)
    traffic = command.traffic_of(args.protocol, args.port)
    answer = command.why(clients, args.region, args.source, args.destination, traffic)
    recorded = list(calls)  # the model's own observe below reads through unrecorded clients
    return recorded, {**answer.document(), "model_ms": _model_ms(Clients(session, endpoint_url=emu.url), args, traffic)}


def _model_ms(clients: Any, args: argparse.Namespace, traffic: Any) -> float:
    """The pure analysis alone (no I/O), on what was observed: median of 200, ms."""
    from peerkeeper.reach import analysis, observe

    reader = observe.Reader(clients)
    ends = observe.find_ends(reader, args.region, args.source, args.destination)
    network = observe.observe_network(reader, ends).network
    times = []
    for _ in range(200):
        started = time.perf_counter()
        analysis.analyse_all(network, ends.source, ends.destinations, traffic)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 2):
        raise RuntimeError(f"{argv[:4]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, done.stdout


def measure(emu: Emulator, name: str, argv: list[str], runs: int) -> dict[str, Any]:
    calls, doc = record(emu, argv)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(calls, handle)
        replay = handle.name
    env = child_env({**emu.env(), "PYTHONPATH": str(ROOT)})
    subject = [sys.executable, "-m", "peerkeeper", "why", *argv, "--json"]
    floor = [sys.executable, "-m", "benchmarks.why_floor", replay]
    walls: dict[str, list[float]] = {"why": [], "floor": []}
    for run in range(runs):
        order = (("why", subject), ("floor", floor)) if run % 2 == 0 else (("floor", floor), ("why", subject))
        for label, command in order:
            wall, out = _timed(command, env)
            walls[label].append(wall)
            if label == "why":
                assert json.loads(out)["reads"]["total"] == len(calls), "the process made other reads than recorded"
            else:
                assert int(out.strip()) == len(calls)
    Path(replay).unlink()
    why_ms = statistics.median(walls["why"]) * 1000 if runs else 0.0
    floor_ms = statistics.median(walls["floor"]) * 1000 if runs else 0.0
    return {
        "question": name,
        "argv": argv,
        "reachable": doc["reachable"],
        "codes": [e["code"] for e in doc["explanations"]],
        "reads": len(calls),
        "reads_by_operation": dict(Counter(call[2] for call in calls)),
        "model_ms": doc["model_ms"],
        "why_ms": round(why_ms),
        "floor_ms": round(floor_ms),
        "ratio": round(why_ms / floor_ms, 2) if runs else None,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.why", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each (0: reads only)")
    parser.add_argument("--noise", type=int, default=20, help="unrelated VPCs, each with an instance")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "why.json")
    args = parser.parse_args(argv)
    with running() as emu:
        lab = build(emu, args.noise)
        results = [measure(emu, name, question, args.runs) for name, question in questions(lab)]
    print(f"\npeerkeeper why: reads and wall time (median of {args.runs}, fresh processes, {args.noise} other VPCs)")
    header = ("question", "answer", "reads", "why ms", "floor ms", "ratio", "model ms")
    answers = ["reachable" if r["reachable"] else ",".join(r["codes"]) for r in results]
    rows = [
        (r["question"], answer, r["reads"], r["why_ms"], r["floor_ms"], r["ratio"], r["model_ms"])
        for r, answer in zip(results, answers, strict=True)
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    for r in results:
        print(f"  {r['question']}: " + ", ".join(f"{op} {n}" for op, n in sorted(r["reads_by_operation"].items())))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    summary = {"runs": args.runs, "noise": args.noise, "load_average": load, "questions": results}
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
