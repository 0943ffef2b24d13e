"""The metrics registry: a name in metrics.json, a benchmark table or on the command line maps
to exactly one function (gankit.registry.METRICS, the pattern every registry shares).

A metric is `fn(fake, real, task) -> float`: generated samples, as many fresh real samples, and
the task (which knows the true mixture, or the domain classifier of an image data set).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from torch import Tensor

from gankit.registry import METRICS, register_metric

MetricFn = Callable[[Tensor, Tensor, Any], float]


class _HigherIsBetter(Mapping[str, bool]):
    """Whether a larger value of each metric is better, for tables and comparisons."""

    def __getitem__(self, name: str) -> bool:
        if name not in METRICS:
            raise KeyError(name)
        return bool(METRICS.info(name)["higher_is_better"])

    def __iter__(self) -> Iterator[str]:
        return iter(METRICS)

    def __len__(self) -> int:
        return len(METRICS)


HIGHER_IS_BETTER: Mapping[str, bool] = _HigherIsBetter()


def register(name: str, higher_is_better: bool) -> Callable[[MetricFn], MetricFn]:
    return register_metric(name, higher_is_better=higher_is_better)


def compute(names: list[str] | tuple[str, ...], fake: Tensor, real: Tensor, task: Any) -> dict:
    return {name: float(METRICS[name](fake, real, task)) for name in names}
