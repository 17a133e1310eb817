"""The picture's model and renderers, from hand-built plans and inventories (no AWS).

Cases the moto world of test_graph_cli.py cannot hold: a conflict, a planned accept, an ignored VPC,
a connection seen from two regions, a gone connection, a flow-log concern that could not observe,
a hostile Name tag, input in any order, and 200 VPCs laid out without overlap.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from dataclasses import replace

import pytest

from peerkeeper.graph import FORMATS, Observed, build, render
from peerkeeper.graph.model import FLOW_IGNORED, FLOW_MISSING, FLOW_ON, FLOW_UNKNOWN, Picture
from peerkeeper.model import Action, Finding, Peering, PeeringSide, Plan, Route, RouteTable, Vpc
from tests.graph import browser
from tests.support import ROOT

ME, THEM = "111111111111", "222222222222"
EAST, WEST = "us-east-1", "eu-west-1"


def vpc(vpc_id: str, cidr: str, name: str = "", region: str = EAST, owner: str = ME, ignored: bool = False) -> Vpc:
    return Vpc(vpc_id, owner, region, (cidr,), (), ignored, name)


def side(of: Vpc) -> PeeringSide:
    return PeeringSide(of.owner_id, of.id, of.region, of.cidrs)


def peering(pcx: str, requester: Vpc, accepter: Vpc, status: str = "active") -> Peering:
    return Peering(pcx, status, side(requester), side(accepter))


def route(table: str, destination: str, pcx: str, kind: str = "create-route") -> Action:
    params = {"RouteTableId": table, "DestinationCidrBlock": destination, "VpcPeeringConnectionId": pcx}
    return Action(kind, table, EAST, f"{table} has no route for {destination} via {pcx}", params)


WEB = vpc("vpc-0a", "10.0.0.0/16", "web")
API = vpc("vpc-0b", "10.1.0.0/16", "api")
DB = vpc("vpc-0c", "10.2.0.0/16", "db")
LAB = vpc("vpc-0d", "10.3.0.0/16", "lab", ignored=True)
STRANGER = vpc("vpc-0e", "10.9.0.0/16", owner=THEM)
TABLES = (
    RouteTable("rtb-a1", WEB.id, EAST, (Route("10.0.0.0/16", "local"), Route("10.1.0.0/16", "pcx-1"))),
    RouteTable("rtb-b1", API.id, EAST, (Route("10.1.0.0/16", "local"), Route("10.0.0.0/16", "igw-1"))),
    RouteTable("rtb-c1", DB.id, EAST, (Route("10.2.0.0/16", "local"),)),
    RouteTable("rtb-c2", DB.id, EAST, (Route("10.0.0.0/16", "pcx-9", "blackhole"),)),
)
PEERINGS = (
    peering("pcx-1", API, WEB),  # routed; rtb-b1 sends 10.0.0.0/16 to igw-1: a conflict
    peering("pcx-2", WEB, DB),  # 3 routes missing (one of them a dead route to replace)
    peering("pcx-3", STRANGER, WEB, "pending-acceptance"),  # refused
    peering("pcx-4", API, LAB, "pending-acceptance"),  # to be accepted (same account)
    peering("pcx-9", WEB, DB, "deleted"),  # gone: not drawn
)
PLANS = (
    Plan(
        "peering",
        actions=(Action("accept-peering", "pcx-4", EAST, "allowed", {"VpcPeeringConnectionId": "pcx-4"}),),
        refused=(Finding("pcx-3", EAST, f"requester account {THEM} is not allowed"),),
    ),
    Plan(
        "routes",
        actions=(
            route("rtb-a1", "10.2.0.0/16", "pcx-2"),
            route("rtb-c1", "10.0.0.0/16", "pcx-2"),
            route("rtb-c2", "10.0.0.0/16", "pcx-2", "replace-route"),
        ),
        conflicts=(Finding("rtb-b1", EAST, "rtb-b1 routes 10.0.0.0/16 to igw-1, not pcx-1", {"wanted": "pcx-1"}),),
    ),
    Plan("dns"),
    Plan(
        "flow_logs",
        actions=(Action("create-flow-logs", DB.id, EAST, "1 VPC(s) have no flow log", {"ResourceIds": [DB.id]}),),
    ),
)
OBSERVED = Observed(ME, EAST, PLANS, (WEB, API, DB, LAB), TABLES, PEERINGS)


def picture(*observed: Observed, detail: bool = True) -> Picture:
    return build(list(observed or (OBSERVED,)), detail=detail)


def test_each_connection_carries_what_the_plan_says_about_it():
    edges = {edge.id: edge for edge in picture().edges}

    assert sorted(edges) == ["pcx-1", "pcx-2", "pcx-3", "pcx-4"]  # pcx-9 is gone
    assert (edges["pcx-1"].marks, edges["pcx-1"].kind) == (("1 conflict",), "conflict")
    assert (edges["pcx-2"].marks, edges["pcx-2"].kind) == (("3 missing",), "missing")
    assert [m.replace for m in edges["pcx-2"].missing] == [False, False, True]
    assert (edges["pcx-3"].marks, edges["pcx-3"].kind) == (("refused",), "refused")
    assert edges["pcx-3"].refused == f"requester account {THEM} is not allowed"
    assert edges["pcx-3"].explained_marks == (f"refused: requester account {THEM} is not allowed",)
    assert edges["pcx-3"].cross_account
    assert (edges["pcx-4"].marks, edges["pcx-4"].kind) == (("will accept",), "planned")
    assert edges["pcx-2"].label == "pcx-2 · active · 3 missing"


def test_flow_log_state_comes_from_the_flow_logs_plan():
    states = {node.id: node.flow_logs for node in picture().vpcs}

    assert states == {
        WEB.id: FLOW_ON,
        API.id: FLOW_ON,
        DB.id: FLOW_MISSING,
        LAB.id: FLOW_IGNORED,
        STRANGER.id: "unknown",
    }
    failed = replace(OBSERVED, plans=(*PLANS[:3], Plan("flow_logs", problems=(Finding("flow_logs", EAST, "x"),))))
    assert {node.flow_logs for node in picture(failed).vpcs} == {FLOW_UNKNOWN, FLOW_IGNORED}


def test_a_vpc_known_only_through_a_connection_is_drawn_in_its_own_account():
    drawn = picture()
    groups = {(group.account, group.region): [v.id for v in group.vpcs] for group in drawn.groups}

    assert groups[(THEM, EAST)] == [STRANGER.id]
    stranger = next(node for node in drawn.vpcs if node.id == STRANGER.id)
    assert (stranger.observed, stranger.cidrs, stranger.name) == (False, ("10.9.0.0/16",), "")
    assert drawn.accounts == (ME,)


def test_a_connection_seen_from_two_regions_is_drawn_once_with_the_accepters_status():
    west = vpc("vpc-0f", "10.5.0.0/16", "west", region=WEST)
    from_east = Observed(ME, EAST, (), (WEB,), (), (peering("pcx-x", WEB, west, "pending-acceptance"),))
    from_west = Observed(ME, WEST, (), (west,), (), (peering("pcx-x", WEB, west, "active"),))

    for order in ((from_east, from_west), (from_west, from_east)):
        edges = picture(*order).edges
        assert [(edge.id, edge.status, edge.cross_region) for edge in edges] == [("pcx-x", "active", True)]


def test_detail_tables_lists_the_missing_routes_and_conflicts_of_each_table():
    tables = {table.id: table for node in picture().vpcs for table in node.tables}

    assert sorted(tables) == ["rtb-a1", "rtb-b1", "rtb-c1", "rtb-c2"]
    assert [m.destination for m in tables["rtb-a1"].missing] == ["10.2.0.0/16"]
    assert tables["rtb-b1"].conflicts == ("rtb-b1 routes 10.0.0.0/16 to igw-1, not pcx-1",)
    assert tables["rtb-b1"].routes == ("10.0.0.0/16 → igw-1", "10.1.0.0/16 → local")
    assert picture(detail=False).vpcs[0].tables == ()


def reversed_world() -> Observed:
    plans = tuple(replace(plan, actions=plan.actions[::-1]) for plan in PLANS[::-1])
    return Observed(ME, EAST, plans, OBSERVED.vpcs[::-1], OBSERVED.tables[::-1], OBSERVED.peerings[::-1])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_order_things_were_read_in_does_not_change_a_byte(fmt):
    for detail in (False, True):
        assert render(picture(reversed_world(), detail=detail), fmt) == render(picture(detail=detail), fmt)


HOSTILE = 'x"]:::vpc\n  end\nclick n_vpc_0a call alert(1) <script>alert(1)</script> & `#quot;|{}\\'


def hostile_picture() -> Picture:
    named = replace(WEB, name=HOSTILE)
    return picture(replace(OBSERVED, vpcs=(named, API, DB, LAB)))


MERMAID_LINES = re.compile(
    r'flowchart LR|end|subgraph \w+\["[^"]*"\]|\w+\["[^"]*"\]:::\w+|\w+ (-->|-\.->)\|"[^"]*"\| \w+'
    r"|linkStyle \d+ [\w:#.,\- ]+|classDef \w+ [\w:#.,\- ]+"
)


def test_a_hostile_name_tag_stays_text_in_mermaid():
    out = render(hostile_picture(), "mermaid")

    for line in out.splitlines():  # every line is one of the shapes peerkeeper writes: nothing injected
        assert MERMAID_LINES.fullmatch(line.strip()), line
    assert "<script>" not in out
    label = "x#34;]:::vpc end click n_vpc_0a call alert(1) #60;script#62;alert(1)#60;/script#62;"
    assert f'["{label} #38; #96;#35;quot;#124;{{}}#92;<br/>vpc-0a' in out


def test_mermaid_itself_draws_the_hostile_name_as_text(tmp_path):
    script = browser.mermaid_js(ROOT / ".tools" / "mermaid") if browser.find_browser() else None
    if script is None:
        pytest.skip("needs Chromium and npm (Mermaid's browser bundle comes from the npm registry)")
    page = browser.mermaid_page(render(hostile_picture(), "mermaid"), script, tmp_path / "mermaid.html")

    document = browser.dom(page, budget_ms=10_000)

    assert "<title>rendered</title>" in document, re.findall(r"<title>[^<]*</title>", document)
    drawn = document[document.index("<svg") :]
    assert "click n_vpc_0a call alert(1)" in drawn  # shown as text,
    assert "<script>alert" not in drawn  # never markup


def test_a_hostile_name_tag_stays_text_in_dot_and_html():
    out = render(hostile_picture(), "dot")
    page = render(hostile_picture(), "html")

    assert "<B>x&quot;]:::vpc end click n_vpc_0a call alert(1) &lt;script&gt;alert(1)&lt;/script&gt; &amp;" in out
    assert '"vpc-0a x\\"]:::vpc' in out  # the tooltip: a quoted DOT string
    assert "<script>alert" not in page
    assert page.count("<script") == 2
    dot = shutil.which("dot")
    if dot is not None:
        completed = subprocess.run([dot, "-Tsvg"], input=out, capture_output=True, text=True, timeout=60, check=False)
        assert (completed.returncode, completed.stderr) == (0, "")
        assert "<script" not in completed.stdout


# -- at scale ---------------------------------------------------------------------------------
def large_world(per_region: dict[str, int], drift_in: frozenset[str]) -> list[Observed]:
    """Chains of VPCs per region, each peered with the next; routes missing only in ``drift_in``."""
    observed, index = [], 0
    for region, count in per_region.items():
        vpcs = []
        for n in range(count):
            vpcs.append(vpc(f"vpc-{index:05x}", f"10.{index // 256}.{index % 256}.0/24", f"{region}-{n:03d}", region))
            index += 1
        peerings = tuple(
            peering(f"pcx-{region}-{n:03d}", left, right) for n, (left, right) in enumerate(itertools.pairwise(vpcs))
        )
        actions = tuple(
            route(f"rtb-{p.id}", "10.0.0.0/24", p.id)
            for n, p in enumerate(peerings)
            if region in drift_in and n % 5 == 0
        )
        observed.append(Observed(ME, region, (Plan("routes", actions=actions),), tuple(vpcs), (), peerings))
    return observed


CARD = re.compile(
    r'<g class="card[^"]*" id="c-([^"]+)" data-vpc="[^"]+" transform="translate\(([\d.]+),([\d.]+)\)">'
    r'<title>[^<]*</title><rect width="([\d.]+)" height="([\d.]+)"'
)


def test_two_hundred_vpcs_are_laid_out_without_overlap():
    drawn = picture(*large_world({"us-east-1": 110, "eu-west-1": 60, "ap-southeast-2": 30}, frozenset({EAST})))
    page = render(drawn, "html")

    boxes = {m[0]: tuple(float(v) for v in m[1:]) for m in CARD.findall(page)}
    assert len(boxes) == len(drawn.vpcs) == 200
    size = re.search(r'<svg id="map"[^>]* width="([\d.]+)" height="([\d.]+)"', page)
    assert size is not None
    width, height = (float(v) for v in size.groups())
    ordered = sorted(boxes.values())
    for n, (x, y, w, h) in enumerate(ordered):
        assert x + w <= width
        assert y + h <= height
        for ox, oy, _ow, oh in ordered[n + 1 :]:
            if ox >= x + w:
                break
            assert oy >= y + h or oy + oh <= y, "two cards overlap"
    assert width <= 1480


def test_a_real_browser_collapses_the_groups_without_drift(tmp_path):
    if browser.find_browser() is None:
        pytest.skip("no Chromium: install the Debian package chromium (make test does it with apt-get when it can)")
    drawn = picture(*large_world({EAST: 12, WEST: 8}, frozenset({EAST})))
    page = tmp_path / "page.html"
    page.write_text(render(drawn, "html"))

    document = browser.dom(page, "collapse")

    assert 'data-ready="yes"' in document, "the page's script did not finish"
    hidden = set(re.findall(r'<g class="card[^"]* hidden" id="c-([^"]+)"', document))
    assert hidden == {node.id for node in drawn.vpcs if node.region == WEST}
