"""The metric networks shipped with gankit: checked files, used only for the data they were
trained on, and the same fd_classifier on every machine for a fixed set of shipped samples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.config import load_preset
from gankit.data.images import ImageSet
from gankit.errors import DataError
from gankit.metrics import classifier as C

FIXED = Path(__file__).parent / "data" / "fd_fixed.json"
SAMPLES = Path(__file__).parent / "data" / "fashion-dcgan-30-steps.npz"


def test_every_shipped_file_matches_its_manifest_and_size_limit():
    entries = C.manifest()
    assert {"mnist", "fashion-mnist"} <= set(entries)
    for name, e in entries.items():
        path = C.WEIGHTS_DIR / e["file"]
        assert path.stat().st_size <= 2_000_000, name
        assert C.file_sha256(path) == e["sha256"], name
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = C.DomainCNN(1, 28, 10)
        net.load_state_dict(state["net"])
        assert len(e["data_checksum"]) == 64 and e["recipe"] == C.RECIPE
    assert entries["mnist"]["accuracy"] >= 0.99
    assert entries["fashion-mnist"]["accuracy"] >= 0.92


def _lookalike(name: str) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (20, 1, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.arange(20) % 10
    return ImageSet(name=name, train_x=x, test_x=x, train_y=y, test_y=y,
                    class_names=tuple(str(i) for i in range(10)))


def test_other_training_data_gets_no_shipped_network():
    assert C.shipped_classifier(_lookalike("mnist")) is None  # same name, other images


def test_a_changed_weight_file_is_refused(tmp_path, monkeypatch):
    entry = C.manifest()["mnist"]
    shutil.copy(C.MANIFEST, tmp_path / "manifest.json")
    raw = bytearray((C.WEIGHTS_DIR / entry["file"]).read_bytes())
    raw[-100] ^= 1
    (tmp_path / entry["file"]).write_bytes(bytes(raw))
    monkeypatch.setattr(C, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(C, "MANIFEST", tmp_path / "manifest.json")
    data = _lookalike("mnist")
    monkeypatch.setattr(ImageSet, "checksum", lambda self: entry["data_checksum"])
    with pytest.raises(C.WeightsError, match="SHA-256"):
        C.shipped_classifier(data)


@pytest.fixture(scope="module")
def fashion_task():
    from gankit.tasks import build_task

    try:
        task = build_task(load_preset("fashion-dcgan"))
    except DataError as e:
        pytest.skip(f"Fashion-MNIST not available ({e}); .ci/run installs it")
    return task


def test_fashion_runs_use_the_shipped_network(fashion_task):
    clf = fashion_task.classifier()
    assert clf.path is not None and clf.path.parent == C.WEIGHTS_DIR
    assert clf.accuracy == C.manifest()["fashion-mnist"]["accuracy"]


def test_fd_classifier_of_the_shipped_samples_is_the_recorded_value(fashion_task):
    """Samples of a 30-step fashion-dcgan run (uint8, shipped) against the first 2,000 test
    images: every machine must reproduce the recorded value within 1e-3."""
    fixed = json.loads(FIXED.read_text())
    fake = torch.from_numpy(np.load(SAMPLES)["images"]).float() / 255
    real = fashion_task.data.test_x[:2000].float() / 255
    clf = fashion_task.classifier()
    fd = C.frechet_distance(clf.features_and_logits(fake)[0], clf.features_and_logits(real)[0])
    assert fd == pytest.approx(fixed["fd_classifier"], rel=1e-3)


def test_classifier_identity_compares_every_tensor(tmp_path, monkeypatch):
    """benchmarks/classifier_identity.py's verdict: equal files are identical, one changed value
    is found and measured."""
    from benchmarks import classifier_identity as module

    shipped = C.WEIGHTS_DIR / C.manifest()["fashion-mnist"]["file"]
    state = torch.load(shipped, map_location="cpu", weights_only=True)
    n = len(state["net"])
    assert module.compare(shipped, shipped) == {"tensors": n, "equal": n, "same_keys": True,
                                                "max_abs_diff": 0.0}
    name = next(iter(state["net"]))
    state["net"][name].view(-1)[0] += 0.5
    torch.save(state, tmp_path / "changed.pt")
    result = module.compare(tmp_path / "changed.pt", shipped)
    assert result["equal"] == n - 1 and result["max_abs_diff"] == pytest.approx(0.5, rel=1e-3)
