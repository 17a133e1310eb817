"""``python -m tools.graph_screenshot [PNG]``: the picture of a generated 200-VPC world, in headless Chromium.

How the README's screenshot is made (and how to look at the page at scale yourself): the world of
:mod:`tests.graph.large_world` is built on moto, ``peerkeeper graph --format html`` draws it (three
regions), and Chromium takes the screenshot at 0.75 scale. The page is kept next to the PNG. When
``pngquant`` is installed (``apt-get install pngquant``) the PNG is quantised to keep the repository
small.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from moto import mock_aws

from tests.graph import browser
from tests.graph.large_world import build_large_world
from tests.support import BASE_ENV, clear_caches


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/graph-200-vpcs.png")
    os.environ.update(BASE_ENV)
    from peerkeeper.cli import app  # noqa: PLC0415  (after the environment is set)

    with mock_aws():
        clear_caches()
        started = time.monotonic()
        world = build_large_world()
        built = time.monotonic() - started
        page = out.with_suffix(".html")
        regions = [arg for region in world.regions for arg in ("--region", region)]
        started = time.monotonic()
        code = app.main(["graph", "--format", "html", "--output", str(page), *regions])
        drawn = time.monotonic() - started
    width, height = (int(value) for value in os.environ.get("SHOT_SIZE", "1800x1100").split("x"))
    browser.screenshot(page, out, width=width, height=height, scale=float(os.environ.get("SHOT_SCALE", "0.75")))
    pngquant = shutil.which("pngquant")
    if pngquant:
        quantise = [pngquant, "--quality", "60-85", "--speed", "1", "-f", "-o", str(out), str(out)]
        subprocess.run(quantise, check=True)  # noqa: S603  (our own arguments)
    print(f"{len(world.vpcs)} VPCs, {len(world.peerings)} connections: built in {built:.1f} s, drawn in {drawn:.1f} s")
    print(f"page {page} ({page.stat().st_size:,} bytes), screenshot {out} ({out.stat().st_size:,} bytes)")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
