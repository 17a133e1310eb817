"""``peerkeeper graph``: the VPCs, peering connections and drift that ``plan`` sees, as a picture.

A renderer of the dry run's plans and the inventory they were made from: :func:`observed` takes
them from a finished dry run (no AWS call of its own), :func:`peerkeeper.graph.model.build` turns
them into a :class:`~peerkeeper.graph.model.Picture`, and one of three renderers draws it:

- ``mermaid``: a flowchart for GitHub READMEs, pull requests and wikis;
- ``dot``: Graphviz (``dot -Tsvg``);
- ``html``: one self-contained page (inline SVG, no network fetch) with a legend, hover details
  and the plan's actions beside the picture.
- ``svg`` / ``png``: the ``dot`` text drawn by Graphviz when it is installed
  (:mod:`peerkeeper.graph.graphviz`).

The output is deterministic (same world, same bytes), so pictures can be diffed in review.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from peerkeeper.graph import dot, html, mermaid
from peerkeeper.graph.model import DeclaredPair, Observed, Picture, build, with_intent
from peerkeeper.intent.model import IN_SYNC, ISOLATION_VIOLATED
from peerkeeper.model import PeeringSide

if TYPE_CHECKING:
    from peerkeeper.intent.plan import IntentPlan
    from peerkeeper.inventory import Inventory
    from peerkeeper.reconcile import Report

FORMATS: Mapping[str, Callable[[Picture], str]] = {
    "mermaid": mermaid.render,
    "dot": dot.render,
    "html": html.render,
}
SUFFIXES = {
    ".mmd": "mermaid",
    ".md": "mermaid",
    ".dot": "dot",
    ".gv": "dot",
    ".html": "html",
    ".htm": "html",
    ".svg": "svg",
    ".png": "png",
}
DEFAULT_FORMAT = "mermaid"


class FormatError(ValueError):
    """``--format`` and ``--output``'s suffix disagree, or the suffix names no format."""


__all__ = [
    "FORMATS",
    "FormatError",
    "Observed",
    "Picture",
    "build",
    "format_for",
    "intent_overlay",
    "observed",
    "render",
    "write_atomically",
]


def observed(account_id: str, reports: Mapping[str, Report], inventories: Mapping[str, Inventory]) -> list[Observed]:
    """One :class:`Observed` per region of a finished dry run: its plans and what its inventory read."""
    found = []
    for region in sorted(reports):
        inventory = inventories.get(region)
        found.append(
            Observed(
                account_id=account_id,
                region=region,
                plans=tuple(reports[region].plans),
                vpcs=tuple(inventory.known_vpcs()) if inventory else (),
                tables=tuple(inventory.known_route_tables()) if inventory else (),
                peerings=tuple(inventory.known_peerings()) if inventory else (),
            )
        )
    return found


def picture(items: Iterable[Observed], *, detail: bool = False, errors: Iterable[str] = ()) -> Picture:
    return build(list(items), detail=detail, errors=list(errors))


def intent_overlay(drawing: Picture, plan: IntentPlan) -> Picture:
    """``graph --intent``: declared pairs no connection satisfies drawn dotted (with the code when
    infeasible), and connections that break the file (``ISOLATION_VIOLATED``) marked."""
    declared = [
        DeclaredPair(
            edge.pair.network,
            PeeringSide(edge.pair.first.owner_id, edge.pair.first.id, edge.pair.first.region, edge.pair.first.cidrs),
            PeeringSide(
                edge.pair.second.owner_id, edge.pair.second.id, edge.pair.second.region, edge.pair.second.cidrs
            ),
            edge.state,
            edge.code,
        )
        for edge in plan.edges
        if edge.connection is None and edge.state != IN_SYNC
    ]
    flagged = {edge.connection: edge.code for edge in plan.edges if edge.connection and edge.code}
    flagged.update({f.resource: f.code for f in plan.findings if f.code == ISOLATION_VIOLATED})
    return with_intent(drawing, declared, flagged)


def render(drawing: Picture, fmt: str) -> str:
    return FORMATS[fmt](drawing)


def format_for(requested: str | None, output: str | None) -> str:
    """The format ``--output``'s suffix names (``--format``, if given, must agree), else ``--format`` or Mermaid.

    A file whose suffix names another format, or none that is known, is refused rather than written
    misnamed (Mermaid text in ``net.png``). A file without a suffix takes ``--format``.
    """
    if not output:
        return requested or DEFAULT_FORMAT
    suffix = Path(output).suffix.lower()
    named = SUFFIXES.get(suffix)
    if named is None and (suffix or not requested):
        known = ", ".join(SUFFIXES)
        raise FormatError(f"cannot tell the format of {output}: name it {known}, or pass --format")
    if requested and named and requested != named:
        raise FormatError(f"--format {requested} does not match {output} ({named}): make them agree")
    return named or requested or DEFAULT_FORMAT


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` so that a reader sees the old file or the whole new one, never half."""
    directory = path.resolve().parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
