"""The network file: YAML (JSON is YAML too) read into an :class:`~peerkeeper.intent.model.Intent`.

Every mistake is one :class:`IntentFileError` whose message is one line: the file, the line, what is
wrong and the fix (``networks.yaml:4: unknown key 'topolgy' in network 'prod': did you mean
'topology'?``). The file is read from YAML's node tree, not from ``safe_load``'s dictionaries: only
the nodes know their line, and only they show a key given twice (``safe_load`` keeps the last).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from peerkeeper.intent.model import (
    DEFAULT_MAX_PEERINGS,
    HUB_SPOKE,
    MAX_PEERINGS_LIMIT,
    TOPOLOGIES,
    Intent,
    Network,
    Selector,
)

_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_NETWORK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/=+@ -]{0,127}$")  # a tag value AWS takes
TOP_KEYS = ("version", "networks", "max-peerings-per-vpc", "isolate")
NETWORK_KEYS = ("topology", "members", "hubs", "dns")
SELECTOR_KEYS = ("tags", "vpc")
_INT, _BOOL, _NULL = "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"


class IntentFileError(ValueError):
    """A network file that cannot be used: the message is one line naming file, line and fix."""


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: yaml.Node | None, message: str) -> IntentFileError:
        line = node.start_mark.line + 1 if node is not None else 1
        return IntentFileError(f"{self.source}:{line}: {message}")

    # -- shapes -------------------------------------------------------------------------------
    def mapping(self, node: yaml.Node, what: str, known: Sequence[str]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys of a mapping node -> (key node, value node); an unknown key or one given twice fails."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value lines)")
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, f"a key of {what} must be a plain name")
            key = str(key_node.value)
            if key in found:
                first = found[key][0].start_mark.line + 1
                if what == "networks":
                    raise self.fail(
                        key_node, f"network {key!r} is named twice (first on line {first}): rename or merge one"
                    )
                raise self.fail(key_node, f"{key!r} is given twice in {what} (first on line {first}): keep one")
            if known and key not in known:
                raise self.fail(key_node, f"unknown key {key!r} in {what}: {_suggest(key, known)}")
            found[key] = (key_node, value_node)
        return found

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list (lines starting with '- ', or [a, b])")
        return list(node.value)

    def text(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL or node.value == "":
            raise self.fail(node, f"{what} must be a text value")
        return str(node.value)

    def integer(self, node: yaml.Node, what: str, low: int, high: int) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _INT or not node.value.isdigit():
            raise self.fail(node, f"{what} must be a whole number from {low} to {high}")
        value = int(node.value)
        if not low <= value <= high:
            raise self.fail(node, f"{what} must be from {low} to {high}, not {value}")
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _BOOL:
            raise self.fail(node, f"{what} must be true or false")
        return str(node.value).lower() in ("true", "yes", "on")

    # -- the file -----------------------------------------------------------------------------
    def intent(self, root: yaml.Node | None) -> Intent:
        if root is None:
            raise self.fail(None, "the file is empty: start with 'version: 1' and 'networks:'")
        top = self.mapping(root, "the file", TOP_KEYS)
        if "version" not in top:
            raise self.fail(root, "'version' is missing: add 'version: 1' as the first line")
        version_node = top["version"][1]
        if not (isinstance(version_node, yaml.ScalarNode) and version_node.value == "1"):
            raise self.fail(version_node, "version must be 1 (the only version this peerkeeper reads)")
        if "networks" not in top:
            raise self.fail(root, "'networks' is missing: add 'networks:' with at least one network")
        networks_node = top["networks"][1]
        entries = self.mapping(networks_node, "networks", ())
        if not entries:
            raise self.fail(networks_node, "networks is empty: declare at least one network")
        networks = tuple(sorted((self.network(name, *nodes) for name, nodes in entries.items()), key=_name))
        maximum = DEFAULT_MAX_PEERINGS
        if "max-peerings-per-vpc" in top:
            maximum = self.integer(top["max-peerings-per-vpc"][1], "max-peerings-per-vpc", 1, MAX_PEERINGS_LIMIT)
        isolate = self.isolate(top["isolate"][1], {n.name for n in networks}) if "isolate" in top else ()
        return Intent(networks, maximum, isolate, self.source)

    def network(self, name: str, key_node: yaml.Node, node: yaml.Node) -> Network:
        if not _NETWORK_NAME.match(name):
            raise self.fail(key_node, f"network name {name!r} cannot be a tag value: use letters, digits, - _ . :")
        what = f"network {name!r}"
        fields = self.mapping(node, what, NETWORK_KEYS)
        if "topology" not in fields:
            raise self.fail(node, f"{what} has no topology: add 'topology: mesh' or 'topology: hub-spoke'")
        topology_node = fields["topology"][1]
        topology = self.text(topology_node, f"topology of {what}")
        if topology not in TOPOLOGIES:
            raise self.fail(topology_node, f"topology {topology!r} of {what}: {_suggest(topology, TOPOLOGIES)}")
        if "members" not in fields:
            raise self.fail(node, f"{what} has no members: add 'members: [{{tags: {{net: {name}}}}}]'")
        members = self.selectors(fields["members"][1], f"members of {what}")
        hubs: tuple[Selector, ...] = ()
        if "hubs" in fields:
            if topology != HUB_SPOKE:
                raise self.fail(
                    fields["hubs"][0],
                    f"hubs in {what}, whose topology is {topology}: set 'topology: hub-spoke' or remove hubs",
                )
            hubs = self.selectors(fields["hubs"][1], f"hubs of {what}")
        elif topology == HUB_SPOKE:
            raise self.fail(node, f"{what} is hub-spoke but has no hubs: add 'hubs: [{{tags: {{role: hub}}}}]'")
        dns = self.boolean(fields["dns"][1], f"dns of {what}") if "dns" in fields else False
        return Network(name, topology, members, hubs, dns)

    def selectors(self, node: yaml.Node, what: str) -> tuple[Selector, ...]:
        items = self.sequence(node, what)
        if not items:
            raise self.fail(node, f"{what} is empty: add a selector such as '{{tags: {{net: prod}}}}'")
        return tuple(self.selector(item, what) for item in items)

    def selector(self, node: yaml.Node, what: str) -> Selector:
        fields = self.mapping(node, f"a selector of {what}", SELECTOR_KEYS)
        if not fields:
            raise self.fail(node, f"a selector of {what} is empty: give 'tags' or 'vpc'")
        vpc = ""
        if "vpc" in fields:
            vpc = self.text(fields["vpc"][1], f"vpc in {what}")
            if not _VPC_ID.match(vpc):
                raise self.fail(
                    fields["vpc"][1], f"{vpc!r} in {what} is not a VPC ID: expected vpc- and 8 or 17 hex digits"
                )
        tags: tuple[tuple[str, str], ...] = ()
        if "tags" in fields:
            tag_nodes = self.mapping(fields["tags"][1], f"tags in {what}", ())
            if not tag_nodes:
                raise self.fail(fields["tags"][1], f"tags in {what} is empty: give at least one key: value")
            tags = tuple(
                sorted((key, self.text(value, f"tag {key!r} in {what}")) for key, (_, value) in tag_nodes.items())
            )
        return Selector(tags, vpc)

    def isolate(self, node: yaml.Node, names: set[str]) -> tuple[tuple[str, ...], ...]:
        groups: list[tuple[str, ...]] = []
        for group_node in self.sequence(node, "isolate"):
            group = [
                self.text(item, "a network in isolate") for item in self.sequence(group_node, "each isolate entry")
            ]
            if len(set(group)) < 2:
                raise self.fail(group_node, "each isolate entry names two networks or more, e.g. [prod, dev]")
            for item_node, name in zip(group_node.value, group, strict=True):
                if name not in names:
                    raise self.fail(
                        item_node, f"isolate names {name!r}, which is not a network: {_suggest(name, names)}"
                    )
            groups.append(tuple(sorted(set(group))))
        return tuple(groups)


def _name(network: Network) -> str:
    return network.name


def _suggest(word: str, choices: Iterable[str]) -> str:
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "expected one of " + ", ".join(repr(option) for option in options)


def parse(text: str, source: str = "<intent>") -> Intent:
    """The intent of ``text`` (a network file's content); :class:`IntentFileError` on any mistake."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = (error.problem or error.context or "not YAML").strip()
        raise IntentFileError(
            f"{source}:{line}: not valid YAML ({problem}): check the indentation and quotes"
        ) from None
    except yaml.YAMLError as error:
        raise IntentFileError(f"{source}:1: not valid YAML ({error}): check the file") from None
    return reader.intent(root)


def load(path: str | Path) -> Intent:
    """The intent of the file at ``path``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise IntentFileError(f"{file}:1: cannot read the file ({error.strerror}): check the path") from None
    except UnicodeDecodeError:
        raise IntentFileError(f"{file}:1: not UTF-8 text: save the file as UTF-8") from None
    return parse(text, str(file))
