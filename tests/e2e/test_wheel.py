"""The package as a person installs it: the wheel, built and installed into fresh venvs outside the repo.

Two environments, each made once per test session (and on one xdist worker: ``xdist_group``):
``plain`` is ``pip install peerkeeper`` (only the declared dependencies: plan, apply, why, graph,
--version must work there, and ``demo`` must say in one line what to install), ``with_demo`` is
``pip install 'peerkeeper[demo]'`` (the demo runs from the copies of template.yaml and functions/
the wheel ships, in a working directory that is not a checkout).

uv builds the wheel with the locked build backend and installs with the dev lock as constraints, so
the run is reproducible; nothing of the project's own .venv is visible to the installed command.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from uv import find_uv_bin

from peerkeeper.cli import app, common
from peerkeeper.cli.demo import emulator as demo_emulator
from peerkeeper.cli.demo import lab as demo_lab
from peerkeeper.clients import Clients
from tests.support import ACCOUNT, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

UV = find_uv_bin()
LOCK = ROOT / "requirements-dev.lock"
PACKAGE = ROOT / "layers" / "common" / "peerkeeper"
# The demo's modules (its extra provides what they need).
DEMO = PACKAGE / "cli" / "demo"


@dataclass(frozen=True)
class Installed:
    venv: Path
    home: Path

    @property
    def command(self) -> str:
        return str(self.venv / "bin" / "peerkeeper")

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: int = 120
    ) -> subprocess.CompletedProcess[str]:
        """The installed ``peerkeeper``, from a directory that is not a checkout, with a clean environment."""
        clean = {key: os.environ[key] for key in ("PATH", "LANG", "TMPDIR") if key in os.environ}
        clean.update(
            {
                "HOME": str(self.home),
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "COLUMNS": "200",
                "NO_COLOR": "1",
                **(env or {}),
            }
        )
        return subprocess.run(
            [self.command, *args],
            cwd=self.home,
            env=clean,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def uv(*args: str) -> None:
    subprocess.run([UV, *args], check=True, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    uv(
        "build",
        "--quiet",
        "--wheel",
        "--no-build-isolation",
        "--python",
        sys.executable,
        "--out-dir",
        str(out),
        str(ROOT),
    )
    (built,) = out.glob("peerkeeper-*.whl")
    return built


def install(tmp_path_factory: pytest.TempPathFactory, name: str, requirement: str) -> Installed:
    venv = tmp_path_factory.mktemp(name) / "venv"
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    uv("pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--constraint", str(LOCK), requirement)
    return Installed(venv, tmp_path_factory.mktemp(f"{name}-home"))


@pytest.fixture(scope="session")
def plain(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory, "plain", str(wheel))


@pytest.fixture(scope="session")
def with_demo(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory, "with-demo", f"{wheel}[demo]")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with demo_emulator.emulator() as url:
        yield url


def subcommands() -> list[str]:
    """Every subcommand the parser declares (new commands are covered as they are added)."""
    parser = app.build_parser()
    (action,) = (a for a in parser._actions if a.dest == "command")
    assert isinstance(action.choices, dict)
    return sorted(action.choices)


# -- what the wheel holds ---------------------------------------------------------------------
def test_the_wheel_ships_the_package_and_the_demos_files_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"peerkeeper", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    bundled = {name.removeprefix("peerkeeper/_bundle/") for name in names if name.startswith("peerkeeper/_bundle/")}
    expected = {"template.yaml"} | {str(p.relative_to(ROOT)) for p in ROOT.glob("functions/*/app.py")}
    assert bundled == expected
    with zipfile.ZipFile(wheel) as archive:
        for name in expected:
            assert archive.read(f"peerkeeper/_bundle/{name}") == (ROOT / name).read_bytes(), name


def runtime_imports(tree: ast.AST) -> Iterator[str]:
    """Top-level names of the modules imported at run time (``if TYPE_CHECKING:`` blocks excluded)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            yield from (name for child in node.orelse for name in runtime_imports(child))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]
        yield from runtime_imports(node)


def third_party_imports(path: Path) -> set[str]:
    modules = set(runtime_imports(ast.parse(path.read_text())))
    return {m for m in modules if m not in sys.stdlib_module_names and m not in {"peerkeeper", "__future__"}}


def test_every_package_the_command_line_imports_is_a_declared_dependency():
    """Lazy imports too (rich inside the drawing functions): read every module's import statements."""
    import tomllib

    declared = {
        dep.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    distributions = packages_distributions()
    for module in sorted(PACKAGE.rglob("*.py")):
        if DEMO in module.parents:
            continue
        for name in third_party_imports(module):
            owners = {d.lower().replace("_", "-") for d in distributions.get(name, [name])}
            # boto3 brings botocore: a declared package's own dependencies count as declared
            assert owners & declared or owners <= {"botocore"}, f"{module.name} imports {name}: not in pyproject"


def test_the_layer_stays_lean():
    """The layer is not the command line's package: no rich, no emulator in the Lambda's requirements.

    PyYAML is in it: the IntentFunction reads its network file (YAML) with it."""
    layer = (ROOT / "layers" / "common" / "requirements.txt").read_text().lower()
    for name in ("rich", "moto", "hatchling", "uv"):
        assert f"\n{name}" not in layer, name
        assert not layer.startswith(name), name


# -- the plain install: declared dependencies only ---------------------------------------------
def test_version(plain):
    completed = plain.run("--version")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "peerkeeper 0.1.0"


@pytest.mark.parametrize("command", subcommands())
def test_every_command_shows_its_help(plain, command):
    completed = plain.run(command, "--help")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(f"usage: peerkeeper {command}")


def test_plan_against_the_emulator(plain, endpoint):
    """The installed command (no moto in its venv) plans a lab the test builds in its emulator."""
    lab = demo_lab.build_lab(Clients(endpoint_url=endpoint), endpoint)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}

    completed = plain.run("plan", "--json", "--endpoint-url", endpoint, env=env)

    assert completed.returncode == common.EXIT_DRIFT, completed.stderr
    doc = json.loads(completed.stdout)
    assert (doc["account"], doc["regions"]) == (ACCOUNT, ["us-east-1"])
    (flow_logs,) = doc["concerns"]["flow_logs"]["actions"]  # the lab's VPCs have none yet: one batch
    assert {lab.web.vpc, lab.api.vpc} <= set(flow_logs["params"]["ResourceIds"])


def reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        assert response.status == 200


def test_graph_in_every_format_against_the_emulator(plain, endpoint, tmp_path):
    """The installed command draws the lab: api-vpc and web-vpc peered, one route deleted by hand."""
    reset(endpoint)
    try:
        clients = Clients(endpoint_url=endpoint)
        lab = demo_lab.build_lab(clients, endpoint)
        ec2 = clients.ec2("us-east-1")
        pcx = ec2.create_vpc_peering_connection(VpcId=lab.api.vpc, PeerVpcId=lab.web.vpc)
        pcx_id = pcx["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
        for network, peer in ((lab.web, lab.api), (lab.api, lab.web)):
            for table in network.tables[: 1 if network is lab.web else 2]:  # web's second table: 1 missing
                ec2.create_route(RouteTableId=table, DestinationCidrBlock=peer.cidr, VpcPeeringConnectionId=pcx_id)
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}

        for suffix, first_line in (
            (".mmd", "flowchart LR"),
            (".dot", "digraph peerkeeper {"),
            (".html", "<!DOCTYPE html>"),
        ):
            out = tmp_path / f"network{suffix}"
            completed = plain.run("graph", "--endpoint-url", endpoint, "--output", str(out), env=env)

            assert completed.returncode == common.EXIT_OK, completed.stderr
            text = out.read_text()
            assert text.splitlines()[0] == first_line
            for value in (lab.web.vpc, lab.api.vpc, lab.web.cidr, lab.api.cidr, pcx_id, "web-vpc", "1 missing"):
                assert value in text, (suffix, value)
    finally:
        reset(endpoint)


def test_demo_without_its_extra_says_what_to_install(plain):
    completed = plain.run("demo")
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr.strip().splitlines() == [
        "peerkeeper: error: the demo needs its emulator (moto, werkzeug, aws_xray_sdk missing): "
        "pip install '.[demo]' from a checkout of peerkeeper (it is not published on PyPI)"
    ]


# -- with the demo extra ------------------------------------------------------------------------
def test_demo_runs_from_the_installed_package(with_demo):
    where = with_demo.venv / "bin" / "python"
    found = subprocess.run(
        [str(where), "-c", "from peerkeeper.cli.demo import emulator; print(emulator.project_root())"],
        cwd=with_demo.home,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).is_relative_to(with_demo.venv), found  # the wheel's copies, not this checkout

    completed = with_demo.run("demo", timeout=300)

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "✔ converged" in completed.stdout
