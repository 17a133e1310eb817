"""Connection labels on the HTML picture: clear of the cards, the headers and each other, never across a frame.

Issue 22: in the demo's picture the stranger's connection label sat across the other account's
frame. The world here is the demo's after its story (api-vpc and web-vpc peered with two conflicts,
the default VPC, a stranger's refused request from another account), with the connection IDs in
both orders: the curves bow one way or the other by their order, so both placements are tried.
The estimated boxes are checked here; Chromium checks the boxes it really draws.
"""

from __future__ import annotations

import re

import pytest

from peerkeeper.graph import Observed, build, render
from peerkeeper.graph.html import FRAME_HEAD, PANEL_HEAD
from peerkeeper.graph.model import Picture
from peerkeeper.model import Finding, Peering, PeeringSide, Plan, Vpc
from tests.graph import browser

ME, THEM, EAST = "123456789012", "210987654321", "us-east-1"


def vpc(vpc_id: str, cidr: str, name: str = "", owner: str = ME) -> Vpc:
    return Vpc(vpc_id, owner, EAST, (cidr,), (), False, name)


def side(of: Vpc) -> PeeringSide:
    return PeeringSide(of.owner_id, of.id, of.region, of.cidrs)


def demo_world(routed: str, refused: str) -> Picture:
    web, api = vpc("vpc-0a", "10.0.0.0/16", "web-vpc"), vpc("vpc-0b", "10.1.0.0/16", "api-vpc")
    default, stranger = vpc("vpc-0c", "172.31.0.0/16"), vpc("vpc-0e", "10.2.0.0/16", owner=THEM)
    peerings = (
        Peering(routed, "active", side(api), side(web)),
        Peering(refused, "pending-acceptance", side(stranger), side(web)),
    )
    conflicts = tuple(
        Finding(table, EAST, f"{table}: 52.94.0.0/16 not routed via {routed}", {"wanted": routed})
        for table in ("rtb-a1", "rtb-a2")
    )
    plans = (
        Plan("peering", refused=(Finding(refused, EAST, f"requester account {THEM} is not allowed"),)),
        Plan("routes", conflicts=conflicts),
        Plan("dns"),
        Plan("flow_logs"),
    )
    return build([Observed(ME, EAST, plans, (web, api, default), (), peerings)])


ORDERS = [("pcx-1", "pcx-2"), ("pcx-2", "pcx-1")]
LABEL = re.compile(r'<text class="elabel[^"]*" id="l-([^"]+)"[^>]*transform="translate\(([-\d.]+),([-\d.]+)\)">')
BOX = re.compile(r'<g class="(frame|panel[^"]*)" id="(\w+)" transform="translate\(([\d.]+),([\d.]+)\)">')
SIZE = re.compile(r'<rect class="(?:frame|panel)-bg" width="([\d.]+)" height="([\d.]+)"')
CARD = re.compile(r'<g class="card[^"]*" id="c-[^"]+" data-vpc="[^"]+" transform="translate\(([\d.]+),([\d.]+)\)">')


Rect = tuple[float, float, float, float]


def boxes(page: str) -> tuple[list[Rect], list[Rect], list[Rect]]:
    """Label boxes (estimated as the layout does), frame and panel boxes, and the obstacles."""
    labels: list[Rect] = []
    for pcx, x, y in LABEL.findall(page):
        lines = re.findall(
            r"<tspan[^>]*>([^<]*)</tspan>", page[page.index(f'id="l-{pcx}"') :].split("</text>", maxsplit=1)[0]
        )
        w, h = max(len(line) for line in lines) * 6.3 + 6, len(lines) * 12.5 + 2
        labels.append((float(x) - w / 2, float(y) - h / 2, float(x) + w / 2, float(y) + h / 2))
    containers: list[Rect] = []
    obstacles: list[Rect] = []
    frame_x = frame_y = 0.0
    for (kind, _id, x, y), (w, h) in zip(BOX.findall(page), SIZE.findall(page), strict=True):
        if kind == "frame":
            frame_x, frame_y = float(x), float(y)
            left, top = frame_x, frame_y
            obstacles.append((left, top, left + float(w), top + FRAME_HEAD))
        else:
            left, top = frame_x + float(x), frame_y + float(y)
            obstacles.append((left, top, left + float(w), top + PANEL_HEAD))
        containers.append((left, top, left + float(w), top + float(h)))
    card_w, card_h = (float(v) for v in re.findall(r'<rect width="([\d.]+)" height="([\d.]+)" rx="7"/>', page)[0])
    obstacles += [(float(x), float(y), float(x) + card_w, float(y) + card_h) for x, y in CARD.findall(page)]
    return labels, containers, obstacles


def apart(a: Rect, b: Rect) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def inside(a: Rect, b: Rect) -> bool:
    return b[0] <= a[0] and a[2] <= b[2] and b[1] <= a[1] and a[3] <= b[3]


@pytest.mark.parametrize(("routed", "refused"), ORDERS)
def test_labels_stay_clear_of_cards_headers_and_other_frames(routed, refused):
    page = render(demo_world(routed, refused), "html")

    labels, containers, obstacles = boxes(page)

    assert len(labels) == 2
    assert len(containers) == 4  # two accounts, one region panel each
    for n, label in enumerate(labels):
        assert all(apart(label, other) for other in obstacles + labels[n + 1 :]), label
        assert all(inside(label, box) or apart(label, box) for box in containers), label


@pytest.mark.parametrize(("routed", "refused"), ORDERS)
def test_a_real_browser_draws_the_labels_clear_of_everything(routed, refused, tmp_path):
    if browser.find_browser() is None:
        pytest.skip("no Chromium: install the Debian package chromium (make test does it with apt-get when it can)")
    page = tmp_path / "page.html"
    page.write_text(render(demo_world(routed, refused), "html"), encoding="utf-8")

    count, clashes = browser.label_clashes(page, tmp_path)

    assert (count, clashes) == (2, [])
