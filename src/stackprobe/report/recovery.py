"""Reading the evidence conventions the report draws: chaos recovery times and backup figures.

Chaos checks record ``recovery`` = {"fault", "service", "slo_s": {phase: s}, "trials":
[{"<phase>_s": s}], "p50_s": {phase: s}, "p95_s": {phase: s}}; backup checks record
``backup_size_bytes`` and ``restore_seconds``. Anything else is shown as plain evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stackprobe.chaos.phases import PHASES, percentile
from stackprobe.report.model import ControlResult

BACKUP_FIGURES = ("backup_size_bytes", "restore_seconds")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Recovery:
    control: str
    fault: str
    service: str
    slo_s: dict[str, float]
    trials: tuple[dict[str, float | None], ...]
    p50_s: dict[str, float]
    p95_s: dict[str, float]

    @property
    def key(self) -> str:
        return f"{self.service} {self.fault}".strip() or "recovery"

    def phases(self) -> list[str]:
        seen = set(self.slo_s) | set(self.p95_s) | {p for t in self.trials for p, v in t.items() if v is not None}
        return [p for p in PHASES if p in seen] + sorted(seen - set(PHASES))

    def breaches(self) -> list[str]:
        """Phases whose p95 is above the SLO."""
        return [p for p in self.phases()
                if p in self.slo_s and p in self.p95_s and self.p95_s[p] > self.slo_s[p]]


def _phase_map(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for key, raw in value.items():
        number = _number(raw)
        if number is not None:
            out[str(key).removesuffix("_s")] = number
    return out


def parse_recovery(control: str, value: Any) -> Recovery | None:
    if not isinstance(value, dict):
        return None
    trials = tuple(
        {str(k).removesuffix("_s"): _number(v) for k, v in trial.items()}
        for trial in value.get("trials") or [] if isinstance(trial, dict)
    )
    p50, p95 = _phase_map(value.get("p50_s")), _phase_map(value.get("p95_s"))
    for phase in {p for t in trials for p in t}:
        measured = [v for t in trials if (v := t.get(phase)) is not None]
        for target, q in ((p50, 50.0), (p95, 95.0)):
            if phase not in target and (computed := percentile(measured, q)) is not None:
                target[phase] = computed
    return Recovery(control, str(value.get("fault") or ""), str(value.get("service") or ""),
                    _phase_map(value.get("slo_s")), trials, p50, p95)


def recoveries(control: ControlResult) -> list[Recovery]:
    found = (parse_recovery(control.id, v) for v in control.evidence_values("recovery"))
    return [r for r in found if r is not None]


def backup_figures(control: ControlResult) -> dict[str, float]:
    """The last recorded backup size / restore time of a control, if any."""
    figures: dict[str, float] = {}
    for name in BACKUP_FIGURES:
        values = [n for v in control.evidence_values(name) if (n := _number(v)) is not None]
        if values:
            figures[name] = values[-1]
    return figures
