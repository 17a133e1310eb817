"""Does the Lambda layer hold the core, all of it, and nothing else? (standard library only)

``python tools/check_layer.py [LAYER]`` checks a built layer (default ``.aws-sam/build/CommonLayer``,
the folder that holds ``python/``); ``make build`` runs it after ``sam build``. Exit 1 with one line
per problem:

- ``python/peerkeeper/`` is exactly ``layers/common/peerkeeper/`` minus ``NOT_IN_LAYER`` (the list in
  ``layers/common/Makefile``): no command module, no analysis a function does not use;
- the installed distributions are exactly the pins of ``layers/common/requirements.lock``;
- every function imports on the layer alone, as Lambda runs it (the function's folder, then the
  layer, then the standard library: no site-packages), together with every peerkeeper module its
  handler can reach (``handler_modules``), tracing enabled, so x-ray's own imports are tried too.

``tests/infrastructure/test_layer.py`` runs the same checks on the Makefile's copy step (no pip, no
Docker); the dependencies part is checked here, after the real build.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "layers" / "common"
FUNCTIONS = ROOT / "functions"
BUILT = ROOT / ".aws-sam" / "build" / "CommonLayer"
_EXCLUDED = re.compile(r"^NOT_IN_LAYER\s*:=(.*)$", re.MULTILINE)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def not_in_layer(makefile: Path = SOURCE / "Makefile") -> list[str]:
    """The names under ``peerkeeper/`` that the layer's Makefile leaves out."""
    match = _EXCLUDED.search(makefile.read_text())
    if match is None:
        raise ValueError(f"{makefile}: no NOT_IN_LAYER line")
    return match[1].split("#", 1)[0].split()


def functions() -> list[str]:
    return sorted(path.parent.name for path in FUNCTIONS.glob("*/app.py"))


def _module_path(package_root: Path, module: str) -> Path | None:
    base = package_root.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST) -> set[str]:
    """Every module named by an import statement anywhere in ``tree`` (inside functions too: a lazy
    import is still one the handler runs), except under ``if TYPE_CHECKING:``."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def reachable_modules(entry: Path, package_root: Path = SOURCE) -> set[str]:
    """The ``peerkeeper`` modules that ``entry`` imports, transitively, read from the source."""
    found: set[str] = set()
    pending = [entry]
    while pending:
        names = _imported(ast.parse(pending.pop().read_text()))
        for name in sorted(n for n in names if n == "peerkeeper" or n.startswith("peerkeeper.")):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c imports a and a.b first
                module = ".".join(parts[:depth])
                path = _module_path(package_root, module)
                if path is not None and module not in found:
                    found.add(module)
                    pending.append(path)
    return found


# Run in a fresh interpreter: import the handler as Lambda does, then every module it can reach
# (the lazily imported ones too), and list what got imported, from where.
_PROBE = """
import importlib, json, sys
import app
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
from peerkeeper import observability
observability.tracer  # the Tracer as Lambda makes it with tracing on: x-ray's imports too
found = {}
for name, module in sorted(sys.modules.items()):
    path = getattr(module, "__file__", None)
    if path:
        found[name] = path
print(json.dumps({"modules": found, "tracing": observability.tracing_enabled()}))
"""


def handler_modules(
    function: str, layer_python: Path, *, site_packages: bool, extra_env: dict[str, str] | None = None
) -> dict[str, str]:
    """``module -> file`` of everything imported by ``functions/<function>/app.py`` on Lambda's
    ``sys.path`` (its folder, then ``layer_python``), with every peerkeeper module it can reach.
    ``site_packages=False`` is the layer alone (the built layer); True lets this interpreter's
    packages stand for the layer's dependencies (the test of the copy step)."""
    folder = FUNCTIONS / function
    wanted = sorted(reachable_modules(folder / "app.py"))
    path = [str(folder), str(layer_python)]
    flags = ["-I"] if site_packages else ["-I", "-S"]
    code = f"import sys; sys.path[:0] = {path!r}; exec({_PROBE!r})"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(folder),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        **(extra_env or {}),
    }
    done = subprocess.run(  # noqa: S603  (our own arguments)
        [sys.executable, *flags, "-c", code, json.dumps(wanted)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{function} does not import from {layer_python}: {done.stderr.strip()[-2000:]}")
    result: dict[str, str] = json.loads(done.stdout.splitlines()[-1])["modules"]
    return result


def core_problems(layer_python: Path, source: Path = SOURCE) -> list[str]:
    """``layer_python/peerkeeper`` against the source minus NOT_IN_LAYER, file by file."""
    excluded = set(not_in_layer())

    def files(root: Path, skip: set[str]) -> set[str]:
        return {
            str(path.relative_to(root))
            for path in root.rglob("*")
            if path.is_file()
            and "__pycache__" not in path.parts
            and path.relative_to(root).parts[0] not in skip
            and path.suffix != ".pyc"
        }

    built = layer_python / "peerkeeper"
    if not built.is_dir():
        return [f"{built} is missing"]
    expected = files(source / "peerkeeper", excluded)
    found = files(built, set())
    problems = [f"{built}: {name} is in the layer but NOT_IN_LAYER" for name in sorted(found - expected)]
    problems += [f"{built}: {name} is missing" for name in sorted(expected - found)]
    return problems


def import_problems(layer_python: Path, *, site_packages: bool) -> list[str]:
    """Each handler imports, and every peerkeeper module it imports comes from the layer."""
    problems = []
    for function in functions():
        try:
            modules = handler_modules(function, layer_python, site_packages=site_packages)
        except RuntimeError as error:
            problems.append(str(error))
            continue
        for name, path in modules.items():
            if (name == "peerkeeper" or name.startswith("peerkeeper.")) and not Path(path).is_relative_to(layer_python):
                problems.append(f"{function} imports {name} from {path}, not from the layer")
    return problems


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_problems(layer_python: Path, lock: Path = SOURCE / "requirements.lock") -> list[str]:
    """The layer's distributions (``*.dist-info``) are exactly the lock's pins."""
    pinned = {_normalise(name): version for name, version in _PIN.findall(lock.read_text())}
    installed = {}
    for info in layer_python.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[_normalise(name)] = version
    return [
        f"{name}: the layer has {installed.get(name, 'nothing')}, {lock.name} pins {pinned.get(name, 'nothing')}"
        for name in sorted(installed.keys() | pinned.keys())
        if installed.get(name) != pinned.get(name)
    ]


def main(argv: list[str]) -> int:
    layer = (Path(argv[0]) if argv else BUILT).resolve()
    python = layer / "python"
    problems = core_problems(python) + dependency_problems(python) + import_problems(python, site_packages=False)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{python}: the core minus {' '.join(not_in_layer())}, the lock's pins; every handler imports")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
