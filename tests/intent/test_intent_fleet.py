"""Members across regions and accounts: requested, accepted, DNS options set on both sides, routed, in one apply.

moto lets a side's peering options be set from the wrong region or account; ``calls`` (conftest)
refuses that as AWS does, so this proves each side is set from its own account and region.
"""

from __future__ import annotations

from tests.intent.conftest import OTHER_REGION, PARTNER, in_account, make_vpc, routes
from tests.support import ACCOUNT, REGION

DNS_MESH = """\
version: 1
networks:
  shared:
    topology: mesh
    members: [{tags: {net: shared}}]
    dns: true
"""
# These accounts have no deployed stack: judge them with this run's settings (else apply skips them).
FLEET = ("--account", ACCOUNT, "--account", PARTNER, "--role-name", "peerkeeper-operator", "--policy-from-environment")
REGIONS = ("--region", REGION, "--region", OTHER_REGION)


def test_cross_region_and_cross_account_members_get_dns_options_on_both_sides_in_one_apply(cli, calls, configure):
    configure(ALLOWED_PEER_ACCOUNTS=f"{ACCOUNT},{PARTNER}")
    here, here_tables = make_vpc("10.1.0.0/16", {"net": "shared"})
    there, there_tables = make_vpc("10.2.0.0/16", {"net": "shared"}, region=OTHER_REGION)
    partner, partner_tables = make_vpc("10.3.0.0/16", {"net": "shared"}, account=PARTNER)
    file = cli.file(DNS_MESH)

    code, _, err = cli.run("intent", "apply", file, *FLEET, *REGIONS)
    assert code == 0, err
    seen = {}
    for account, region in ((ACCOUNT, REGION), (ACCOUNT, OTHER_REGION), (PARTNER, REGION)):
        for item in in_account("ec2", account, region).describe_vpc_peering_connections()["VpcPeeringConnections"]:
            seen[item["VpcPeeringConnectionId"]] = item
    assert len(seen) == 3
    pairs = {frozenset({i["RequesterVpcInfo"]["VpcId"], i["AccepterVpcInfo"]["VpcId"]}): i for i in seen.values()}
    assert set(pairs) == {frozenset({here, there}), frozenset({here, partner}), frozenset({there, partner})}
    for item in seen.values():
        assert item["Status"]["Code"] == "active"
        assert item["RequesterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is True
        assert item["AccepterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is True
    # Requested from the VPC that sorts first by (account, region, VPC ID): ours in eu-west-1 first.
    assert pairs[frozenset({here, there})]["RequesterVpcInfo"]["VpcId"] == there
    assert pairs[frozenset({there, partner})]["RequesterVpcInfo"]["VpcId"] == there
    assert pairs[frozenset({here, partner})]["RequesterVpcInfo"]["VpcId"] == here
    # Each side's options from its own account and region (the hook refuses anything else).
    options = [(account, region) for op, account, region, _ in calls.made if op == "ModifyVpcPeeringConnectionOptions"]
    assert len(options) == 6
    assert sorted(set(options)) == sorted({(ACCOUNT, REGION), (ACCOUNT, OTHER_REGION), (PARTNER, REGION)})
    # Routes on every side, in every account and region.
    assert all(
        routes(t)["10.2.0.0/16"] == pairs[frozenset({here, there})]["VpcPeeringConnectionId"] for t in here_tables
    )
    assert all(
        routes(t, region=OTHER_REGION)["10.3.0.0/16"] == pairs[frozenset({there, partner})]["VpcPeeringConnectionId"]
        for t in there_tables
    )
    assert all(
        routes(t, account=PARTNER)["10.1.0.0/16"] == pairs[frozenset({here, partner})]["VpcPeeringConnectionId"]
        for t in partner_tables
    )

    code, doc = cli.json("intent", "plan", file, *FLEET, *REGIONS)
    assert code == 0, doc
    assert doc["counts"]["in-sync"] == 3
    assert doc["accounts"] == [ACCOUNT, PARTNER]


def test_a_side_set_from_the_wrong_region_is_refused_as_aws_does(calls):
    """The hook itself: moto would accept this call; AWS answers OperationNotPermitted."""
    import pytest
    from botocore.exceptions import ClientError

    here, _ = make_vpc("10.1.0.0/16", {})
    there, _ = make_vpc("10.2.0.0/16", {}, region=OTHER_REGION)
    ec2 = in_account("ec2")
    pcx = ec2.create_vpc_peering_connection(VpcId=here, PeerVpcId=there, PeerRegion=OTHER_REGION)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    in_account("ec2", region=OTHER_REGION).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    with pytest.raises(ClientError, match="OperationNotPermitted"):
        ec2.modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=pcx, AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True}
        )
