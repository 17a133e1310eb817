"""``peerkeeper intent plan|apply`` against moto: the network the file declares, built once and kept."""

from __future__ import annotations

from itertools import combinations

import pytest

from tests.intent.conftest import connections, make_vpc, routes

MESH = """\
version: 1
networks:
  prod:
    topology: mesh
    members: [{tags: {net: prod}}]
"""


def pair_of(item: dict) -> frozenset[str]:
    return frozenset({item["RequesterVpcInfo"]["VpcId"], item["AccepterVpcInfo"]["VpcId"]})


def test_a_four_vpc_mesh_is_built_once_and_a_second_run_changes_nothing(cli, calls):
    vpcs = {f"10.{n}.0.0/16": make_vpc(f"10.{n}.0.0/16", {"net": "prod"}) for n in range(1, 5)}
    file = cli.file(MESH)

    calls.clear()
    code, doc = cli.json("intent", "plan", file)
    assert code == 2
    assert doc["counts"]["edges"] == 6
    assert doc["counts"]["missing"] == 6
    assert calls.mutating == []

    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err
    found = connections()
    assert len(found) == 6
    assert {pair_of(item) for item in found} == {frozenset({a[0], b[0]}) for a, b in combinations(vpcs.values(), 2)}
    assert all(item["Status"]["Code"] == "active" for item in found)
    assert all(item["Tags"] == [{"Key": "peerkeeper:intent", "Value": "prod"}] for item in found)
    by_pair = {pair_of(item): item["VpcPeeringConnectionId"] for item in found}
    for _cidr, (vpc, tables) in vpcs.items():
        for other_cidr, (other, _) in vpcs.items():
            if other != vpc:
                for table in tables:  # routes on both sides, in every table, via the pair's connection
                    assert routes(table)[other_cidr] == by_pair[frozenset({vpc, other})]

    code, doc = cli.json("intent", "plan", file)
    assert code == 0
    assert {edge["state"] for edge in doc["edges"]} == {"in-sync"}
    assert doc["actions"] == []
    assert doc["findings"] == []

    calls.clear()
    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err
    assert calls.mutating == []
    assert len(connections()) == 6


def test_hub_spoke_connects_every_spoke_to_the_hub_and_no_spoke_to_a_spoke(cli, calls):
    hub, _ = make_vpc("10.0.0.0/16", {"net": "core", "role": "hub"})
    spokes = [make_vpc(f"10.{n}.0.0/16", {"net": "core"})[0] for n in (1, 2, 3)]
    file = cli.file(
        "version: 1\nnetworks:\n  core:\n    topology: hub-spoke\n"
        "    members: [{tags: {net: core}}]\n    hubs: [{tags: {role: hub}}]\n"
    )
    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err
    assert {pair_of(item) for item in connections()} == {frozenset({hub, spoke}) for spoke in spokes}
    code, doc = cli.json("intent", "plan", file)
    assert code == 0
    assert doc["counts"]["in-sync"] == 3


def test_an_overlapping_pair_is_refused_while_the_rest_is_built(cli, calls):
    a, _ = make_vpc("10.1.0.0/16", {"net": "prod"})
    _b, _ = make_vpc("10.2.0.0/16", {"net": "prod"})
    _d, _ = make_vpc("10.3.0.0/16", {"net": "prod"})
    c, _ = make_vpc("10.1.128.0/20", {"net": "prod"})  # inside a's block
    file = cli.file(MESH)
    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err  # converged: everything feasible is done, the infeasible reported
    code, doc = cli.json("intent", "plan", file)
    assert code == 2  # an infeasible pair keeps plan at 2: the file and the network disagree
    infeasible = {frozenset(v["vpc"] for v in e["vpcs"]): e for e in doc["edges"] if e["state"] == "infeasible"}
    assert infeasible[frozenset({a, c})]["code"] == "CIDR_OVERLAP"
    assert infeasible[frozenset({a, c})]["connection"] is None
    # c's other pairs would give b or d two peers claiming 10.1.128.0/20 (or a's block): PEER_OVERLAP,
    # whichever of them was judged later (by VPC ID); every other pair is built and in sync.
    assert {e["code"] for k, e in infeasible.items() if k != frozenset({a, c})} <= {"PEER_OVERLAP"}
    built = {pair_of(item) for item in connections()}
    feasible = {frozenset(v["vpc"] for v in e["vpcs"]) for e in doc["edges"] if e["state"] != "infeasible"}
    assert built == feasible
    assert built
    assert {e["state"] for e in doc["edges"] if e["state"] != "infeasible"} == {"in-sync"}
    assert frozenset({a, c}) not in built
    assert sorted(f["code"] for f in doc["findings"]) == sorted(e["code"] for e in infeasible.values())
    assert doc["actions"] == []


def test_the_quota_is_respected_with_the_same_choice_on_every_run(cli, calls):
    a, b, c, d = (make_vpc(f"10.{n}.0.0/16", {"net": "prod"})[0] for n in range(1, 5))
    file = cli.file(MESH + "max-peerings-per-vpc: 2\n")
    code, first = cli.json("intent", "plan", file)
    quota = {frozenset(v["vpc"] for v in e["vpcs"]) for e in first["edges"] if e.get("code") == "PEERING_QUOTA"}
    # Judged by (account, region, VPC ID): a-b, a-c, b-c fit; every pair with d would exceed 2 for the other.
    ordered = sorted([a, b, c, d])
    assert quota == {frozenset({ordered[i], ordered[3]}) for i in range(3)}
    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err
    built = {pair_of(item) for item in connections()}
    assert built == {frozenset(p) for p in combinations(ordered[:3], 2)}
    for _ in range(2):  # the same choice again: existing connections are judged first
        code, again = cli.json("intent", "plan", file)
        again_quota = {
            frozenset(v["vpc"] for v in e["vpcs"]) for e in again["edges"] if e.get("code") == "PEERING_QUOTA"
        }
        assert again_quota == quota
        assert again["actions"] == []
        cli.run("intent", "apply", file)
        assert {pair_of(item) for item in connections()} == built


def test_existing_connections_are_kept_first_under_the_quota(cli, calls):
    a, b, c, d = sorted(make_vpc(f"10.{n}.0.0/16", {"net": "prod"})[0] for n in range(1, 5))
    from tests.intent.conftest import in_account

    by_hand = in_account("ec2").create_vpc_peering_connection(VpcId=c, PeerVpcId=d)["VpcPeeringConnection"]
    file = cli.file(MESH + "max-peerings-per-vpc: 2\n")
    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err
    built = {pair_of(item) for item in connections()}
    # c-d first (it exists), then a-b, a-c; a-d: a is full; b-c: c is full; b-d fits.
    assert built == {frozenset(p) for p in ({c, d}, {a, b}, {a, c}, {b, d})}
    assert by_hand["VpcPeeringConnectionId"] in {item["VpcPeeringConnectionId"] for item in connections()}


def test_a_connection_made_by_hand_in_the_other_direction_is_reused(cli, calls):
    first, first_tables = make_vpc("10.1.0.0/16", {"net": "prod"})
    second, second_tables = make_vpc("10.2.0.0/16", {"net": "prod"})
    requester, accepter = sorted([first, second], reverse=True)  # made from the VPC that sorts last
    from tests.intent.conftest import in_account

    pcx = in_account("ec2").create_vpc_peering_connection(VpcId=requester, PeerVpcId=accepter)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    file = cli.file(MESH)
    code, doc = cli.json("intent", "plan", file)
    assert next(a["kind"] for a in doc["actions"]) == "accept-peering"
    assert "create-peering" not in {a["kind"] for a in doc["actions"]}
    assert doc["edges"][0]["connection"] == pcx
    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err
    (only,) = connections()
    assert only["VpcPeeringConnectionId"] == pcx
    assert only["Status"]["Code"] == "active"
    assert all(routes(t)["10.2.0.0/16"] == pcx for t in first_tables)
    assert all(routes(t)["10.1.0.0/16"] == pcx for t in second_tables)
    assert calls.count("CreateVpcPeeringConnection") == 1  # the hand-made one only


def test_plan_makes_no_mutating_call_and_prints_the_same_json_twice(cli, calls):
    for n in range(1, 4):
        make_vpc(f"10.{n}.0.0/16", {"net": "prod"})
    file = cli.file(MESH)
    calls.clear()
    _, out_1, _ = cli.run("intent", "plan", file, "--json")
    _, out_2, _ = cli.run("intent", "plan", file, "--json")
    assert out_1 == out_2
    assert calls.mutating == []
    assert calls.count("Describe") == 6  # one read of each kind (VPCs, route tables, connections) per plan


def test_the_cidr_policy_wins_over_the_file(cli, calls, configure):
    configure(ALLOWED_PEER_CIDRS="10.0.0.0/8")
    a, _ = make_vpc("10.1.0.0/16", {"net": "prod"})
    b, _ = make_vpc("10.2.0.0/16", {"net": "prod"})
    public, _ = make_vpc("172.20.0.0/16", {"net": "prod"})
    file = cli.file(MESH)
    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err
    assert {pair_of(item) for item in connections()} == {frozenset({a, b})}
    code, doc = cli.json("intent", "plan", file)
    assert code == 2
    refused = [edge for edge in doc["edges"] if edge["state"] == "infeasible"]
    assert {edge["code"] for edge in refused} == {"NOT_ALLOWED"}
    assert all(public in {v["vpc"] for v in edge["vpcs"]} for edge in refused)
    assert len(refused) == 2
    assert "ALLOWED_PEER_CIDRS" in refused[0]["reason"]


def test_a_malformed_file_is_one_line_and_exit_1_before_any_call(cli, calls):
    make_vpc("10.1.0.0/16", {"net": "prod"})
    calls.clear()
    file = cli.file("version: 1\nnetworks:\n  prod:\n    topolgy: mesh\n    members: [{tags: {net: prod}}]\n")
    code, out, err = cli.run("intent", "apply", file)
    assert code == 1
    assert out == ""
    assert err == f"peerkeeper: error: {file}:4: unknown key 'topolgy' in network 'prod': did you mean 'topology'?\n"
    assert calls.made == []


def test_a_table_routing_the_peer_through_a_prefix_list_is_left_and_reported(cli, calls):
    from tests.intent.conftest import in_account

    a, a_tables = make_vpc("10.1.0.0/16", {"net": "prod"})
    make_vpc("10.2.0.0/16", {"net": "prod"})
    ec2 = in_account("ec2")
    listed = ec2.create_managed_prefix_list(
        PrefixListName="corp", AddressFamily="IPv4", MaxEntries=5, Entries=[{"Cidr": "10.0.0.0/8"}]
    )["PrefixList"]["PrefixListId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=a)
    ec2.create_route(RouteTableId=a_tables[1], DestinationPrefixListId=listed, GatewayId=gateway)
    file = cli.file(MESH)
    code, _, err = cli.run("intent", "apply", file)
    assert code == 0, err
    assert "10.2.0.0/16" not in routes(a_tables[1])  # inside the list's 10.0.0.0/8, sent elsewhere
    assert "10.2.0.0/16" in routes(a_tables[0])
    code, doc = cli.json("intent", "plan", file)
    assert code == 2
    assert doc["edges"][0]["state"] == "missing"
    (finding,) = doc["findings"]
    assert finding["code"] == "ROUTE_CONFLICT"
    assert finding["resource"] == a_tables[1]
    assert calls.count("GetManagedPrefixListEntries") >= 1


@pytest.mark.usefixtures("aws")
def test_allowed_peer_accounts_organization_is_resolved_as_the_functions_resolve_it(cli, configure):
    """``ALLOWED_PEER_ACCOUNTS=organization`` means the organisation's ACTIVE accounts (read once per
    run), not the literal word: this account's own pair is feasible once it is in an organisation."""
    import boto3

    configure(ALLOWED_PEER_ACCOUNTS="organization")
    make_vpc("10.1.0.0/16", {"net": "prod"})
    make_vpc("10.2.0.0/16", {"net": "prod"})
    file = cli.file(MESH)

    code, doc = cli.json("intent", "plan", file)  # no organisation yet: nobody is allowed, and it says why
    assert code == 2
    assert [edge["state"] for edge in doc["edges"]] == ["infeasible"]
    assert doc["edges"][0]["code"] == "NOT_ALLOWED"

    boto3.client("organizations", region_name="us-east-1").create_organization(FeatureSet="ALL")
    code, doc = cli.json("intent", "plan", file)
    assert code == 2
    assert [edge["state"] for edge in doc["edges"]] == ["missing"]
