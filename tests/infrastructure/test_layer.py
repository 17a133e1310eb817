"""The Lambda layer ships the core only: no command module, every module a handler imports.

Runs the layer Makefile's copy step (``make core``) into a temporary folder: no pip, no Docker, no
network. The dependencies part (the hashed lock installed for arm64) is checked after the real
``sam build`` by ``tools/check_layer.py`` (``make build``, so ``.ci/run``'s ``make stackset-template``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT
from tools import check_layer

COMMANDS = ("cli", "__main__.py")  # the operator's commands, and `python -m peerkeeper` that starts them


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python/`` of the layer as the Makefile's copy step makes it."""
    artifacts = tmp_path_factory.mktemp("CommonLayer")
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT / "layers" / "common"), "core", f"ARTIFACTS_DIR={artifacts}"],
        check=True,
        capture_output=True,
    )
    return artifacts / "python"


def test_the_layer_holds_no_command_module_and_nothing_left_out(layer: Path):
    """The commands are never in it; the analyses (reach, graph) are left out until a function needs
    one: NOT_IN_LAYER in layers/common/Makefile is the one list."""
    assert (layer / "peerkeeper" / "handler.py").is_file()
    assert set(COMMANDS) <= set(check_layer.not_in_layer())
    for name in check_layer.not_in_layer():
        assert not (layer / "peerkeeper" / name).exists(), name
    assert not list(layer.rglob("__pycache__"))


def test_the_layer_is_the_whole_core(layer: Path):
    """File by file: the source's peerkeeper/ minus NOT_IN_LAYER (botocore_data/ included)."""
    assert check_layer.core_problems(layer) == []
    assert (layer / "peerkeeper" / "botocore_data").is_dir()


@pytest.mark.parametrize("function", check_layer.functions())
def test_every_module_a_handler_imports_is_in_the_layer(function: str, layer: Path):
    """Import the handler in a fresh interpreter on the source tree, list ``sys.modules`` under
    peerkeeper (with every module it imports lazily, and the Tracer as Lambda makes it): each is in
    the layer. Then the same on the layer: everything of peerkeeper comes from there."""
    on_source = check_layer.handler_modules(function, ROOT / "layers" / "common", site_packages=True)
    imported = sorted(name for name in on_source if name.split(".")[0] == "peerkeeper")
    assert {"peerkeeper.observability", "peerkeeper.settings", "peerkeeper.clients"} <= set(imported)
    for name in imported:
        module = layer.joinpath(*name.split("."))
        assert (module / "__init__.py").is_file() or module.with_suffix(".py").is_file(), name
    assert not [name for name in imported if name.split(".")[1:2] in (["cli"], ["reach"], ["graph"])]

    on_layer = check_layer.handler_modules(function, layer, site_packages=True)
    from_layer = {name: path for name, path in on_layer.items() if name.split(".")[0] == "peerkeeper"}
    assert sorted(from_layer) == imported
    assert "aws_xray_sdk" in on_layer  # the probe ran with tracing on, as deployed
    assert all(Path(path).is_relative_to(layer) for path in from_layer.values())


def test_a_lazy_import_counts(tmp_path: Path):
    """Modules imported inside a function (a concern loaded on first use) are found too; a
    TYPE_CHECKING import is not."""
    package = tmp_path / "peerkeeper"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "eager.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import peerkeeper.typed\n"
    )
    (package / "lazy.py").write_text("")
    (package / "typed.py").write_text("")
    app = tmp_path / "app.py"
    app.write_text("import peerkeeper.eager\n\ndef handler():\n    from peerkeeper import lazy\n")

    assert check_layer.reachable_modules(app, tmp_path) == {"peerkeeper", "peerkeeper.eager", "peerkeeper.lazy"}


def test_the_dependencies_check_reads_the_lock(tmp_path: Path):
    lock = ROOT / "layers" / "common" / "requirements.lock"
    pins = dict(check_layer._PIN.findall(lock.read_text()))
    for name, version in pins.items():
        (tmp_path / f"{name.replace('-', '_')}-{version}.dist-info").mkdir()
    assert check_layer.dependency_problems(tmp_path, lock) == []

    (tmp_path / f"boto3-{pins['boto3']}.dist-info").rename(tmp_path / "boto3-0.0.1.dist-info")
    (tmp_path / "rich-15.0.0.dist-info").mkdir()
    assert check_layer.dependency_problems(tmp_path, lock) == [
        f"boto3: the layer has 0.0.1, requirements.lock pins {pins['boto3']}",
        "rich: the layer has 15.0.0, requirements.lock pins nothing",
    ]
