"""Two accounts, each with its own configuration, converging through their own sweeps.

moto: credentials from ``sts.assume_role`` into another account id act as that account, so each
side gets its own ``Clients`` over a session of assumed-role keys, as a StackSet deployment would.
"""

from __future__ import annotations

import boto3

from peerkeeper import service
from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.reconcile import Env
from peerkeeper.settings import Settings
from tests.support import REGION, build_vpc, peering_status, request_peering, routes_of

REQUESTER, ACCEPTER = "210987654321", "345678901234"
CONCERNS = ("peering", "routes", "dns", "flow_logs")


def session_in(account: str) -> boto3.Session:
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/peerkeeper-stackset", RoleSessionName="peerkeeper"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def sweep(account: str, clients: Clients, settings: Settings) -> dict:
    env = Env.create(settings, clients, account)
    report = service.reconcile(env, Scope(REGION, account, "sweep", whole_region=True), CONCERNS)
    assert not report.failed
    assert not report.errors
    return report.to_dict()


def test_requester_and_accepter_accounts_converge_through_their_own_sweeps(aws):
    requester, accepter = Clients(session_in(REQUESTER)), Clients(session_in(ACCEPTER))
    req_ec2, acc_ec2 = requester.ec2(REGION), accepter.ec2(REGION)
    assert requester.account_id(REGION) == REQUESTER
    assert accepter.account_id(REGION) == ACCEPTER
    app_vpc, app_tables, _ = build_vpc(req_ec2, "10.10.0.0/16", "app-vpc")
    shared_vpc, shared_tables, _ = build_vpc(acc_ec2, "10.20.0.0/16", "shared-vpc")
    pcx = request_peering(req_ec2, app_vpc, shared_vpc, PeerOwnerId=ACCEPTER)
    # Each account's own configuration: the accepter allows the requester; the requester lists the
    # accepter too, since a connection it requested is routed only while its other party is trusted.
    accepter_settings = Settings(region=REGION, allowed_peer_accounts=frozenset({REQUESTER}))
    requester_settings = Settings(region=REGION, allowed_peer_accounts=frozenset({ACCEPTER}))

    before = sweep(REQUESTER, requester, requester_settings)  # nothing to route yet: still pending
    accepted = sweep(ACCEPTER, accepter, accepter_settings)
    after = sweep(REQUESTER, requester, requester_settings)

    assert not [a for a in before["actions"] if a["kind"] in ("accept-peering", "create-route")]
    assert "refused" not in before  # its own request, waiting in the other account, is no refusal
    assert peering_status(acc_ec2, pcx) == "active"
    assert [a["resource"] for a in accepted["actions"] if a["kind"] == "accept-peering"] == [pcx]
    for table in shared_tables:  # the accepter routed its side only
        assert routes_of(acc_ec2, table)["10.10.0.0/16"] == pcx
    assert {a["resource"] for a in accepted["actions"] if a["kind"] == "create-route"} == set(shared_tables)
    for table in app_tables:  # the requester routed its side in its own sweep
        assert routes_of(req_ec2, table)["10.20.0.0/16"] == pcx
    assert {a["resource"] for a in after["actions"] if a["kind"] == "create-route"} == set(app_tables)
    # And both are at rest: a second round changes nothing.
    assert sweep(ACCEPTER, accepter, accepter_settings)["actions"] == []
    assert sweep(REQUESTER, requester, requester_settings)["actions"] == []
