"""A real browser for the graph tests: headless Chromium takes a screenshot; a tiny PNG reader judges it.

Chromium runs with the network cut off (an unreachable proxy, every host name unresolvable), so a
page that needed anything from the network would show less, not fetch it. The PNG reader handles
what Chromium writes (8-bit RGB or RGBA, non-interlaced) with zlib only: no image library needed.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import tarfile
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


def _run(arguments: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium found")
    with tempfile.TemporaryDirectory(prefix="peerkeeper-chromium-") as profile:
        completed = subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", *arguments],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"chromium failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return completed


def screenshot(
    page: Path, out: Path, width: int = 1600, height: int = 1000, scale: float = 1.0, timeout: float = 90
) -> Path:
    """Chromium opens ``page`` and saves what a ``width`` x ``height`` window shows as a PNG."""
    window = [f"--window-size={width},{height}", f"--force-device-scale-factor={scale}"]
    _run([f"--screenshot={out}", *window, page.resolve().as_uri()], timeout)
    if not out.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {out}")
    return out


def dom(page: Path, fragment: str = "", timeout: float = 90, budget_ms: int = 0) -> str:
    """The document after Chromium loaded ``page`` (``#fragment``) and ran its script.

    ``budget_ms`` lets asynchronous rendering finish (virtual time: no real waiting).
    """
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    budget = [f"--virtual-time-budget={budget_ms}"] if budget_ms else []
    return _run(["--window-size=1400,900", *budget, "--dump-dom", url], timeout).stdout


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


MERMAID_VERSION = "11.17.2"


def mermaid_js(cache: Path) -> Path | None:
    """Mermaid's browser bundle from the npm registry (``npm pack``), cached; ``None`` without npm."""
    target = cache / f"mermaid-{MERMAID_VERSION}.min.js"
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="peerkeeper-mermaid-") as scratch:
        subprocess.run(
            [npm, "pack", f"mermaid@{MERMAID_VERSION}", "--pack-destination", scratch, "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        with tarfile.open(Path(scratch) / f"mermaid-{MERMAID_VERSION}.tgz") as archive:
            member = archive.extractfile("package/dist/mermaid.min.js")
            if member is None:
                raise RuntimeError("mermaid.min.js not in the npm package")
            # Test workers may fetch it at the same time: each writes its own file, then renames.
            with tempfile.NamedTemporaryFile(dir=cache, suffix=".tmp", delete=False) as temporary:
                temporary.write(member.read())
            Path(temporary.name).replace(target)
    return target


def mermaid_page(source: str, script: Path, out: Path) -> Path:
    """A page that renders ``source`` with Mermaid as GitHub does (strict security) and says how it went."""
    shutil.copyfile(script, out.parent / "mermaid.min.js")
    out.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>pending</title>'
        '<script src="mermaid.min.js"></script></head><body>'
        f'<pre class="mermaid">{html.escape(source)}</pre><script>'
        'mermaid.initialize({startOnLoad: false, securityLevel: "strict"});'
        'mermaid.run().then(function () { document.title = "rendered"; })'
        '.catch(function (e) { document.title = "failed: " + e.message; });'
        "</script></body></html>"
    )
    return out


# What Chromium measures of the page's own drawing: each connection label's box as rendered (the
# real font, not the layout's estimate) against the cards, the account and region headers, the
# frames' and panels' edges, and the other labels.
_LABEL_CHECK = """<script>(function(){
function r(e){var b=e.getBoundingClientRect();return [b.left,b.top,b.right,b.bottom];}
function apart(a,b){return a[2]<=b[0]||b[2]<=a[0]||a[3]<=b[1]||b[3]<=a[1];}
function inside(a,o){return o[0]<=a[0]&&a[2]<=o[2]&&o[1]<=a[1]&&a[3]<=o[3];}
function all(q){return [].slice.call(document.querySelectorAll(q));}
var labels=all(".elabel").map(function(l){return [l.id,r(l)];}),bad=[];
var heads=all(".frame-title,.panel-head rect").map(function(e){return [e.textContent||"header",r(e)];});
var cards=all(".card").map(function(c){return [c.id,r(c.querySelector("rect"))];});
var boxes=all(".frame-bg,.panel-bg").map(function(e){return [e.parentNode.id,r(e)];});
labels.forEach(function(l,i){
 heads.concat(cards).forEach(function(o){if(!apart(l[1],o[1]))bad.push(l[0]+" overlaps "+o[0]);});
 boxes.forEach(function(o){if(!inside(l[1],o[1])&&!apart(l[1],o[1]))bad.push(l[0]+" crosses the edge of "+o[0]);});
 labels.slice(i+1).forEach(function(o){if(!apart(l[1],o[1]))bad.push(l[0]+" overlaps "+o[0]);});});
document.body.setAttribute("data-labels",labels.length);
document.body.setAttribute("data-clashes",bad.join("; "));
})();</script>"""


def label_clashes(page: Path, scratch: Path) -> tuple[int, list[str]]:
    """(labels drawn, what each label overlaps or crosses) as Chromium renders ``page``."""
    checked = scratch / f"checked-{page.name}"
    checked.write_text(page.read_text(encoding="utf-8").replace("</body>", _LABEL_CHECK + "</body>"), encoding="utf-8")
    document = dom(checked)
    count = re.search(r'data-labels="(\d+)"', document)
    clashes = re.search(r'data-clashes="([^"]*)"', document)
    if count is None or clashes is None:
        raise RuntimeError("the label check did not run in Chromium")
    return int(count.group(1)), [clash for clash in html.unescape(clashes.group(1)).split("; ") if clash]
