"""Inception FID only from a local, checksum-verified TorchScript file; never a download."""

from __future__ import annotations

import hashlib

import pytest
import torch
from torch import Tensor, nn

from gankit.config import load_preset
from gankit.errors import ConfigError, DataError
from gankit.metrics import METRICS
from gankit.metrics.inception import load_inception, with_inception
from gankit.tasks import build_task


class FakeInception(nn.Module):
    """Same call signature as the real network: uint8 N×3×H×W, return_features -> N×2048."""

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor:
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        pooled = x.float().mean(dim=(2, 3)) / 255  # N×3
        return torch.cat([pooled, (x.float() / 255).flatten(1)[:, :2045]], 1)


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "inception.pt"
    torch.jit.script(FakeInception()).save(str(path))
    return path


def write_sidecar(path, digest=None):
    digest = digest or hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / (path.name + ".sha256")).write_text(f"{digest}  {path.name}\n")


def test_missing_file_never_downloads(tmp_path):
    with pytest.raises(DataError, match="never downloads"):
        load_inception(tmp_path / "none.pt")


def test_checksum_required(weights):
    with pytest.raises(ConfigError, match="inception_sha256"):
        load_inception(weights)


def test_wrong_checksum(weights):
    write_sidecar(weights, "0" * 64)
    with pytest.raises(DataError, match="fail their checksum"):
        load_inception(weights)
    with pytest.raises(DataError, match="fail their checksum"):
        load_inception(weights, "ab" * 32)


def test_not_torchscript(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"junk")
    with pytest.raises(DataError, match="not a TorchScript module"):
        load_inception(path, hashlib.sha256(b"junk").hexdigest())


def test_fid_inception_on_digits(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    write_sidecar(weights)
    cfg = with_inception(load_preset("digits-tiny").with_overrides({"eval.metrics": []}), weights)
    assert cfg.eval.metrics == ("fid_inception",) and cfg.eval.inception_weights == str(weights)
    task = build_task(cfg)
    real = task.real_samples(200, 0)
    same = METRICS["fid_inception"](real, real, task)
    noise = METRICS["fid_inception"](torch.rand(200, 1, 28, 28) * 2 - 1, real, task)
    assert abs(same) < 1e-2 and noise > 1.0
