"""The run report: one static, self-contained HTML page written after each sync.

`reports/latest.html` beside the warehouse (`<warehouse dir>/reports/latest.html`; for the
default warehouse that is `reports/` at the repo root). No scripts, no fonts, no CDN: the
charts are inline SVG drawn here, so the page opens anywhere, offline, and can be mailed.

It shows what each source's last run loaded, what was rejected (load jobs dlt gave up on,
dbt models and tests that failed, mart rows that could not be linked to a person or event),
freshness per source, and charts: RSVPs and attendance over time per source, and the
overlap of people between tools.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from dataclasses import dataclass
from pathlib import Path

from pipelines import runlog
from pipelines.sources import SOURCES
from pipelines.sql import identifier
from pipelines.status import WarehouseStatus, collect, when
from pipelines.warehouse import Reader, WarehouseError, WarehouseMissing, connect_marts, connect_warehouse

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
# a source keeps its colour in every chart; anything else (several tools together, "other") is grey
SOURCE_COLOURS = dict(zip(SOURCES, PALETTE))
NEUTRAL = "#6e7781"
# the tools-combination chart's bars; smaller groups are summed in one last "other" bar
OVERLAP_BARS = 12


def report_dir(warehouse: Path) -> Path:
    return warehouse.parent / "reports"


def report_path(warehouse: Path) -> Path:
    return report_dir(warehouse) / "latest.html"


@dataclass
class Series:
    name: str
    points: list[tuple[dt.date, int]]


# ----------------------------------------------------------------------------- data

# standard SQL, run as it is on DuckDB and Postgres
RSVPS_BY_WEEK = """
    select source, cast(date_trunc('week', rsvp_at) as date) as week, count(*) as n
    from analytics.attendances where rsvp_at is not null group by 1, 2 order by source, week"""

ATTENDED_BY_WEEK = """
    select a.source, cast(date_trunc('week', coalesce(e.start_at, a.rsvp_at)) as date) as week, count(*) as n
    from analytics.attendances as a left join analytics.events as e using (event_id)
    where a.attended and coalesce(e.start_at, a.rsvp_at) is not null group by 1, 2 order by a.source, week"""

# `sources` is in name order (the people mart sorts it, on either engine)
PEOPLE_OVERLAP = """
    select array_to_string(sources, ' + ') as tools, count(*) as n
    from analytics.people group by 1 order by n desc, tools"""

UNLINKED = """
    select source,
           count(*) filter (where person_id is null) as without_person,
           count(*) filter (where event_id is null) as without_event,
           count(*) as rsvps
    from analytics.attendances group by 1 order by source"""


def _connect(warehouse: Path) -> tuple[Reader | None, str]:
    """The warehouse read-only; the published marts when a sync holds the DuckDB file."""
    try:
        return connect_warehouse(warehouse), ""
    except WarehouseMissing as missing:
        return None, str(missing)
    except WarehouseError as busy:
        note = f"{warehouse} could not be opened ({busy})"
    try:
        marts = connect_marts(warehouse)
    except WarehouseError:
        return None, note
    return marts, f"read from {marts.where}"


def _has_marts(con: Reader) -> bool:
    return con.value("select count(*) from information_schema.tables where table_schema = 'analytics' "
                     "and table_name in ('attendances', 'events', 'people')") == 3


def _series(con: Reader, sql: str) -> list[Series]:
    """Weekly counts per source; weeks without any are zeros, so lines do not bridge gaps."""
    by_source: dict[str, dict[dt.date, int]] = {}
    for source, week, count in con.rows(sql):
        by_source.setdefault(source, {})[week] = count
    weeks = sorted({week for counts in by_source.values() for week in counts})
    if not weeks:
        return []
    every_week = [weeks[0] + dt.timedelta(days=7 * i) for i in range((weeks[-1] - weeks[0]).days // 7 + 1)]
    return [Series(name, [(week, counts.get(week, 0)) for week in every_week]) for name, counts in by_source.items()]


# ----------------------------------------------------------------------------- charts

def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _empty_svg(width: int, height: int, message: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'viewBox="0 0 {width} {height}"><rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" '
            f'fill="#fafafa" stroke="#ccc"/><text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
            f'fill="#666" font-size="14">{html.escape(message)}</text></svg>')


def line_chart(series: list[Series], title: str, width: int = 760, height: int = 280) -> str:
    """Weekly counts, one line per series, with axes, gridlines and a legend."""
    points = [point for s in series for point in s.points]
    if not points:
        return _empty_svg(width, height, f"{title}: no data yet")
    left, right, top, bottom = 56, 150, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    first, last = min(d for d, _ in points), max(d for d, _ in points)
    span = max((last - first).days, 1)
    y_max = _nice_max(max(n for _, n in points))

    def x(day: dt.date) -> float:
        return left + plot_w * ((day - first).days / span if last != first else 0.5)

    def y(count: float) -> float:
        return top + plot_h * (1 - count / y_max)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'viewBox="0 0 {width} {height}" font-size="11" font-family="sans-serif">',
             f"<title>{html.escape(title)}</title>"]
    divisions = 4 if y_max % 4 == 0 else 5
    for i in range(divisions + 1):
        value = y_max * i / divisions
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'stroke="#e5e5e5"/><text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                     f'fill="#555">{value:g}</text>')
    for i in range(5):
        day = first + dt.timedelta(days=round(span * i / 4))
        parts.append(f'<text x="{x(day):.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#555">'
                     f'{day.isoformat()}</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#999"/>'
                 f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#999"/>')
    for index, s in enumerate(series):
        color = SOURCE_COLOURS.get(s.name, NEUTRAL)
        coords = " ".join(f"{x(d):.1f},{y(n):.1f}" for d, n in sorted(s.points))
        parts.append(f'<polyline class="series" data-series="{html.escape(s.name)}" fill="none" '
                     f'stroke="{color}" stroke-width="2" points="{coords}"/>')
        for d, n in s.points:
            parts.append(f'<circle cx="{x(d):.1f}" cy="{y(n):.1f}" r="2.5" fill="{color}">'
                         f"<title>{html.escape(s.name)} week of {d}: {n}</title></circle>")
        legend_y = top + 14 + index * 18
        parts.append(f'<rect x="{left + plot_w + 16}" y="{legend_y - 9}" width="12" height="12" fill="{color}"/>'
                     f'<text x="{left + plot_w + 34}" y="{legend_y + 1}" fill="#333">{html.escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def top_bars(bars: list[tuple[str, int]], shown: int = OVERLAP_BARS) -> list[tuple[str, int]]:
    """The largest bars, and past `shown` one more summing the rest, so no group silently drops out."""
    if len(bars) <= shown:
        return bars
    rest = bars[shown - 1:]
    return [*bars[:shown - 1], (f"other ({len(rest)} combinations)", sum(n for _, n in rest))]


def bar_chart(bars: list[tuple[str, int]], title: str, width: int = 760) -> str:
    """Horizontal bars, labelled, largest first."""
    if not bars:
        return _empty_svg(width, 120, f"{title}: no data yet")
    label_w, bar_h, gap, top = 300, 22, 8, 8
    height = top * 2 + len(bars) * (bar_h + gap)
    most = max(n for _, n in bars) or 1
    plot_w = width - label_w - 80
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'viewBox="0 0 {width} {height}" font-size="12" font-family="sans-serif">',
             f"<title>{html.escape(title)}</title>"]
    for index, (label, n) in enumerate(bars):
        y = top + index * (bar_h + gap)
        length = max(plot_w * n / most, 1)
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" fill="#333">'
                     f'{html.escape(label)}</text>'
                     f'<rect class="bar" x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" '
                     f'fill="{SOURCE_COLOURS.get(label, NEUTRAL)}"><title>{html.escape(label)}: {n:,}</title></rect>'
                     f'<text x="{label_w + length + 6:.1f}" y="{y + bar_h * 0.7:.1f}" fill="#333">{n:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ----------------------------------------------------------------------------- page

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 4px 10px; border-bottom: 1px solid #eee;
 text-align: left; vertical-align: top; } th { background: #f5f5f5; } td.n { text-align: right; }
.ok, .passed, .loaded { color: #1a7f37; } .stale, .skipped { color: #9a6700; } .failing, .failed { color: #cf222e; font-weight: bold; }
.muted { color: #777; } figure { margin: 12px 0 24px; } figcaption { font-weight: 600; margin-bottom: 4px; }
"""


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body or f'<tr><td colspan={len(headers)} class=muted>none</td></tr>'}</table>"


def _state(text: str) -> str:
    return f'<span class="{html.escape(text.replace(" ", "-"))}">{html.escape(text)}</span>'


def _figure(name: str, caption: str, svg: str) -> str:
    return f'<figure class="chart" data-chart="{name}"><figcaption>{html.escape(caption)}</figcaption>{svg}</figure>'


def build(warehouse: Path, now: float | None = None, status: WarehouseStatus | None = None,
          records: list[runlog.RunRecord] | None = None) -> str:
    """The page; a sync that has its status and run log already passes them in (`summary.finish_sync`)."""
    now = runlog.now() if now is None else now
    records = runlog.read(warehouse) if records is None else records
    status = status or collect(warehouse, now, records)
    con, note = _connect(warehouse)
    rsvps, attended, overlap, unlinked, marts = [], [], [], [], []
    if con is not None:
        with con:
            if _has_marts(con):
                marts = [(name, con.value(f"select count(*) from analytics.{identifier(name)}"))
                         for (name,) in con.rows("select table_name from information_schema.tables "
                                                 "where table_schema = 'analytics' order by 1")]
                rsvps, attended = _series(con, RSVPS_BY_WEEK), _series(con, ATTENDED_BY_WEEK)
                overlap = top_bars([(tools or "(none)", n) for tools, n in con.rows(PEOPLE_OVERLAP)])
                unlinked = con.rows(UNLINKED)
            else:
                note = note or "the marts are not built yet (run `make transform`)"

    e = html.escape
    where = status.location or str(warehouse)
    sections = [f"<h1>Warehouse run report</h1><p class=muted>{e(where)} — generated {when(now)}"
                + (f" — {e(note)}" if note else "") + (f" — {e(status.note)}" if status.note else "") + "</p>"]
    alert = status.alerting
    sections.append(f"<p>Overall: {_state('failing') if alert else _state('ok')}"
                    + (f" — needs attention: {e(', '.join(alert))}" if alert else "") + "</p>")

    sections.append("<h2>Freshness per source</h2>" + _table(
        ["source", "state", "last successful load", "age", "stale after", "rows in warehouse",
         "last error or warning"],
        [[e(s.source), _state(s.state), when(s.last_success_at),
          "" if s.age_hours is None else f"{s.age_hours:.1f} h", f"{s.stale_after_hours:g} h",
          f"{sum(s.tables.values()):,}" if s.tables else "",
          e(f"{when(s.last_error_at)}: {s.last_error}") if s.last_error else e("; ".join(s.warnings))]
         for s in status.sources],
        numeric={5}))

    loaded_rows, rejected_rows = [], []
    for s in status.sources:
        last = runlog.latest(records, s.source)
        if last is None:
            continue
        loaded_rows.append([e(s.source), _state(last.status), when(last.finished_at), e(last.mode),
                            "<br>".join(f"{e(t)}: {n:,}" for t, n in sorted(last.rows.items())) or e(last.message),
                            f"{sum(last.rows.values()):,}"])
        rejected_rows += [[e(s.source), e(table), e(why)] for table, why in last.rejected.items()]
    transform = runlog.latest(records, "transform")
    if transform:
        loaded_rows.append(["marts (dbt build)", _state(transform.status), when(transform.finished_at), "",
                            e(transform.message), ""])
        rejected_rows += [["dbt", e(name), e(why)] for name, why in transform.rejected.items()]
    sections.append("<h2>What the last run loaded</h2>" + _table(
        ["source", "result", "finished", "mode", "rows per table", "rows"], loaded_rows, numeric={5}))
    sections.append("<h2>The marts now</h2>" + _table(
        ["mart", "rows"], [[f"analytics.{e(name)}", f"{count:,}"] for name, count in marts], numeric={1}))
    sections.append("<h2>What was rejected</h2><p class=muted>Load jobs dlt gave up on, dbt models and tests "
                    "that failed or warned, and RSVPs the marts could not link to a person or an event.</p>"
                    + _table(["where", "table / test", "why"], rejected_rows)
                    + _table(["source", "RSVPs", "without a person", "without an event"],
                             [[e(src), f"{n:,}", f"{np:,}", f"{ne:,}"] for src, np, ne, n in unlinked],
                             numeric={1, 2, 3}))

    sections.append("<h2>Charts</h2>")
    sections.append(_figure("rsvps", "RSVPs per week, by source", line_chart(rsvps, "RSVPs per week")))
    sections.append(_figure("attendance", "Attendance per week (RSVPs marked attended, by event start), by source",
                            line_chart(attended, "Attendance per week")))
    sections.append(_figure("overlap", "People by the combination of tools they appear in",
                            bar_chart(overlap, "People by tools")))
    body = "\n".join(sections)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Warehouse run report</title>'
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def write(warehouse: Path, now: float | None = None, status: WarehouseStatus | None = None,
          records: list[runlog.RunRecord] | None = None) -> Path:
    path = report_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(build(warehouse, now, status, records), encoding="utf-8")
    temporary.replace(path)  # readers never see half a page
    return path
