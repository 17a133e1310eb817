"""The pure checks, on worlds built in memory (no AWS): each code, the stable order, the fast paths."""

from __future__ import annotations

import ipaddress
from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from peerkeeper.intent.check import blocks, compile_and_check, overlapping_vpcs
from peerkeeper.intent.model import MESH, Intent, Network, Selector, World
from peerkeeper.model import ACTIVE, Peering, PeeringSide, Vpc
from peerkeeper.settings import Settings

ACCOUNT, OTHER, REGION = "123456789012", "210987654321", "us-east-1"


def vpc(n: int, cidr: str, net: str = "prod", account: str = ACCOUNT) -> Vpc:
    return Vpc(f"vpc-{n:08x}", account, REGION, (cidr,), tags=(("net", net),))


def world(vpcs, peerings=(), accounts=(ACCOUNT,), **policy) -> World:
    settings = Settings(region=REGION, allowed_peer_accounts=frozenset(accounts), **policy)
    return World(tuple(vpcs), tuple(peerings), (), {(a, REGION): settings for a in {v.owner_id for v in vpcs}})


def mesh(*names: str, **extra) -> Intent:
    return Intent(tuple(Network(n, MESH, (Selector((("net", n),)),)) for n in sorted(names)), **extra)


def side(v: Vpc) -> PeeringSide:
    return PeeringSide(v.owner_id, v.id, v.region, v.cidrs)


def connection(pcx: str, a: Vpc, b: Vpc, tags=()) -> Peering:
    return Peering(pcx, ACTIVE, side(a), side(b), tags=tags)


def codes(intent, seen) -> dict[frozenset[str], str]:
    _, verdicts, _ = compile_and_check(intent, seen)
    return {v.pair.ids: v.code for v in verdicts}


def test_a_peer_overlapping_an_existing_peer_is_refused():
    a, b, x = vpc(1, "10.1.0.0/16"), vpc(2, "10.5.1.0/24"), vpc(3, "10.5.0.0/16", net="other")
    verdicts = codes(mesh("prod"), world([a, b, x], [connection("pcx-1", a, x)]))
    assert verdicts == {frozenset({a.id, b.id}): "PEER_OVERLAP"}


def test_cidr_overlap_and_policy():
    a, b = vpc(1, "10.1.0.0/16"), vpc(2, "10.1.128.0/17")
    assert codes(mesh("prod"), world([a, b])) == {frozenset({a.id, b.id}): "CIDR_OVERLAP"}
    c = vpc(3, "10.3.0.0/16", account=OTHER)
    assert set(codes(mesh("prod"), world([a, c])).values()) == {"NOT_ALLOWED"}  # OTHER not allowed
    assert set(codes(mesh("prod"), world([a, c], accounts=(ACCOUNT, OTHER))).values()) == {""}


def test_the_quota_keeps_existing_connections_first_and_the_same_choice_whatever_the_input_order():
    vpcs = [vpc(n, f"10.{n}.0.0/16") for n in range(1, 5)]
    existing = connection("pcx-1", vpcs[2], vpcs[3])
    first = codes(mesh("prod", max_peerings_per_vpc=2), world(vpcs, [existing]))
    again = codes(mesh("prod", max_peerings_per_vpc=2), world(list(reversed(vpcs)), [existing]))
    assert first == again
    kept = {ids for ids, code in first.items() if not code}
    assert frozenset({vpcs[2].id, vpcs[3].id}) in kept
    assert all(sum(1 for ids in kept if v.id in ids) <= 2 for v in vpcs)


def test_isolation_and_undeclared_connections_are_reported():
    a, b, d = vpc(1, "10.1.0.0/16"), vpc(2, "10.2.0.0/16"), vpc(3, "10.3.0.0/16", net="dev")
    links = [connection("pcx-iso", a, d), connection("pcx-old", b, d, tags=(("peerkeeper:intent", "gone"),))]
    _, _, findings = compile_and_check(mesh("prod", "dev", isolate=(("dev", "prod"),)), world([a, b, d], links))
    assert sorted((f.code, f.resource) for f in findings) == [
        ("ISOLATION_VIOLATED", "pcx-iso"),
        ("ISOLATION_VIOLATED", "pcx-old"),
        ("UNDECLARED", "pcx-old"),
    ]


cidrs = st.builds(
    lambda a, b, length: str(ipaddress.ip_network(f"10.{a}.{b}.0/{length}", strict=False)),
    st.integers(0, 3),
    st.integers(0, 255),
    st.integers(14, 26),
)


@given(st.lists(cidrs, min_size=2, max_size=12))
def test_overlapping_vpcs_finds_exactly_the_vpcs_that_overlap_another(found):
    parsed = {f"vpc-{n}": blocks([cidr]) for n, cidr in enumerate(found)}
    networks = {vpc_id: ipaddress.ip_network(cidr) for vpc_id, cidr in zip(parsed, found, strict=True)}
    expected = {x for x, y in combinations(networks, 2) if networks[x].overlaps(networks[y]) for x in (x, y)}
    assert overlapping_vpcs(parsed) == expected
