"""The lab's controls: what the page may send, checked before anything is built.

The page sends plain values (numbers, or the text of an input box); each control has a type and a
range, and a bad value comes back as one message naming the control, shown beside it in the page.
Nothing the page sends is ever a file path or code: data sets, losses and priors are names from
fixed lists (the losses: gankit's loss registry).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gankit.errors import GankitError

#: The 2-D data sets of the lab (the names the page shows and sends).
DATA_CHOICES = ("ring", "grid", "unrolled-ring", "mixture")
PRIOR_CHOICES = ("normal", "uniform")
MAX_MODES = 50
MAX_COORD = 20.0
MAX_TEXT = 2000


class LabInputError(GankitError):
    """A control value the lab cannot use; `field` names the control (None: the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Number:
    """A number control: whole (`integer`) or not, within [low, high] (high open if `open_high`)."""

    label: str
    low: float
    high: float
    integer: bool = False
    open_high: bool = False

    def parse(self, field: str, value: Any) -> int | float:
        number = _number(field, self.label, value)
        if self.integer and number != int(number):
            raise LabInputError(f"{self.label} must be a whole number, got {value!r}", field)
        above = number >= self.high if self.open_high else number > self.high
        if number < self.low or above:
            bracket = ")" if self.open_high else "]"
            raise LabInputError(f"{self.label} must be in [{self.low:g}, {self.high:g}{bracket}, "
                                f"got {_shown(value)}", field)
        return int(number) if self.integer else float(number)


@dataclass(frozen=True)
class Choice:
    label: str
    names: tuple[str, ...]

    def parse(self, field: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.names:
            raise LabInputError(f"{self.label} must be one of {', '.join(self.names)}, got "
                                f"{_shown(value)}", field)
        return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(field: str, label: str, value: Any) -> float:
    """A finite number from a JSON number or the text of an input box."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise LabInputError(f"{label} must be a number, got {_shown(value)}", field)
    if isinstance(value, str):
        if len(value) > 40:
            raise LabInputError(f"{label} must be a number, got {_shown(value)}", field)
        try:
            value = float(value.strip())
        except ValueError:
            raise LabInputError(f"{label} must be a number, got {_shown(value)}", field) from None
    if not math.isfinite(value):
        raise LabInputError(f"{label} must be a finite number, got {_shown(value)}", field)
    return float(value)


def run_fields(losses: Iterable[str]) -> dict[str, Number | Choice]:
    """The controls of one run; `losses`: the names the loss registry holds."""
    return {
        "data": Choice("data", DATA_CHOICES),
        "loss": Choice("loss", tuple(losses)),
        "k": Number("k (D steps per G step)", 1, 20, integer=True),
        "lr_g": Number("G's learning rate", 1e-6, 1.0),
        "lr_d": Number("D's learning rate", 1e-6, 1.0),
        "unroll": Number("unroll K", 0, 20, integer=True),
        "pack": Number("pack m", 1, 8, integer=True),
        "ema": Number("EMA decay", 0.0, 1.0, open_high=True),
        "gp": Number("gradient penalty λ", 0.0, 100.0),
        "batch_size": Number("batch size", 8, 2048, integer=True),
        "prior": Choice("prior", PRIOR_CHOICES),
        "prior_dim": Number("prior dimension", 1, 256, integer=True),
        "mixture_std": Number("mixture std", 0.005, 2.0),
    }


SEED = Number("seed", 0, 2**31 - 1, integer=True)

#: What a run starts with: the ring preset's values (non-saturating loss, Adam 1e-3), except the
#: weight average: off, so that the page shows G itself moving (EMA is a control).
DEFAULTS: dict[str, Any] = {
    "data": "ring", "loss": "nonsaturating", "k": 1, "lr_g": 1e-3, "lr_d": 1e-3, "unroll": 0,
    "pack": 1, "ema": 0.0, "gp": 0.0, "batch_size": 256, "prior": "normal", "prior_dim": 2,
    "mixture_std": 0.05, "mixture": "0, 0; 2, 0; 0, 2; 2, 2, 3",
}


def validate_run(raw: Any, losses: Iterable[str]) -> dict[str, Any]:
    """One run's controls, complete and typed; missing ones take DEFAULTS. Raises LabInputError."""
    if not isinstance(raw, Mapping):
        raise LabInputError("the settings must be an object of control values")
    fields = run_fields(losses)
    unknown = [k for k in raw if k not in fields and k != "mixture"]
    if unknown:
        raise LabInputError(f"unknown control {_shown(unknown[0])}; known: "
                            f"{', '.join([*fields, 'mixture'])}")
    out = {name: spec.parse(name, raw.get(name, DEFAULTS[name])) for name, spec in fields.items()}
    text = raw.get("mixture", DEFAULTS["mixture"])
    out["mixture"] = text if isinstance(text, str) else None
    means, weights = parse_mixture(text) if out["data"] == "mixture" else ((), ())
    out["mixture_means"], out["mixture_weights"] = means, weights
    if out["batch_size"] % out["pack"]:
        raise LabInputError(f"batch size {out['batch_size']} must be a multiple of pack m = "
                            f"{out['pack']} (a packed D judges groups of m samples)", "batch_size")
    return out


_SEPARATOR = re.compile(r"[;\n]+")


def parse_mixture(text: Any) -> tuple[tuple[tuple[float, float], ...], tuple[float, ...]]:
    """'x, y[, weight]; ...' -> the means and the weights (empty: equal) of a 2-D mixture."""
    field = "mixture"
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise LabInputError("the mixture must be text like '0, 0; 2, 0, 3' (x, y and an "
                            "optional weight per mode)", field)
    rows = [r.strip() for r in _SEPARATOR.split(text) if r.strip()]
    if not rows or len(rows) > MAX_MODES:
        raise LabInputError(f"the mixture needs 1 to {MAX_MODES} modes 'x, y[, weight]' separated "
                            f"by ';', got {len(rows)}", field)
    means, weights = [], []
    for i, row in enumerate(rows, 1):
        parts = [p for p in re.split(r"[,\s]+", row) if p]
        if len(parts) not in (2, 3):
            raise LabInputError(f"mode {i} of the mixture ({_shown(row)}) must be 'x, y' or "
                                "'x, y, weight'", field)
        values = [_number(field, f"mode {i} of the mixture", p) for p in parts]
        if any(abs(v) > MAX_COORD for v in values[:2]):
            raise LabInputError(f"mode {i} of the mixture: coordinates must be within "
                                f"±{MAX_COORD:g}, got {_shown(row)}", field)
        if len(values) == 3 and not 0 < values[2] <= 1e6:
            raise LabInputError(f"mode {i} of the mixture: the weight must be > 0, got "
                                f"{values[2]:g}", field)
        means.append((values[0], values[1]))
        weights.append(values[2] if len(values) == 3 else 1.0)
    if len(set(means)) < len(means):
        raise LabInputError("two modes of the mixture have the same centre", field)
    return tuple(means), (tuple(weights) if len(set(weights)) > 1 else ())
