"""The common result of every theory check: named numbers, criteria with tolerances, a figure.

A check passes when every one of its criteria holds. Each criterion carries the reason for its
tolerance (integration error, Monte Carlo standard error, ...), so `theory.json` explains itself.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Criterion:
    """One assertion: `value op bound`, e.g. max |D - D*| <= 0.1."""

    name: str
    value: float
    op: str  # "<=" or ">="
    bound: float
    why: str

    @property
    def passed(self) -> bool:
        if not (math.isfinite(self.value) and math.isfinite(self.bound)):
            return False
        return self.value <= self.bound if self.op == "<=" else self.value >= self.bound

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def at_most(name: str, value: float, bound: float, why: str) -> Criterion:
    return Criterion(name, float(value), "<=", float(bound), why)


def at_least(name: str, value: float, bound: float, why: str) -> Criterion:
    return Criterion(name, float(value), ">=", float(bound), why)


@dataclass
class CheckResult:
    """What one check measured, whether it held, and where its figure is."""

    key: str  # short identifier, also the figure's file name
    title: str  # the proposition, in a few words
    source: str  # where it is stated (paper or lecture notes)
    numbers: dict[str, Any] = field(default_factory=dict)
    criteria: list[Criterion] = field(default_factory=list)
    figure: str | None = None
    seconds: float = 0.0
    headline: str = ""  # one line for the summary table

    @property
    def passed(self) -> bool:
        return bool(self.criteria) and all(c.passed for c in self.criteria)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "title": self.title, "source": self.source,
            "passed": self.passed, "headline": self.headline,
            "criteria": [c.to_dict() for c in self.criteria],
            "numbers": _plain(self.numbers), "figure": self.figure,
            "seconds": round(self.seconds, 2),
        }


def _plain(obj: Any) -> Any:
    """JSON-safe copy: floats to 10 significant digits (no 0.30000000000000004), tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    value = float(obj)
    if not math.isfinite(value):
        return str(value)
    return float(f"{value:.10g}")
