"""Do the lock files agree with the pins they were compiled from? (standard library only)

Every environment is installed from a ``*.lock`` (full resolved set, hashes required); the
``requirements*.txt`` beside it hold the top-level pins a person edits. A pin edited without
``make lock`` would otherwise go unnoticed: ``make`` runs this before building ``.venv`` and
``tests/infrastructure/test_locks.py`` runs it in the suite. Exit 1 with one line per disagreement.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# input -> lock compiled from it (make lock)
LOCKS = {
    "requirements-dev.txt": "requirements-dev.lock",
    "tools/requirements-uv.txt": "tools/requirements-uv.lock",
    "tools/requirements-sam.txt": "tools/requirements-sam.lock",
    "tools/requirements-checkov.txt": "tools/requirements-checkov.lock",
    "tools/requirements-c7n.txt": "tools/requirements-c7n.lock",
    "layers/common/requirements.txt": "layers/common/requirements.lock",
}
# A lock that must be the same resolution as another: the Lambda layer's (one platform) is compiled
# under the constraint of the test environment's, so what is deployed is what was tested.
SAME_RESOLUTION = {"layers/common/requirements.lock": "requirements-dev.lock"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalise(name: str) -> str:
    """PEP 503: ``ruamel.yaml`` and ``ruamel-yaml`` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def input_pins(path: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line, following ``-r other.txt``."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            pins.update(input_pins(path.parent / line.split(maxsplit=1)[1]))
            continue
        match = _PIN.match(line)
        if match:
            pins[normalise(match[1])] = match[2]
        elif line:
            raise ValueError(f"{path.relative_to(ROOT)}: {raw!r} is not pinned with '=='")
    return pins


def locked(path: Path) -> dict[str, set[str]]:
    """``name -> versions`` of a lock (a universal lock may hold two versions under markers)."""
    versions: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            versions.setdefault(normalise(match[1]), set()).add(match[2])
    return versions


def unhashed(path: Path) -> list[str]:
    """Requirements of a lock without a ``--hash`` (pip and uv refuse them under --require-hashes)."""
    text = path.read_text().replace("\\\n", " ")
    return [line.split()[0] for line in text.splitlines() if _PIN.match(line) and "--hash=sha256:" not in line]


def disagreements(root: Path = ROOT) -> list[str]:
    problems = []
    for source, lock in LOCKS.items():
        lock_path = root / lock
        if not lock_path.is_file():
            problems.append(f"{lock} is missing: run 'make lock'")
            continue
        versions = locked(lock_path)
        for name, version in input_pins(root / source).items():
            if version not in versions.get(name, set()):
                found = ", ".join(sorted(versions.get(name, set()))) or "absent"
                problems.append(f"{source} pins {name}=={version} but {lock} has {found}: run 'make lock'")
        problems.extend(f"{lock}: {name} has no hash" for name in unhashed(lock_path))
    for lock, reference in SAME_RESOLUTION.items():
        if (root / lock).is_file() and (root / reference).is_file():
            tested = locked(root / reference)
            for name, pinned in sorted(locked(root / lock).items()):
                if not pinned <= tested.get(name, set()):
                    found = ", ".join(sorted(tested.get(name, set()))) or "absent"
                    problems.append(
                        f"{lock} has {name}=={', '.join(sorted(pinned))} but {reference} has {found}: run 'make lock'"
                    )
    return problems


def main() -> int:
    problems = disagreements()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
