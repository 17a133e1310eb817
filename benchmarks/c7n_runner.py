"""Run Cloud Custodian's ``custodian run`` with one line of 0.9.53 corrected, in this process only.

Usage (with Custodian's own interpreter, ``.tools/c7n/bin/python``):
``python -m benchmarks.c7n_runner <custodian run arguments>``

c7n 0.9.53's ``missing-route`` filter (``c7n/resources/vpc.py``, ``MissingRoute.process``) reads
``r['k']['Region']`` where it means ``r[k]['Region']``: every connection that has any route raises
``KeyError('k')``. We recompile that method from c7n's own source with that one expression fixed
(and check that it is there exactly once), so what runs is otherwise Custodian's code, unchanged.
Nothing of c7n is copied into this repository.
"""

from __future__ import annotations

import inspect
import sys
import textwrap

BUG, FIX = "r['k']['Region']", "r[k]['Region']"


def patch_missing_route() -> None:
    from c7n.resources import vpc

    source = textwrap.dedent(inspect.getsource(vpc.MissingRoute.process))
    if source.count(BUG) != 1:
        raise SystemExit(f"c7n_runner: expected the {BUG!r} typo once in MissingRoute.process; c7n changed?")
    namespace: dict[str, object] = {}
    exec(compile(source.replace(BUG, FIX), vpc.__file__, "exec"), vars(vpc), namespace)
    vpc.MissingRoute.process = namespace["process"]


def main(argv: list[str]) -> None:
    from benchmarks.callcount import install

    install()
    patch_missing_route()
    from c7n.cli import main as custodian

    sys.argv = ["custodian", *argv]
    custodian()


if __name__ == "__main__":
    main(sys.argv[1:])
