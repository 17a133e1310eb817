"""``peerkeeper graph`` against moto: the world of issue 12, every format, the calls it makes, a real browser.

The world: web-vpc <-> api-vpc routed; web-vpc <-> db-vpc active with 3 of its 4 routes missing; a
request from another account (not on the allowlist) to web-vpc, refused; moto's default VPC too.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from peerkeeper import observability  # noqa: F401  (its logger takes sys.stdout at import: before capsys)
from peerkeeper.cli import app, common
from tests.graph import browser
from tests.graph.world import World, build_world
from tests.support import ACCOUNT, OTHER_ACCOUNT, ROOT, CallRecorder, ec2_client, hook_sessions

FORMATS = ("mermaid", "dot", "html")


@pytest.fixture
def world(aws: None) -> World:
    return build_world()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> CallRecorder:
    """Records every AWS call of the CLI (it makes its own boto3 session)."""
    recorded = CallRecorder()
    hook_sessions(monkeypatch, "before-call", recorded)
    return recorded


def graph(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert app.main(["graph", *args]) == common.EXIT_OK
    return capsys.readouterr().out


def default_vpc() -> tuple[str, str]:
    found = ec2_client().describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    return found["VpcId"], found["CidrBlock"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_vpc_connection_and_drift_label_is_drawn(world, capsys, fmt):
    out = graph(capsys, "--format", fmt)

    for name, vpc in world.vpcs.items():
        assert vpc in out, name
        assert world.cidrs[name] in out, name
    assert all(value in out for value in default_vpc())
    for name in ("web-vpc", "api-vpc", "db-vpc"):  # Name tags
        assert name in out
    for pcx in (world.routed, world.drifted, world.refused):
        assert pcx in out
    assert "3 missing" in out
    assert "refused" in out
    assert out.count("missing") >= 1
    assert ACCOUNT in out
    assert OTHER_ACCOUNT in out


def test_mermaid_draws_drift_dotted_and_coloured(world, capsys):
    out = graph(capsys, "--format", "mermaid")

    assert out.startswith("flowchart LR\n")
    drifted = next(line for line in out.splitlines() if world.drifted in line)
    refused = next(line for line in out.splitlines() if world.refused in line)
    routed = next(line for line in out.splitlines() if world.routed in line)
    assert "-.->" in drifted
    assert "3 missing" in drifted
    assert "-.->" in refused
    assert f"pending-acceptance · refused: requester account {OTHER_ACCOUNT} is not allowed" in refused
    assert "-->" in routed
    assert "active" in routed
    assert out.count("subgraph ") == out.count("\n    end") + out.count("\n  end")
    assert re.search(r"linkStyle \d+ stroke:#ea580c", out)


def test_dot_is_accepted_by_graphviz(world, capsys, tmp_path):
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz's dot is not installed (make test installs the Debian package graphviz)")
    out = graph(capsys, "--format", "dot", "--detail", "tables")

    completed = subprocess.run([dot, "-Tsvg"], input=out, capture_output=True, text=True, timeout=60, check=False)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""  # no warning either
    svg = completed.stdout
    for pcx in (world.routed, world.drifted, world.refused):
        assert f">{pcx.replace('-', '&#45;')}</text>" in svg  # Graphviz writes - as &#45;
    assert "3 missing" in svg
    assert "stroke-dasharray" in svg  # the drifted and refused connections are dashed


def test_detail_tables_lists_each_route_table_and_its_missing_routes(world, capsys):
    tables = ec2_client().describe_route_tables()["RouteTables"]
    for fmt in FORMATS:
        out = graph(capsys, "--format", fmt, "--detail", "tables")
        for table in tables:
            assert table["RouteTableId"] in out, (fmt, table["RouteTableId"])
    html = graph(capsys, "--format", "html", "--detail", "tables")
    missing = re.findall(r'<text class="t miss"[^>]*>\+ ([^<]+)</text>', html)
    assert sorted(missing) == sorted([f"10.2.0.0/16 → {world.drifted}"] + [f"10.0.0.0/16 → {world.drifted}"] * 2)


def test_graph_makes_the_calls_plan_makes_and_no_more(world, recorder, capsys):
    app.main(["plan", "--json"])
    plan_calls = sorted(recorder.operations)  # the region's listings are read at once: any order
    recorder.clear()

    for fmt in FORMATS:
        graph(capsys, "--format", fmt, "--detail", "tables")
        assert sorted(recorder.operations) == plan_calls, fmt
        recorder.clear()
    assert all(name.startswith(("Describe", "Get")) for name in plan_calls)  # and none of them mutates


def test_same_world_same_bytes(world, capsys):
    for fmt in FORMATS:
        first = graph(capsys, "--format", fmt, "--detail", "tables")
        assert graph(capsys, "--format", fmt, "--detail", "tables") == first, fmt


def test_output_is_written_atomically_in_the_format_its_suffix_names(world, capsys, tmp_path):
    page = tmp_path / "network.html"
    page.write_text("an older picture")
    expected = graph(capsys, "--format", "html")

    assert app.main(["graph", "--output", str(page)]) == common.EXIT_OK

    assert page.read_text() == expected
    assert f"wrote the html picture to {page}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["network.html"]  # no temporary file left
    dot_file = tmp_path / "network.dot"
    assert app.main(["graph", "--output", str(dot_file)]) == common.EXIT_OK
    assert dot_file.read_text().startswith("digraph peerkeeper {")


def test_an_unwritable_output_is_one_line_on_stderr(world, capsys, tmp_path):
    capsys.readouterr()
    assert app.main(["graph", "--output", str(tmp_path / "no" / "such" / "dir.html")]) == common.EXIT_ERROR
    lines = capsys.readouterr().err.strip().splitlines()  # the progress display may leave a blank line
    assert len(lines) == 1
    assert lines[0].startswith("peerkeeper: error: cannot write ")
    assert "Traceback" not in lines[0]


def test_the_page_fetches_nothing_from_the_network(world, capsys):
    page = graph(capsys, "--format", "html")

    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"""\b(src|href|xlink:href|action|srcset)\s*=""", page, re.IGNORECASE)
    assert not re.search(r"@import|fetch\(|XMLHttpRequest|WebSocket|EventSource|sendBeacon", page)
    assert re.findall(r"url\(([^)]*)\)", page) == [f"#m-{kind}" for kind in re.findall(r"url\(#m-([a-z]+)\)", page)]
    assert page.count("<script") == 2
    assert "<svg" in page


def test_a_real_browser_shows_a_picture(world, capsys, tmp_path):
    if browser.find_browser() is None:
        pytest.skip("no Chromium: install the Debian package chromium (make test does it with apt-get when it can)")
    page = tmp_path / "network.html"
    assert app.main(["graph", "--output", str(page)]) == common.EXIT_OK

    shot = browser.screenshot(page, tmp_path / "shot.png", width=1200, height=700)

    counted = browser.colours(shot)
    total = sum(counted.values())
    background, most = counted.most_common(1)[0]
    assert len(counted) > 50, "too few colours: the page looks blank"
    assert most / total < 0.8, f"{most / total:.0%} of the screenshot is one colour {background}"
    palette = {(0x16, 0xA3, 0x4A), (0xEA, 0x58, 0x0C), (0xDC, 0x26, 0x26)}  # routed, missing, refused
    assert palette <= set(counted), "the connections' colours are not on the screenshot"


def test_github_s_renderer_draws_the_mermaid(world, capsys, tmp_path):
    """Mermaid itself (the npm package GitHub's renderer is built on), strict security, in Chromium."""
    if browser.find_browser() is None:
        pytest.skip("no Chromium: install the Debian package chromium (make test does it with apt-get when it can)")
    script = browser.mermaid_js(ROOT / ".tools" / "mermaid")
    if script is None:
        pytest.skip("no npm: Mermaid's browser bundle comes from the npm registry (install the Debian package npm)")
    for detail in ((), ("--detail", "tables")):
        page = browser.mermaid_page(graph(capsys, "--format", "mermaid", *detail), script, tmp_path / "mermaid.html")

        document = browser.dom(page, budget_ms=10_000)

        assert "<title>rendered</title>" in document, re.findall(r"<title>[^<]*</title>", document)
        drawn = document[document.index("<svg") :]
        for pcx in (world.routed, world.drifted, world.refused):
            assert pcx in drawn
        assert "3 missing" in drawn
