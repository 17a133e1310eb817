"""``peerkeeper graph``: the picture of what ``plan`` sees (:mod:`peerkeeper.graph` draws it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from peerkeeper.cli.common import EXIT_ERROR, EXIT_OK, UsageError
from peerkeeper.cli.output import display, enter_fleet
from peerkeeper.cli.run import run_many, unit_count
from peerkeeper.model import printable
from peerkeeper.settings import DRY_RUN

if TYPE_CHECKING:
    pass


def cmd_graph(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    from peerkeeper import graph  # noqa: PLC0415  (not needed on the Lambda path)

    fmt = graph.format_for(args.format, args.output)
    with display() as shown:  # one account, or every account of --account / --org, like plan
        group = enter_fleet(args, base, DRY_RUN, shown)
        shown.phase("observing", unit_count(group))
        results = run_many(group.targets, "graph", parallel=args.parallel, on_unit=shown.step)
    observed = [item for r in results for item in graph.observed(r.account_id, r.reports, r.inventories)]
    errors = [f"{r.account_id}: {error}" if group.many else error for r in results for error in r.errors]
    errors += [f"{item.account_id}: {item.reason}" for item in group.unreachable]
    text = graph.render(graph.picture(observed, detail=args.detail == "tables", errors=errors), fmt)
    for error in errors:
        sys.stderr.write(f"peerkeeper: warning: {printable(error)}\n")
    if args.output:
        try:
            graph.write_atomically(Path(args.output), text)
        except OSError as error:
            raise UsageError(f"cannot write {args.output}: {error.strerror or error}") from error
        sys.stderr.write(f"peerkeeper: wrote the {fmt} picture to {args.output}\n")
    else:
        sys.stdout.write(text)
    return EXIT_ERROR if group.unreachable else EXIT_OK
