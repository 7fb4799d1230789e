"""Inline SVG charts (no scripts, no fonts from the net): recovery times against the SLO, trends."""

from __future__ import annotations

import math
from html import escape

from stackprobe.report.recovery import Recovery

_FONT = 'font-family="system-ui, sans-serif"'
_OK, _BAD, _SLO, _DOT, _INK = "#8fb8de", "#e8a29b", "#c0392b", "#1f4e79", "#222"


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `maximum`."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(maximum / step - 1e-9) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.2g}" if value < 1 else f"{value:.1f}"


def _label(phase: str) -> str:
    return {"http_200": "HTTP 200", "first_write": "first write"}.get(phase, phase)


def recovery_chart(recovery: Recovery, width: int = 720) -> str:
    """One row per phase: every trial as a dot, p50 tick, p95 bar, the SLO as a dashed red line."""
    phases = recovery.phases()
    if not phases:
        return ""
    values = [v for t in recovery.trials for v in t.values() if v is not None]
    values += list(recovery.slo_s.values()) + list(recovery.p95_s.values())
    ticks = nice_ticks(max(values, default=1.0) * 1.05)
    left, right, top, row = 96, 190, 26, 30
    plot = width - left - right
    height = top + row * len(phases) + 40
    scale = plot / ticks[-1]

    def x(v: float) -> float:
        return left + v * scale

    label = (f"Recovery of {recovery.key}: {len(recovery.trials)} trial(s); "
             + "; ".join(f"{_label(p)} p95 {_fmt(recovery.p95_s[p])} s" + (
                 f" (SLO {_fmt(recovery.slo_s[p])} s)" if p in recovery.slo_s else "")
                 for p in phases if p in recovery.p95_s))
    out = [f'<svg class="chart recovery" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">',
           f'<text x="{left}" y="14" {_FONT} font-size="12" fill="{_INK}">'
           f'{escape(recovery.key)}: seconds from fault to each phase</text>']
    for tick in ticks:
        out.append(f'<line x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" y2="{top + row * len(phases)}" '
                   'stroke="#ddd" stroke-width="1"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{top + row * len(phases) + 14}" {_FONT} font-size="10" '
                   f'text-anchor="middle" fill="#555">{_fmt(tick)}</text>')
    for index, phase in enumerate(phases):
        y0 = top + index * row
        mid = y0 + row / 2
        out.append(f'<text x="{left - 8}" y="{mid + 4:.1f}" {_FONT} font-size="12" text-anchor="end" '
                   f'fill="{_INK}">{escape(_label(phase))}</text>')
        p95, p50, slo = recovery.p95_s.get(phase), recovery.p50_s.get(phase), recovery.slo_s.get(phase)
        if p95 is not None:
            colour = _BAD if slo is not None and p95 > slo else _OK
            out.append(f'<rect x="{left}" y="{mid - 7:.1f}" width="{max(p95 * scale, 1):.1f}" height="14" '
                       f'fill="{colour}"><title>p95 {_fmt(p95)} s</title></rect>')
        if p50 is not None:
            out.append(f'<line x1="{x(p50):.1f}" y1="{mid - 9:.1f}" x2="{x(p50):.1f}" y2="{mid + 9:.1f}" '
                       f'stroke="{_INK}" stroke-width="2"><title>p50 {_fmt(p50)} s</title></line>')
        measured = [t.get(phase) for t in recovery.trials]
        for number, value in enumerate(measured):
            if value is not None:
                dy = ((number % 3) - 1) * 3
                out.append(f'<circle cx="{x(value):.1f}" cy="{mid + dy:.1f}" r="2.6" fill="{_DOT}" '
                           f'fill-opacity="0.75"><title>trial {number + 1}: {_fmt(value)} s</title></circle>')
        if slo is not None:
            out.append(f'<line x1="{x(slo):.1f}" y1="{y0 + 2}" x2="{x(slo):.1f}" y2="{y0 + row - 2}" '
                       f'stroke="{_SLO}" stroke-width="2" stroke-dasharray="4 3"><title>SLO {_fmt(slo)} s'
                       '</title></line>')
        figures = " · ".join(f"{name} {_fmt(v)} s" for name, v in (("p50", p50), ("p95", p95), ("SLO", slo))
                             if v is not None)
        out.append(f'<text x="{width - right + 14}" y="{mid + 4:.1f}" {_FONT} font-size="10" '
                   f'fill="#444">{escape(figures)}</text>')
    legend_y = height - 8
    out.append(
        f'<g {_FONT} font-size="10" fill="#444">'
        f'<circle cx="{left + 4}" cy="{legend_y - 3}" r="2.6" fill="{_DOT}"/><text x="{left + 10}" y="{legend_y}">'
        f'trial</text>'
        f'<line x1="{left + 46}" y1="{legend_y - 9}" x2="{left + 46}" y2="{legend_y + 1}" stroke="{_INK}" '
        f'stroke-width="2"/><text x="{left + 51}" y="{legend_y}">p50</text>'
        f'<rect x="{left + 80}" y="{legend_y - 9}" width="14" height="9" fill="{_OK}"/>'
        f'<text x="{left + 98}" y="{legend_y}">p95 within SLO</text>'
        f'<rect x="{left + 178}" y="{legend_y - 9}" width="14" height="9" fill="{_BAD}"/>'
        f'<text x="{left + 196}" y="{legend_y}">p95 over SLO</text>'
        f'<line x1="{left + 270}" y1="{legend_y - 9}" x2="{left + 270}" y2="{legend_y + 1}" stroke="{_SLO}" '
        f'stroke-width="2" stroke-dasharray="4 3"/><text x="{left + 276}" y="{legend_y}">SLO</text></g>')
    out.append("</svg>")
    return "".join(out)


def trend_chart(points: list[tuple[str, float | None]], title: str, unit: str, slo: float | None = None,
                width: int = 300, height: int = 96) -> str:
    """A small line chart over runs (oldest left); gaps where a run did not measure it."""
    measured = [v for _, v in points if v is not None]
    if not measured:
        return ""
    left, right, top, bottom = 40, 12, 18, 20
    top_value = max([*measured, slo or 0.0]) * 1.15 or 1.0
    ticks = nice_ticks(top_value, 3)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)

    def y(v: float) -> float:
        return top + plot_h - v / ticks[-1] * plot_h

    last = measured[-1]
    label = f"{title}: {len(measured)} run(s), latest {_fmt(last)} {unit}" + (
        f", SLO {_fmt(slo)} {unit}" if slo is not None else "")
    out = [f'<svg class="chart trend" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">',
           f'<text x="{left}" y="11" {_FONT} font-size="10" fill="{_INK}">{escape(title)}</text>']
    for tick in ticks:
        out.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" stroke="#e4e4e4"/>'
                   f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" {_FONT} font-size="9" text-anchor="end" '
                   f'fill="#555">{_fmt(tick)}</text>')
    if slo is not None:
        out.append(f'<line x1="{left}" y1="{y(slo):.1f}" x2="{width - right}" y2="{y(slo):.1f}" stroke="{_SLO}" '
                   f'stroke-dasharray="4 3"><title>SLO {_fmt(slo)} {escape(unit)}</title></line>')
    segment: list[str] = []
    segments: list[list[str]] = [segment]
    for index, (run, value) in enumerate(points):
        if value is None:
            segment = []
            segments.append(segment)
            continue
        px, py = left + index * step, y(value)
        segment.append(f"{px:.1f},{py:.1f}")
        current = index == len(points) - 1
        out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{3.2 if current else 2.2}" '
                   f'fill="{_SLO if slo is not None and value > slo else _DOT}"><title>{escape(run)}: '
                   f'{_fmt(value)} {escape(unit)}</title></circle>')
    for part in segments:
        if len(part) > 1:
            out.append(f'<polyline points="{" ".join(part)}" fill="none" stroke="{_DOT}" stroke-width="1.5"/>')
    out.append(f'<text x="{left}" y="{height - 5}" {_FONT} font-size="9" fill="#555">{escape(points[0][0])}</text>'
               f'<text x="{width - right}" y="{height - 5}" {_FONT} font-size="9" text-anchor="end" '
               f'fill="#555">latest {_fmt(last)} {escape(unit)}</text></svg>')
    return "".join(out)
