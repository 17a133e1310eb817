"""SVG and PNG through Graphviz's ``dot`` (not a Python dependency: found on ``PATH`` when installed).

The DOT text is :mod:`peerkeeper.graph.dot`'s; ``dot -Tsvg`` / ``-Tpng`` draws it. Without ``dot``,
the caller says so in one line before it reads anything from AWS.
"""

from __future__ import annotations

import shutil
import subprocess

IMAGE_FORMATS = ("svg", "png")
TIMEOUT_SECONDS = 300  # a 1,000-VPC picture takes dot tens of seconds on a loaded machine


class GraphvizError(Exception):
    """``dot`` is missing, or failed: the message is one line for the person running the command."""


def find_dot() -> str:
    path = shutil.which("dot")
    if path is None:
        raise GraphvizError(
            "SVG and PNG are drawn by Graphviz's dot, not found on PATH: install Graphviz "
            "(apt-get install graphviz, brew install graphviz), or write .dot, .mmd or .html"
        )
    return path


def render(dot_text: str, fmt: str, dot_path: str) -> bytes:
    """``dot_text`` drawn as ``fmt`` (``svg`` or ``png``) by the ``dot`` at ``dot_path``."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"not an image format: {fmt}")
    try:
        completed = subprocess.run(  # noqa: S603  (a fixed program, arguments of our own, DOT text on stdin)
            [dot_path, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GraphvizError(f"Graphviz's dot could not draw the picture: {error}") from error
    if completed.returncode != 0 or not completed.stdout:
        said = completed.stderr.decode(errors="replace").strip().splitlines()
        raise GraphvizError(f"Graphviz's dot failed (exit {completed.returncode}): {said[0] if said else 'no output'}")
    return completed.stdout
