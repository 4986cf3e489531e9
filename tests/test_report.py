"""The run report: self-contained HTML, and every chart drawn by headless Chromium from the demo warehouse."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHARTS = ("rsvps", "attendance", "overlap")

# appended to a copy of the report (the report itself has no scripts): after layout, record
# each chart's drawn size and mark count on its figure, for --dump-dom to show
MEASURE = """<script>
for (const figure of document.querySelectorAll('figure.chart')) {
  const svg = figure.querySelector('svg');
  const box = svg ? svg.getBBox() : {width: 0, height: 0};
  const marks = svg ? svg.querySelectorAll('polyline.series, rect.bar').length : 0;
  figure.setAttribute('data-drawn', `${Math.round(box.width)}x${Math.round(box.height)}:${marks}`);
}
</script>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def demo_report(demo_warehouse: Path) -> Path:
    path = demo_warehouse.parent / "reports" / "latest.html"
    assert path.exists(), "every sync (and the demo) writes reports/latest.html"
    return path


def test_report_is_self_contained_and_says_what_was_loaded(demo_report):
    page = demo_report.read_text()
    assert "<script" not in page and not re.search(r"""(src|href)=["']?https?:""", page)
    assert "Freshness per source" in page and "What the last run loaded" in page and "What was rejected" in page
    assert "analytics.people</td>" in page
    assert "mobilize" in page and "attendances: " in page
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in page


def test_charts_draw_series_and_say_when_there_is_no_data():
    week = dt.date(2025, 1, 6)
    svg = report.line_chart([report.Series("a", [(week, 3), (week + dt.timedelta(days=7), 5)]),
                             report.Series("b", [(week, 1)])], "t")
    assert svg.count('class="series"') == 2 and "<svg" in svg
    assert "no data yet" in report.line_chart([], "RSVPs") and "no data yet" in report.bar_chart([], "People")
    assert report.bar_chart([("x", 2), ("x + y", 1)], "t").count('class="bar"') == 2


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (make test installs Debian's "
                                            "`chromium` when run as root with apt-get)")
def test_report_renders_every_chart_in_headless_chromium(demo_report, tmp_path):
    screenshot = tmp_path / "report.png"
    shot = chromium(f"--screenshot={screenshot}", "--window-size=1200,2000", demo_report.as_uri(),
                    profile=tmp_path / "profile")
    assert screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    print(f"report screenshot: {screenshot}")

    measured = tmp_path / "measured.html"
    measured.write_text(demo_report.read_text().replace("</body>", MEASURE + "</body>"))
    dom = chromium("--dump-dom", measured.as_uri(), profile=tmp_path / "profile").stdout
    drawn = dict(re.findall(r'data-chart="(\w+)"[^>]*data-drawn="([^"]+)"', dom))
    assert set(drawn) == set(CHARTS), dom[:2000]
    for chart, size in drawn.items():
        width, height, marks = map(int, re.fullmatch(r"(\d+)x(\d+):(\d+)", size).groups())
        assert width > 100 and height > 15 and marks >= 1, f"{chart} drew {size}"


def test_a_source_has_one_colour_in_every_chart(demo_report):
    page = demo_report.read_text()
    lines = re.findall(r'data-series="(\w+)" fill="none" stroke="(#\w+)"', page)
    bars = re.findall(r'<text [^>]*>(\w+)</text><rect class="bar" [^>]*fill="(#\w+)"', page)
    colours: dict[str, set[str]] = {}
    for source, colour in lines + bars:
        colours.setdefault(source, set()).add(colour)
    assert len(colours) >= 3 and all(len(used) == 1 for used in colours.values()), colours
    assert len({used.pop() for used in colours.values()}) == len(colours), "two sources share a colour"


def test_the_tools_chart_sums_groups_past_its_bars_into_other():
    groups = [(f"tools {n}", 100 - n) for n in range(15)]
    bars = report.top_bars(groups)
    assert len(bars) == report.OVERLAP_BARS and bars[:11] == groups[:11]
    assert bars[-1] == ("other (4 combinations)", sum(n for _, n in groups[11:]))
    assert sum(n for _, n in bars) == sum(n for _, n in groups)
    assert report.top_bars(groups[:12]) == groups[:12]
