"""The metrics registry: a name in metrics.json, a benchmark table or on the command line maps
to exactly one function here.

A metric is `fn(fake, real, task) -> float`: generated samples, as many fresh real samples, and
the task (which knows the true mixture, or the domain classifier of an image data set).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

MetricFn = Callable[[Tensor, Tensor, Any], float]
METRICS: dict[str, MetricFn] = {}
#: Whether a larger value is better, for tables and comparisons.
HIGHER_IS_BETTER: dict[str, bool] = {}


def register(name: str, higher_is_better: bool) -> Callable[[MetricFn], MetricFn]:
    def wrap(fn: MetricFn) -> MetricFn:
        METRICS[name] = fn
        HIGHER_IS_BETTER[name] = higher_is_better
        return fn

    return wrap


def compute(names: list[str] | tuple[str, ...], fake: Tensor, real: Tensor, task: Any) -> dict:
    return {name: float(METRICS[name](fake, real, task)) for name in names}
