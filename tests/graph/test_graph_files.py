"""``graph --output FILE``: the suffix names the format; SVG and PNG through Graphviz's ``dot``, else one line."""

from __future__ import annotations

import html
import shutil
import stat
from pathlib import Path

import pytest

from peerkeeper import observability  # noqa: F401  (its logger takes sys.stdout at import: before capsys)
from peerkeeper.cli import app, common
from tests.graph.world import World, build_world

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def world(aws: None) -> World:
    return build_world()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("peerkeeper: error: ")
    return lines[0]


def without_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_png_is_a_png_when_graphviz_is_installed_else_exit_1(world, capsys, tmp_path):
    out = tmp_path / "x.png"

    code = app.main(["graph", "--output", str(out)])

    if shutil.which("dot"):
        assert code == common.EXIT_OK
        assert out.read_bytes().startswith(PNG_MAGIC)
        assert capsys.readouterr().err.endswith(f"peerkeeper: wrote the png picture to {out}\n")
    else:
        assert code == common.EXIT_ERROR
        assert "Graphviz" in one_line_error(capsys)
        assert not out.exists()


def test_without_dot_png_and_svg_are_one_line_and_no_file(world, capsys, monkeypatch, tmp_path):
    without_dot(monkeypatch, tmp_path)
    for name in ("x.png", "x.svg"):
        out = tmp_path / name

        assert app.main(["graph", "--output", str(out)]) == common.EXIT_ERROR

        assert "Graphviz's dot, not found on PATH: install Graphviz" in one_line_error(capsys)
        assert not out.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (the other tests cover it)")
def test_svg_is_drawn_with_every_vpc(world, capsys, tmp_path):
    out = tmp_path / "x.svg"

    assert app.main(["graph", "--output", str(out)]) == common.EXIT_OK

    text = html.unescape(out.read_text())  # Graphviz writes "-" as "&#45;"
    assert "<svg" in text
    assert all(vpc in text for vpc in world.vpcs.values())


def test_a_failing_dot_is_one_line(world, capsys, monkeypatch, tmp_path):
    without_dot(monkeypatch, tmp_path)
    fake = tmp_path / "bin" / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: <stdin>: syntax error in line 1' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)

    assert app.main(["graph", "--output", str(tmp_path / "x.svg")]) == common.EXIT_ERROR

    assert "Graphviz's dot failed (exit 3): Error: <stdin>: syntax error in line 1" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "dot", "--output", "x.png"], "--format dot does not match x.png (png)"),
        (["--format", "mermaid", "--output", "x.html"], "--format mermaid does not match x.html (html)"),
        (["--output", "x.txt"], "cannot tell the format of x.txt"),
        (["--output", "picture"], "cannot tell the format of picture"),
    ],
)
def test_a_format_and_suffix_that_disagree_are_an_error_not_a_misnamed_file(capsys, tmp_path, argv, message):
    argv = [str(tmp_path / a) if a.startswith(("x.", "picture")) else a for a in argv]

    assert app.main(["graph", *argv]) == common.EXIT_ERROR

    assert message.replace("x.", str(tmp_path / "x."), 1).replace("picture", str(tmp_path / "picture"), 1) in (
        one_line_error(capsys)
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("suffix", "start"), [(".mmd", "flowchart"), (".gv", "digraph"), (".dot", "digraph")])
def test_each_text_suffix_names_its_format(world, tmp_path, suffix, start):
    out = tmp_path / f"x{suffix}"
    assert app.main(["graph", "--output", str(out)]) == common.EXIT_OK
    assert out.read_text().lstrip().startswith(start)


def test_a_file_without_suffix_takes_the_format_given(world, tmp_path):
    out = tmp_path / "picture"
    assert app.main(["graph", "--format", "dot", "--output", str(out)]) == common.EXIT_OK
    assert out.read_text().lstrip().startswith("digraph")
