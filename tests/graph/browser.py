"""A real browser for the graph tests: headless Chromium takes a screenshot; a tiny PNG reader judges it.

Chromium runs with the network cut off (an unreachable proxy, every host name unresolvable), so a
page that needed anything from the network would show less, not fetch it. The PNG reader handles
what Chromium writes (8-bit RGB or RGBA, non-interlaced) with zlib only: no image library needed.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",  # the discard port: any fetch would fail
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def find_browser() -> str | None:
    configured = os.environ.get("PEERKEEPER_BROWSER")
    if configured:
        return configured
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def screenshot(
    page: Path, out: Path, width: int = 1600, height: int = 1000, scale: float = 1.0, timeout: float = 90
) -> Path:
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium found")
    with tempfile.TemporaryDirectory(prefix="peerkeeper-chromium-") as profile:
        completed = subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={width},{height}",
                f"--force-device-scale-factor={scale}",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if completed.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return out


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytes]:
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    position = 0
    for _ in range(height):
        kind = raw[position]
        line = bytearray(raw[position + 1 : position + 1 + stride])
        position += 1 + stride
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows


def read_png(path: Path) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of raw pixel bytes, bytes per pixel) of an 8-bit RGB/RGBA PNG."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    bpp = 3 if colour == 2 else 4
    return width, height, _unfilter(zlib.decompress(idat), width, height, bpp), bpp


def colours(path: Path, step: int = 3) -> Counter[tuple[int, ...]]:
    """How often each colour appears, sampling every ``step``-th pixel of every ``step``-th row."""
    width, _height, rows, bpp = read_png(path)
    counted: Counter[tuple[int, ...]] = Counter()
    for row in rows[::step]:
        for x in range(0, width, step):
            counted[tuple(row[x * bpp : x * bpp + 3])] += 1
    return counted
