"""Worlds for ``peerkeeper intent`` against moto (in-process), and a recorder of every AWS call.

The CLI makes its own boto3 sessions (``--account`` assumes roles), so calls are recorded where every
client passes: ``BaseClient._make_api_call``. The same hook makes moto answer as AWS where it does not:
AWS lets each side's ``PeeringConnectionOptions`` be modified only from that side's own region and
account (``OperationNotPermitted``); moto lets either be set from anywhere (docs/moto-vs-aws.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from peerkeeper.cli.app import main
from tests.support import ACCOUNT, REGION, other_account_client

PARTNER = "210987654321"
OTHER_REGION = "eu-west-1"
READ_PREFIXES = ("Describe", "List", "Get")


@dataclass
class Calls:
    made: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)  # (op, account, region, params)

    @property
    def mutating(self) -> list[str]:
        return [op for op, _, _, _ in self.made if not op.startswith(READ_PREFIXES) and op != "AssumeRole"]

    def count(self, prefix: str) -> int:
        return sum(1 for op, _, _, _ in self.made if op.startswith(prefix))

    def clear(self) -> None:
        self.made.clear()


def _caller_account(client: BaseClient) -> str:
    from moto.iam.models import get_account_id_from

    credentials = client._request_signer._credentials  # type: ignore[attr-defined]
    return str(get_account_id_from(credentials.access_key)) if credentials is not None else ACCOUNT


def _side_of_options(params: dict[str, Any]) -> str:
    if "RequesterPeeringConnectionOptions" in params:
        return "requester"
    return "accepter"


def _refuse_wrong_side(account: str, region: str, params: dict[str, Any]) -> None:
    """AWS: a side's options only from that side's account and region (moto: from anywhere)."""
    from moto.ec2.models import ec2_backends

    pcx_id = params["VpcPeeringConnectionId"]
    pcx = ec2_backends[account][region].vpc_pcxs.get(pcx_id)
    if pcx is None:
        raise ClientError({"Error": {"Code": "InvalidVpcPeeringConnectionID.NotFound", "Message": pcx_id}}, "Modify")
    vpc = pcx.vpc if _side_of_options(params) == "requester" else pcx.peer_vpc
    if (vpc.owner_id, vpc.region) != (account, region):
        message = f"{account} in {region} cannot modify the {_side_of_options(params)} options of {pcx_id}"
        raise ClientError(
            {"Error": {"Code": "OperationNotPermitted", "Message": message}}, "ModifyVpcPeeringConnectionOptions"
        )


@pytest.fixture
def calls(aws: None, monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorder = Calls()
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        account, region = _caller_account(self), self.meta.region_name
        recorder.made.append((operation, account, region, dict(params)))
        if operation == "ModifyVpcPeeringConnectionOptions":
            _refuse_wrong_side(account, region, params)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return recorder


def in_account(service: str, account: str = ACCOUNT, region: str = REGION) -> Any:
    if account == ACCOUNT:
        return boto3.client(service, region_name=region)  # type: ignore[call-overload]
    return other_account_client(service, account, region)


def make_vpc(cidr: str, tags: dict[str, str], account: str = ACCOUNT, region: str = REGION) -> tuple[str, list[str]]:
    """A VPC with tags and two route tables (its main table and one more)."""
    ec2 = in_account("ec2", account, region)
    tag_list = [{"Key": key, "Value": value} for key, value in tags.items()]
    vpc = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=[{"ResourceType": "vpc", "Tags": tag_list}])["Vpc"]["VpcId"]
    ec2.create_route_table(VpcId=vpc)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    return vpc, sorted(table["RouteTableId"] for table in tables)


def connections(account: str = ACCOUNT, region: str = REGION) -> list[dict[str, Any]]:
    """Every connection the account sees in the region, not deleted."""
    found = in_account("ec2", account, region).describe_vpc_peering_connections()["VpcPeeringConnections"]
    return [item for item in found if item["Status"]["Code"] not in ("deleted", "rejected", "failed")]


def routes(table_id: str, account: str = ACCOUNT, region: str = REGION) -> dict[str, str]:
    ec2 = in_account("ec2", account, region)
    table = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
    return {
        r.get("DestinationCidrBlock", ""): r.get("VpcPeeringConnectionId", r.get("GatewayId", ""))
        for r in table["Routes"]
    }


@dataclass
class Cli:
    capsys: pytest.CaptureFixture[str]
    tmp_path: Path

    def file(self, text: str, name: str = "networks.yaml") -> str:
        path = self.tmp_path / name
        path.write_text(text)
        return str(path)

    def run(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *argv: str) -> tuple[int, dict[str, Any]]:
        code, out, err = self.run(*argv, "--json")
        assert out, err
        return code, json.loads(out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    return Cli(capsys, tmp_path)
