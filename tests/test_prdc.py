"""Precision, recall, density and coverage: against the reference implementation (PyPI `prdc`,
a test-only dependency), on hand-checked points, chunk sizes, and as a registered metric."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from gankit.metrics import compute
from gankit.metrics import prdc as prdc_module
from gankit.metrics.prdc import knn_radii, prdc
from gankit.metrics.registry import values_of
from gankit.registry import METRICS


def _features(seed: int, n_real: int, n_fake: int, dim: int, shift: float, scale: float):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(n_real, dim)).astype(np.float32)
    fake = (rng.normal(size=(n_fake, dim)) * scale + shift).astype(np.float32)
    return real, fake


@pytest.mark.parametrize("case", [(0, 500, 537, 16, 0.0, 1.2), (1, 400, 300, 64, 0.5, 1.0),
                                  (2, 300, 350, 2, 1.0, 0.5)])
def test_equals_the_reference_implementation(case):
    reference = pytest.importorskip(
        "prdc", reason="the reference implementation `prdc` (a test dependency in .[dev]) is not "
        "installed: pip install -c constraints.txt -e '.[dev]'")
    real, fake = _features(*case)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the sample counts
        expected = reference.compute_prdc(real, fake, nearest_k=5)
    ours = prdc(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    assert set(ours) == set(expected)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(float(value), abs=1e-12), name
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1  # not a degenerate case


def test_hand_checked_points_on_a_line():
    real = torch.tensor([[0.0], [1.0], [2.0], [10.0]])  # k = 1 radii: 1, 1, 1, 8
    fake = torch.tensor([[0.5], [5.0], [30.0]])  # radii among fakes: 4.5, 4.5, 25
    assert knn_radii(real, 1).tolist() == [1.0, 1.0, 1.0, 8.0]
    got = prdc(real, fake, k=1)
    # 0.5 lies in the balls of 0 and 1; 5.0 in that of 10 (radius 8); 30 in none
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["density"] == pytest.approx((2 + 1 + 0) / 3)
    # reals in a fake ball: 0, 1, 2 (|x − 0.5| ≤ 4.5), 10 (|10 − 5| ≤ 4.5? no; |10 − 30| ≤ 25)
    assert got["recall"] == pytest.approx(1.0)
    # real balls holding a fake: 0 (0.5), 1 (0.5), 2 (no: 1.5 > 1), 10 (5.0)
    assert got["coverage"] == pytest.approx(3 / 4)


def test_a_copy_of_the_data_and_a_collapsed_generator():
    real = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    same = prdc(real, real.clone())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx(6 / 5)  # each point: its own ball and its 5 neighbours'
    collapsed = prdc(real, real[:1].repeat(400, 1) + 1e-3 * torch.randn(400, 8))
    assert collapsed["precision"] == 1.0  # every sample is realistic ...
    assert collapsed["recall"] < 0.05 and collapsed["coverage"] < 0.05  # ... and all alike


def test_chunk_size_does_not_change_the_result(monkeypatch):
    real, fake = (torch.from_numpy(a) for a in _features(3, 300, 260, 5, 0.3, 1.1))
    whole = prdc(real, fake)
    monkeypatch.setattr(prdc_module, "CHUNK_ELEMENTS", 1000)  # 3 rows of 300 at a time
    assert prdc(real, fake) == whole


def test_too_few_samples_is_one_clear_error():
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="more than k = 5 generated samples, got 5"):
        prdc(torch.randn(20, 2), torch.randn(5, 2))


def test_registered_with_its_four_values_in_data_space():
    assert [v.name for v in values_of("prdc")] == ["precision", "recall", "density", "coverage"]
    assert all(v.higher_is_better for v in values_of("prdc"))
    real = torch.randn(200, 2, generator=torch.Generator().manual_seed(1))
    fake = torch.randn(200, 2, generator=torch.Generator().manual_seed(2))
    got = compute(["prdc"], fake, real, task=None)
    assert got == prdc(real, fake)
    assert "prdc" in METRICS


class _Classifier:
    """The same 30 features for any 30 images: two image sets routed through it agree."""

    def features_and_logits(self, x):
        feats = torch.randn(len(x), 3, generator=torch.Generator().manual_seed(0))
        return feats, torch.zeros(len(x), 10)


class _LabelledImages:
    def __init__(self):
        self.data = type("Data", (), {"labelled": True})()
        self.cache = {}

    def classifier(self):
        return _Classifier()

    def unit(self, x):
        return x


def test_images_of_a_labelled_set_are_compared_in_the_classifier_features():
    task = _LabelledImages()
    real, fake = torch.rand(30, 1, 4, 4), torch.rand(30, 1, 4, 4) + 2
    # the stand-in classifier gives both sets the same features: a perfect match
    assert compute(["prdc"], fake, real, task) == {"precision": 1.0, "recall": 1.0,
                                                   "density": 1.2, "coverage": 1.0}
    assert prdc(real, fake)["precision"] == 0.0  # in pixel space they are apart


def test_a_run_is_measured_with_it_and_tables_know_its_columns(tmp_path):
    import gankit
    from gankit.bench.tables import column
    from gankit.metrics import HIGHER_IS_BETTER
    from gankit.seeds import EVAL

    overrides = {"train.steps": 20, "train.log_every": 10, "model.g_width": 16,
                 "model.d_width": 16, "data.n_train": 300, "eval.n_samples": 200,
                 "eval.metrics": ["w1"]}
    run = gankit.fit(config="toy-ring", overrides=overrides, progress=False)
    got = run.evaluate(metrics=["prdc"])
    fake = run.sample(200)
    real = run.trainer.task.real_samples(200, run.config.train.seed + EVAL)
    assert {k: got[k] for k in ("precision", "recall", "density", "coverage")} == \
        prdc(real, fake)  # in data space, for the 2-D ring
    assert [column(v) for v in ("precision", "coverage")] == [("precision", 1.0, 3),
                                                              ("coverage", 1.0, 3)]
    assert HIGHER_IS_BETTER["density"] is True
