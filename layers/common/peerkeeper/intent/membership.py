"""Compile: which VPCs are members of which network, and the pairs the networks declare (pure).

Members come from what the run read (every VPC of its accounts and regions, with its tags): no call
here. A VPC carrying ``peerkeeper:ignore=true`` is never a member (peerkeeper does not touch it).
A pair declared by several networks is one pair: the first network by name tags it; ``dns`` holds
if either asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations

from peerkeeper.intent.model import HUB_SPOKE, Intent, Network, Pair, Selector, vpc_key
from peerkeeper.model import Vpc


def matching(selectors: Iterable[Selector], vpcs: Iterable[Vpc]) -> list[Vpc]:
    chosen = tuple(selectors)
    return sorted((vpc for vpc in vpcs if not vpc.ignored and any(s.matches(vpc) for s in chosen)), key=vpc_key)


def members(network: Network, vpcs: Iterable[Vpc]) -> tuple[list[Vpc], list[Vpc]]:
    """(members, hubs) of ``network``, each sorted by (account, region, VPC ID); hubs are members too."""
    seen = list(vpcs)
    hubs = matching(network.hubs, seen) if network.topology == HUB_SPOKE else []
    hub_ids = {vpc.id for vpc in hubs}
    found = {vpc.id: vpc for vpc in matching(network.members, seen)}
    found.update({vpc.id: vpc for vpc in hubs})
    return sorted(found.values(), key=vpc_key), [vpc for vpc in hubs if vpc.id in hub_ids]


def network_pairs(network: Network, vpcs: Iterable[Vpc]) -> list[tuple[Vpc, Vpc]]:
    """The pairs one network declares, each (first, second) by :func:`vpc_key`."""
    everyone, hubs = members(network, vpcs)
    if network.topology == HUB_SPOKE:
        hub_ids = {vpc.id for vpc in hubs}
        return [(a, b) for a, b in combinations(everyone, 2) if a.id in hub_ids or b.id in hub_ids]
    return list(combinations(everyone, 2))


def declared_pairs(intent: Intent, vpcs: Iterable[Vpc]) -> list[Pair]:
    """Every pair declared by the intent, once, sorted by its two VPCs' keys."""
    seen = list(vpcs)
    found: dict[frozenset[str], Pair] = {}
    for network in intent.networks:  # sorted by name: the first network to declare a pair tags it
        for first, second in network_pairs(network, seen):
            ids = frozenset({first.id, second.id})
            known = found.get(ids)
            if known is None:
                found[ids] = Pair(first, second, network.name, (network.name,), network.dns)
            else:
                found[ids] = Pair(
                    known.first, known.second, known.network, (*known.networks, network.name), known.dns or network.dns
                )
    return sorted(found.values(), key=lambda pair: pair.key)


def membership(intent: Intent, vpcs: Iterable[Vpc]) -> Mapping[str, frozenset[str]]:
    """VPC ID -> the networks it is a member of."""
    seen = list(vpcs)
    found: dict[str, set[str]] = {}
    for network in intent.networks:
        for vpc in members(network, seen)[0]:
            found.setdefault(vpc.id, set()).add(network.name)
    return {vpc_id: frozenset(names) for vpc_id, names in found.items()}
