"""controls.html: one self-contained page per run, grouped by control.

No scripts, no fonts, no images or styles from anywhere: CSS and SVG are inline, so the page
makes no request when opened, printed, or archived. Everything passes through the redactor
once more before it is written (results.json is redacted already; this is the last line).
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from importlib import resources
from typing import Any

from stackprobe.redact import REDACTOR
from stackprobe.report.history import Diff, backup_series, series
from stackprobe.report.model import SEVERITIES, STATUSES, Check, ControlResult, RunReport, at_or_above, not_run
from stackprobe.report.recovery import Recovery, backup_figures, recoveries
from stackprobe.report.svg import recovery_chart, trend_chart

# the page needs nothing from anywhere: the browser refuses any request it might still contain
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _css() -> str:
    return resources.files("stackprobe.report").joinpath("style.css").read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _badge(status: str) -> str:
    return f'<span class="badge s-{_e(status)}">{_e(status)}</span>'


def _sev(severity: str) -> str:
    return f'<span class="sev sev-{_e(severity)}">{_e(severity)}</span>'


def _json(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, indent=2, ensure_ascii=False)
        if text.count("\n") > 30:  # long structures: compact, the page wraps them
            text = json.dumps(value, ensure_ascii=False)
    return f"<pre>{_e(text)}</pre>"


# --- header ----------------------------------------------------------------------------------
def _images(images: Any) -> str:
    if not isinstance(images, dict) or not images:
        return '<span class="muted">not recorded</span>'
    rows = []
    for name, info in images.items():
        if name.startswith("_"):
            continue
        if isinstance(info, dict):
            digests = info.get("repo_digests") or []
            shown = ", ".join(str(d) for d in digests) if digests else "no registry digest (local image)"
            rows.append(f"<tr><td>{_e(name)}</td><td class='mono'>{_e(info.get('image', ''))}</td>"
                        f"<td class='mono'>{_e(info.get('id', ''))}<br><span class='muted'>{_e(shown)}</span>"
                        "</td></tr>")
    extra = ""
    if images.get("_engine"):
        extra += f"<div>Docker engine {_e(images['_engine'])}</div>"
    if images.get("_error"):
        extra += f"<div class='muted'>images not fully recorded: {_e(images['_error'])}</div>"
    table = ("<table><tr><th>service</th><th>image</th><th>image ID / repo digests</th></tr>"
             + "".join(rows) + "</table>") if rows else ""
    return table + extra


def _kv(value: Any) -> str:
    if isinstance(value, dict):
        return "<br>".join(f"{_e(k)} <span class='mono'>{_e(v)}</span>" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return "<br>".join(f"<span class='mono'>{_e(v)}</span>" for v in value) or "—"
    return f"<span class='mono'>{_e(value)}</span>" if value not in (None, "") else "<span class='muted'>—</span>"


def _environment(report: RunReport) -> str:
    run = dict(report.run)
    target = run.pop("target", {})
    profile = run.pop("profile", {})
    rows: list[tuple[str, str]] = []
    if isinstance(target, dict):
        described = f"<b>{_e(target.get('kind', '?'))}</b>"
        if target.get("project"):
            described += f" · compose project <span class='mono'>{_e(target['project'])}</span>"
        if target.get("project_dir"):
            described += f"<br>project dir <span class='mono'>{_e(target['project_dir'])}</span>"
        if target.get("env_files"):
            described += "<br>env file(s) " + ", ".join(f"<span class='mono'>{_e(p)}</span>"
                                                        for p in target["env_files"])
        rows.append(("target", described))
    else:
        rows.append(("target", _kv(target)))
    rows.append(("host(s)", _kv(run.pop("hosts", "not recorded"))))
    if isinstance(profile, dict):
        rows.append(("profile", f"<span class='mono'>{_e(profile.get('source', '?'))}</span><br>sha256 "
                                f"<span class='mono'>{_e(profile.get('sha256') or '— (built-in defaults)')}</span>"))
    absent = run.pop("absent", {})
    rows.append(("declared absent", "<br>".join(f"<b>{_e(name)}</b>: {_e(what)}" for name, what in absent.items())
                 if isinstance(absent, dict) and absent else "nothing (every part of the design is checked)"))
    files = run.pop("compose_files", [])
    hashes = run.pop("compose_file_sha256", {})
    combined = run.pop("compose_sha256", "")
    compose = "<br>".join(
        f"<span class='mono'>{_e(f)}</span>" + (f"<br>&nbsp;&nbsp;sha256 <span class='mono'>{_e(hashes[f])}</span>"
                                                if isinstance(hashes, dict) and f in hashes else "")
        for f in files)
    rows.append(("compose file(s)", (compose or "—") + (f"<br>combined sha256 <span class='mono'>{_e(combined)}"
                                                        "</span>" if combined else "")))
    rows.append(("images", _images(run.pop("images", {}))))
    rows.append(("git revision", _kv(run.pop("git_revision", ""))))
    rows.append(("versions", _kv(run.pop("versions", {}))))
    rows.append(("started", _kv(run.pop("started", ""))))
    rows.append(("finished", _kv(run.pop("finished", ""))))
    parts = run.pop("parts", None)
    if isinstance(parts, list) and parts:  # a parallel run: which copy each part ran on, and how long
        rows.append(("parts (--parallel)", "<br>".join(_part(p) for p in parts if isinstance(p, dict))))
    for key, value in run.items():  # whatever a newer stackprobe recorded
        rows.append((key.replace("_", " "), _kv(value)))
    if report.waivers.source:
        rows.append(("waivers", f"<span class='mono'>{_e(report.waivers.source)}</span>"))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<h2 id="environment">Environment</h2><table class="env">{body}</table>'


def _part(part: dict[str, Any]) -> str:
    target = part.get("target")
    copy = (f"copy <span class='mono'>{_e(target.get('project', '?'))}</span>" if isinstance(target, dict)
            else "no copy of the stack")
    return (f"<b>{_e(' + '.join(part.get('parts') or ['?']))}</b> on {_e(part.get('worker', '?'))} · {copy} · "
            f"{_e(part.get('duration_s', '?'))} s (from {_e(part.get('started_after_s', '?'))} s)")


# --- summary ---------------------------------------------------------------------------------
def _count_table(title: str, groups: list[str], report: RunReport, key: str) -> str:
    present = [s for s in STATUSES if any(c.status == s for c in report.controls)] or ["passed"]
    head = "".join(f"<th>{_badge(s)}</th>" for s in present)
    rows = []
    for group in groups:
        members = [c for c in report.controls if getattr(c, key) == group]
        if not members:
            continue
        counts = Counter(c.status for c in members)
        cells = "".join(f"<td class='{'zero' if not counts[s] else ''}'>{counts[s]}</td>" for s in present)
        label = _sev(group) if key == "severity" else _e(group)
        rows.append(f"<tr><td>{label}</td>{cells}<td>{len(members)}</td></tr>")
    totals = Counter(c.status for c in report.controls)
    cells = "".join(f"<td><b>{totals[s]}</b></td>" for s in present)
    rows.append(f"<tr><td><b>all</b></td>{cells}<td><b>{len(report.controls)}</b></td></tr>")
    return (f'<table class="counts" data-matrix="{_e(key)}"><tr><th>{_e(title)}</th>{head}<th>controls</th></tr>'
            + "".join(rows) + "</table>")


def _summary(report: RunReport) -> str:
    suites = list(dict.fromkeys(c.suite for c in report.controls))
    grid = []
    for suite in suites:
        chips = "".join(
            f'<a class="chip s-{_e(c.status)}" href="#{_e(c.id)}" title="{_e(c.id)} {_e(c.status)} '
            f'({_e(c.severity)}): {_e(c.title)}">{_e(c.id)}</a>'
            for c in report.controls if c.suite == suite)
        grid.append(f'<div class="suite">{_e(suite)}</div><div class="chips">{chips}</div>')
    missing = not_run(report)
    if missing:
        chips = "".join(f'<a class="chip s-not-run" href="#not-run" title="not run: {_e(c.title)}">{_e(c.id)}</a>'
                        for c in missing)
        grid.append(f'<div class="suite muted">not run</div><div class="chips">{chips}</div>')
    totals = Counter(c.status for c in report.controls)
    line = ", ".join(f"{totals[s]} {s}" for s in STATUSES if totals[s]) or "no control was checked"
    return (f'<h2 id="summary">Summary</h2><div class="summary-block"><p>{len(report.controls)} controls checked: '
            f'{_e(line)}. {len(missing)} catalogue control(s) not run in this run.</p>'
            f'<div class="grid">{"".join(grid)}</div>'
            f'<div class="cols"><div>{_count_table("suite", suites, report, "suite")}</div>'
            f'<div>{_count_table("severity", list(SEVERITIES), report, "severity")}</div></div></div>')


def _problems(report: RunReport, warnings: list[str]) -> str:
    out = ""
    for kind, problems in (("waiver", report.waivers.problems), ("attestation", report.attestations.problems)):
        if problems:
            items = "".join(f"<li>{_e(p.line)}</li>" for p in problems)
            out += (f'<div class="problems" id="{kind}-problems"><p>{kind.capitalize()} problems: the run fails '
                    f'until they are fixed</p><ul>{items}</ul></div>')
    below = report.below_threshold()
    if below:
        items = "".join(f'<li><a href="#{_e(c.id)}">{_e(c.id)}</a> ({_e(c.severity)}) {_e(c.title)}</li>'
                        for c in below)
        out += (f'<div class="problems warn" id="below-threshold"><p>Failed below the threshold (fail-on '
                f'{_e(report.fail_on)}): reported, but they do not fail the run</p><ul>{items}</ul></div>')
    if warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
        out += f'<div class="problems warn" id="warnings"><p>Warnings</p><ul>{items}</ul></div>'
    return out


def _changes(diff: Diff | None, history_source: str) -> str:
    if diff is None:
        return ""
    if not diff.previous:
        return (f'<h2 id="changes">Changes since the previous run</h2><p class="muted">No earlier run in '
                f'<span class="mono">{_e(history_source)}</span>: this run is the baseline.</p>')
    blocks = []
    for what, title in (("new-failure", "New failures"), ("fixed", "Fixed"), ("newly-waived", "Newly waived"),
                        ("still-failing", "Still failing"), ("recovery", "Recovery times (p95)"),
                        ("backup", "Backups")):
        changes = diff.of(what)
        if changes:
            items = "".join(f'<li><a href="#{_e(c.control)}">{_e(c.text)}</a></li>' for c in changes)
            blocks.append(f'<div data-change="{_e(what)}"><h4>{_e(title)}</h4><ul>{items}</ul></div>')
    body = "".join(blocks) or "<p>No status changes, and no recovery or backup figures to compare.</p>"
    return (f'<h2 id="changes">Changes since the previous run</h2><div class="changes"><p class="muted">Compared '
            f'with run <span class="mono">{_e(diff.previous)}</span> (history '
            f'<span class="mono">{_e(history_source)}</span>).</p>{body}</div>')


def _attestation_table(report: RunReport) -> str:
    attestations = [*report.attestations.valid, *report.attestations.expired]
    if not attestations:
        return ""
    by_id = report.by_id()
    rows = []
    for item in attestations:
        control = by_id.get(item.control)
        if item in report.attestations.expired:
            state = "expired: not applied"
        elif control is not None and control.attestation == item:
            state = "applied: attested"
        else:
            state = f"not applied: the control has an automated result ({control.raw_status if control else '?'})"
        rows.append(f"<tr data-attestation='{_e(item.control)}'><td class='nowrap'><a href='#{_e(item.control)}'>"
                    f"{_e(item.control)}</a></td><td>{_e(item.statement)}</td><td>{_e(item.attested_by)}</td>"
                    f"<td class='mono'>{_e(item.evidence)}</td><td class='mono'>{_e(item.expires.isoformat())}</td>"
                    f"<td>{_e(state)}</td></tr>")
    return ('<h2 id="attestations">Attestations</h2><table><tr><th>control</th><th>statement</th><th>attested by'
            '</th><th>evidence</th><th>expires</th><th>state</th></tr>' + "".join(rows) + "</table>")


def _waiver_table(report: RunReport) -> str:
    waivers = [*report.waivers.valid, *report.waivers.expired]
    if not waivers:
        return ""
    statuses = report.statuses()
    rows = []
    for waiver in waivers:
        if waiver in report.waivers.expired:
            state = "expired: not applied"
        elif any(c.waiver == waiver for c in report.controls):
            state = "applied: failure waived"
        else:
            state = f"not needed (control {statuses.get(waiver.control, 'not run')})"
        rows.append(f"<tr><td class='nowrap'><a href='#{_e(waiver.control)}'>{_e(waiver.control)}</a></td>"
                    f"<td>{_e(waiver.justification)}</td><td>{_e(waiver.approver)}</td><td>{_e(waiver.ticket)}</td>"
                    f"<td class='mono'>{_e(waiver.expires.isoformat())}</td><td>{_e(state)}</td></tr>")
    return ('<h2 id="waivers">Waivers</h2><table><tr><th>control</th><th>justification</th><th>approver</th>'
            '<th>ticket</th><th>expires</th><th>state</th></tr>' + "".join(rows) + "</table>")


# --- controls --------------------------------------------------------------------------------
def _recovery_block(item: Recovery) -> str:
    breaches = item.breaches()
    verdict = (f"<b class='s-failed'>p95 over the SLO: {_e(', '.join(breaches))}</b>" if breaches
               else "p95 within the SLO in every phase with an SLO")
    trials = ""
    if item.trials:
        phases = item.phases()
        head = "".join(f"<th>{_e(p)} (s)</th>" for p in phases)
        body = "".join(
            f"<tr><td>{n}</td>" + "".join(
                f"<td class='mono'>{'—' if t.get(p) is None else f'{t[p]:.2f}'}</td>" for p in phases) + "</tr>"
            for n, t in enumerate(item.trials, start=1))
        trials = f"<table class='trials'><tr><th>trial</th>{head}</tr>{body}</table>"
    return (f"<div class='recovery' data-recovery='{_e(item.key)}'>{recovery_chart(item)}"
            f"<div class='muted'>fault <b>{_e(item.fault or '?')}</b> on <b>{_e(item.service or '?')}</b>, "
            f"{len(item.trials)} trial(s); {verdict}</div>{trials}</div>")


def _check(check: Check) -> str:
    evidence = []
    for name, value in check.evidence.items():
        evidence.append(f"<div class='evidence-name'>{_e(name)}</div>{_json(value)}")
    message = f"<div class='message'>{_e(check.message)}</div>" if check.message else ""
    return (f"<div class='check' data-check='{_e(check.nodeid)}'><div class='check-head'>{_badge(check.status)}"
            f"<span class='node'>{_e(check.nodeid)}</span><span class='when'>started {_e(check.started)} · "
            f"{check.duration_s:.3f} s</span></div>{message}"
            + ("".join(evidence) if evidence else "<div class='muted'>no evidence recorded</div>") + "</div>")


def _trends(control: ControlResult, history: list[dict[str, Any]], current: dict[str, Any]) -> str:
    runs = [*history, current]
    charts = []
    for item in recoveries(control):
        phase = next((p for p in ("healthy", "running", "http_200", "first_write") if p in item.p95_s), None)
        if phase is None:
            continue
        points = series(runs, control.id, item.key, phase)[-20:]
        charts.append(trend_chart(points, f"{item.key}: p95 {phase} (s)", "s", item.slo_s.get(phase)))
    for name in backup_figures(control):
        unit = "bytes" if name == "backup_size_bytes" else "s"
        charts.append(trend_chart(backup_series(runs, control.id, name)[-20:], name.replace("_", " "), unit))
    charts = [c for c in charts if c]
    if not charts:
        return ""
    return f"<h4>Trend over runs</h4><div class='trends'>{''.join(charts)}</div>"


def _control(control: ControlResult, history: list[dict[str, Any]], current: dict[str, Any],
             threshold: str = "low") -> str:
    tags = "".join(f"<span class='tag'>{_e(t)}</span>" for t in control.tags) or "—"
    waiver = ""
    if control.waiver is not None:
        w = control.waiver
        waiver = (f"<div class='waiver'><b>Waived</b> (the checks failed): {_e(w.justification)}<br>"
                  f"approved by {_e(w.approver)} · ticket {_e(w.ticket)} · expires {_e(w.expires.isoformat())}</div>")
    elif control.expired_waiver is not None:
        w = control.expired_waiver
        waiver = (f"<div class='waiver expired'><b>Waiver expired on {_e(w.expires.isoformat())}</b>, not applied: "
                  f"{_e(w.justification)} (approved by {_e(w.approver)}, ticket {_e(w.ticket)})</div>")
    if control.attestation is not None:
        a = control.attestation
        waiver += (f"<div class='waiver attested'><b>Attested</b> (no automated result): {_e(a.statement)}<br>"
                   f"by {_e(a.attested_by)} · evidence <span class='mono'>{_e(a.evidence)}</span> · expires "
                   f"{_e(a.expires.isoformat())}</div>")
    elif control.unapplied_attestation is not None:
        a = control.unapplied_attestation
        waiver += (f"<div class='waiver expired'><b>Attestation not applied</b>: {_e(control.unapplied_why)}; "
                   f"{_e(a.statement)} "
                   f"(by {_e(a.attested_by)})</div>")
    if control.status == "failed" and not at_or_above(control.severity, threshold):
        waiver += (f"<div class='waiver below'>Below the threshold: fail-on {_e(threshold)}, so this failure "
                   "does not fail the run</div>")
    nist = "".join(f"<span class='tag nist'>{_e(t)}</span>" for t in control.nist) or "—"
    charts = "".join(_recovery_block(r) for r in recoveries(control))
    return (
        f'<section class="control c-{_e(control.status)}" id="{_e(control.id)}" data-control="{_e(control.id)}" '
        f'data-status="{_e(control.status)}"><div class="control-head"><span class="id">{_e(control.id)}</span>'
        f'<h3>{_e(control.title)}</h3><span class="right">{_sev(control.severity)}{_badge(control.status)}'
        f'</span></div>{waiver}<dl><dt>why it matters</dt><dd>{_e(control.why) or "—"}</dd>'
        f'<dt>how to fix</dt><dd>{_e(control.fix) or "—"}</dd><dt>suite</dt><dd>{_e(control.suite)}</dd>'
        f'<dt>tags</dt><dd>{tags}</dd><dt>NIST SP 800-53</dt><dd data-nist="{_e(" ".join(control.nist))}">'
        f'{nist}</dd><dt>checks</dt><dd>{len(control.checks)} check(s), '
        f'{control.duration_s:.3f} s in total</dd></dl>'
        + (f"<h4>Recovery time against the SLO</h4>{charts}" if charts else "")
        + _trends(control, history, current)
        + "<h4>Checks and evidence</h4>"
        + ("".join(_check(c) for c in control.checks) or "<div class='muted'>no automated check in this run</div>")
        + "</section>")


def _not_run(report: RunReport) -> str:
    missing = not_run(report)
    if not missing:
        return ""
    rows = "".join(f"<tr data-not-run='{_e(c.id)}'><td class='mono'>{_e(c.id)}</td><td>{_e(c.suite)}</td>"
                   f"<td>{_sev(c.severity)}</td><td>{_e(c.title)}</td></tr>" for c in missing)
    return ('<h2 id="not-run">Catalogue controls not run in this run</h2><p class="muted">Not checked: no evidence '
            'either way (another suite selection, or a check that does not exist yet).</p>'
            f'<table><tr><th>ID</th><th>suite</th><th>severity</th><th>title</th></tr>{rows}</table>')


def render_page(report: RunReport, *, diff: Diff | None = None, history: list[dict[str, Any]] | None = None,
                current: dict[str, Any] | None = None, history_source: str = "", warnings: list[str] | None = None,
                generated: str = "") -> str:
    history = history or []
    current = current or {"run": report.run_id, "recovery": {}, "backup": {}}
    verdict = report.verdict()
    title = f"stackprobe controls — {report.run_id}"
    body = (
        f'<header><h1>stackprobe control report</h1><p class="lede">run <span class="mono">{_e(report.run_id)}'
        f'</span> · {_e(report.started)} → {_e(report.finished)} · verdict '
        f'<span class="verdict s-{_e(verdict)}" id="verdict">{_e(verdict)}</span></p></header>'
        + _problems(report, warnings or [])
        + _summary(report) + _environment(report) + _changes(diff, history_source) + _waiver_table(report)
        + _attestation_table(report)
        + '<h2 id="controls">Controls</h2>'
        + "".join(_control(c, history, current, report.fail_on) for c in report.controls)
        + _not_run(report)
        + f'<footer>Generated by stackprobe {_e(generated)}. Every artifact of this run is listed with its SHA-256 '
          'in manifest.json and SHA256SUMS: check with <code>python -m stackprobe.report verify &lt;run dir&gt;</code> '
          'or <code>sha256sum -c SHA256SUMS</code> in the run directory.</footer>')
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" '
            f'content="{_CSP}"><title>{_e(title)}</title><style>{_css()}</style></head>'
            f"<body><main>{body}</main></body></html>")
    return REDACTOR.redact(page)
