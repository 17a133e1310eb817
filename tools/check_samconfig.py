"""Refuse to deploy a samconfig.toml environment that still holds example IDs (standard library only).

samconfig.toml's ``dev`` and ``prod`` environments are examples: their allowlists name AWS's
documentation accounts (111122223333, 444455556666, ...) and made-up VPC IDs. Deployed as written,
``prod`` (``RejectUnlisted="true"``) would reject every real request. ``make deploy`` runs this first:
exit 1 with one line naming each placeholder, exit 0 when there is none.

    python tools/check_samconfig.py [--config-env NAME] [--file samconfig.toml]
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Account IDs of AWS's documentation and of this repository's examples.
EXAMPLE_ACCOUNTS = frozenset({"123456789012", "210987654321", "012345678901", "098765432109"})
_BLOCK_ACCOUNT = re.compile(r"(\d)\1{3}(\d)\2{3}(\d)\3{3}")  # 111122223333, 444455556666, 000000000000
_ACCOUNT = re.compile(r"(?<![\w-])\d{12}(?![\w-])")
# Resource IDs made up for examples: vpc-0a1b2c3d4e5f60001 (this repository's), vpc-0123456789abcdef0, vpc-EXAMPLE...
_EXAMPLE_RESOURCE = re.compile(
    r"\b(?:vpc|pcx|rtb|subnet|sg|igw|eni|i|fl|acl)-(?:0a1b2c3d4e5f|0123456789abcdef|[0-9a-f]*example)[0-9a-z]*\b",
    re.IGNORECASE,
)
_MARKER = re.compile(r"REPLACE[_-]?ME|<[^<>]*>|CHANGEME", re.IGNORECASE)


def overrides(value: str | list[str] | None) -> dict[str, str]:
    """``parameter_overrides`` as SAM takes it: ``'A="x" B="y"'`` or ``["A=x", "B=y"]``."""
    if not value:
        return {}
    items = shlex.split(value) if isinstance(value, str) else [str(item) for item in value]
    pairs = (item.split("=", 1) for item in items if "=" in item)
    return {name: text for name, text in pairs}


def placeholders(text: str) -> list[str]:
    found = [
        m.group()
        for m in _ACCOUNT.finditer(text)
        if m.group() in EXAMPLE_ACCOUNTS or _BLOCK_ACCOUNT.fullmatch(m.group())
    ]
    found += [m.group() for m in _EXAMPLE_RESOURCE.finditer(text)]
    found += [m.group() for m in _MARKER.finditer(text)]
    return list(dict.fromkeys(found))


def problems(config: dict[str, object], environment: str) -> list[str]:
    """``Parameter: placeholder, ...`` for each parameter of ``environment``'s deploy that holds one."""
    section = config.get(environment)
    if not isinstance(section, dict):
        raise KeyError(environment)
    deploy = section.get("deploy", {}).get("parameters", {})
    found = []
    for name, text in overrides(deploy.get("parameter_overrides")).items():
        held = placeholders(text)
        if held:
            found.append(f"{name}: {', '.join(held)}")
    return found


def environments(config: dict[str, object]) -> Iterable[str]:
    return [name for name, section in config.items() if isinstance(section, dict)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-env", default="default")
    parser.add_argument("--file", default=str(ROOT / "samconfig.toml"))
    args = parser.parse_args(argv)
    path = Path(args.file)
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    try:
        found = problems(config, args.config_env)
    except KeyError:
        known = ", ".join(environments(config))
        sys.stderr.write(f"{path.name} has no environment {args.config_env!r} (it has {known})\n")
        return 1
    if found:
        sys.stderr.write(
            f"{path.name} [{args.config_env}] holds example IDs, not yours: {'; '.join(found)}. Replace them with "
            f"your accounts and VPCs in {path.name} before make deploy CONFIG_ENV={args.config_env}\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
