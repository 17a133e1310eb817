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


class Index:
    """The VPCs by ID and by tag, built once: each selector then looks at its candidates only."""

    def __init__(self, vpcs: Iterable[Vpc]) -> None:
        self.vpcs = [vpc for vpc in vpcs if not vpc.ignored]
        self.by_id = {vpc.id: vpc for vpc in self.vpcs}
        self.by_tag: dict[tuple[str, str], list[Vpc]] = {}
        for vpc in self.vpcs:
            for tag in vpc.tags:
                self.by_tag.setdefault(tag, []).append(vpc)

    def matching(self, selectors: Iterable[Selector]) -> list[Vpc]:
        found: dict[str, Vpc] = {}
        for selector in selectors:
            if selector.tags:
                candidates: Iterable[Vpc] = self.by_tag.get(selector.tags[0], ())
            else:
                candidates = [self.by_id[selector.vpc]] if selector.vpc in self.by_id else []
            found.update((vpc.id, vpc) for vpc in candidates if selector.matches(vpc))
        return sorted(found.values(), key=vpc_key)


def members(network: Network, index: Index) -> tuple[list[Vpc], list[Vpc]]:
    """(members, hubs) of ``network``, each sorted by (account, region, VPC ID); hubs are members too."""
    hubs = index.matching(network.hubs) if network.topology == HUB_SPOKE else []
    found = {vpc.id: vpc for vpc in index.matching(network.members)}
    found.update({vpc.id: vpc for vpc in hubs})
    return sorted(found.values(), key=vpc_key), hubs


def network_pairs(network: Network, index: Index) -> list[tuple[Vpc, Vpc]]:
    """The pairs one network declares, each (first, second) by :func:`vpc_key`."""
    everyone, hubs = members(network, index)
    if network.topology == HUB_SPOKE:
        hub_ids = {vpc.id for vpc in hubs}
        return [(a, b) for a, b in combinations(everyone, 2) if a.id in hub_ids or b.id in hub_ids]
    return list(combinations(everyone, 2))


def declared_pairs(intent: Intent, vpcs: Iterable[Vpc]) -> list[Pair]:
    """Every pair declared by the intent, once, sorted by its two VPCs' keys."""
    index = Index(vpcs)
    keys = {vpc.id: vpc_key(vpc) for vpc in index.vpcs}
    rank = {vpc_id: position for position, vpc_id in enumerate(sorted(keys, key=keys.__getitem__))}
    found: dict[tuple[str, str], Pair] = {}
    make = tuple.__new__  # Pair's own constructor, without the keyword handling: 122,500 of them for 100 x 50
    for network in intent.networks:  # sorted by name: the first network to declare a pair tags it
        names = (network.name,)
        for first, second in network_pairs(network, index):
            ids = (first.id, second.id)  # first sorts first: one spelling per pair
            known = found.get(ids)
            if known is None:
                found[ids] = make(
                    Pair,
                    (first, second, network.name, names, network.dns, frozenset(ids), (keys[ids[0]], keys[ids[1]])),
                )
            else:
                found[ids] = known._replace(networks=(*known.networks, network.name), dns=known.dns or network.dns)
    return [found[ids] for ids in sorted(found, key=lambda ids: (rank[ids[0]], rank[ids[1]]))]


def membership(intent: Intent, vpcs: Iterable[Vpc]) -> Mapping[str, frozenset[str]]:
    """VPC ID -> the networks it is a member of."""
    index = Index(vpcs)
    found: dict[str, set[str]] = {}
    for network in intent.networks:
        for vpc in members(network, index)[0]:
            found.setdefault(vpc.id, set()).add(network.name)
    return {vpc_id: frozenset(names) for vpc_id, names in found.items()}
