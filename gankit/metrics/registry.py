"""The metrics registry: a name in eval.metrics, on the command line or in a benchmark suite maps
to exactly one function (gankit.registry.METRICS, the pattern every registry shares), and each
number it returns has one name in metrics.json, the tables and the curves.

A metric is `fn(fake, real, task)`: generated samples, as many fresh real samples, and the task
(which knows the true mixture, or the domain classifier of an image data set). It returns one
number or a dict of several, each declared as a `MetricValue` (its direction and table format).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from torch import Tensor

from gankit.errors import GankitError
from gankit.registry import METRICS, MetricValue, is_import_path, register_metric, value_owner

MetricFn = Callable[[Tensor, Tensor, Any], Any]


def values_of(name: str) -> tuple[MetricValue, ...]:
    """The values metric `name` returns (an import path's are known only once it has run)."""
    return tuple(METRICS.info(name)["values"])


def value_info(value_name: str) -> MetricValue:
    """The declaration of one value (by the value's name); a plain default for unknown ones."""
    owner = value_owner(value_name)
    if owner is None:
        return MetricValue(value_name, higher_is_better=False)
    return next(v for v in values_of(owner) if v.name == value_name)


def value_names(metrics: Iterable[str]) -> list[str]:
    """The names of the values a list of metrics returns, in order."""
    return [v.name for m in metrics for v in values_of(m)]


class _HigherIsBetter(Mapping[str, bool]):
    """Whether a larger value is better, for each registered metric value (tables, comparisons)."""

    def __getitem__(self, name: str) -> bool:
        if value_owner(name) is None:
            raise KeyError(name)
        return value_info(name).higher_is_better

    def __iter__(self) -> Iterator[str]:
        return iter(value_names(METRICS))

    def __len__(self) -> int:
        return len(value_names(METRICS))


HIGHER_IS_BETTER: Mapping[str, bool] = _HigherIsBetter()


def register(name: str, **declared: Any) -> Callable[[MetricFn], MetricFn]:
    """Decorator form of `gankit.register_metric` for the built-in metrics."""
    return register_metric(name, **declared)


def compute(names: Iterable[str], fake: Tensor, real: Tensor, task: Any) -> dict[str, float]:
    """Every value of each named metric, as floats, by value name."""
    out: dict[str, float] = {}
    for name in names:
        out.update(_named(name, METRICS[name](fake, real, task)))
    return out


def _named(name: str, result: Any) -> dict[str, float]:
    """A metric's result as {value name: float}, checked against what it declared."""
    declared = [v.name for v in values_of(name)]
    if not isinstance(result, Mapping):
        if len(declared) > 1:
            raise GankitError(f"metric {name!r} returned one number; it declared the values "
                              f"{', '.join(declared)}: return a dict of them")
        return {name: float(result)}
    got = {str(k): float(v) for k, v in result.items()}
    if not is_import_path(name) and sorted(got) != sorted(declared):
        raise GankitError(f"metric {name!r} returned {', '.join(sorted(got))}; it declared "
                          f"{', '.join(declared)}")
    return got
