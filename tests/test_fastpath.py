"""Fast-path switches: how they resolve per device, that each works on CPU, that checkpoints do
not depend on them, and (on a CUDA machine) that the step makes no host synchronisation."""

import json

import pytest
import torch

from gankit import run
from gankit.config import load_preset
from gankit.errors import ConfigError
from gankit.train import fastpath
from gankit.train.checkpoint import FILENAME, load_checkpoint
from gankit.train.loop import Trainer

TOY = ["model.g_width=16", "model.d_width=16", "data.n_train=1000", "train.batch_size=32",
       "train.log_every=5", "train.ckpt_every=5", "train.frame_every=1000", "eval.n_samples=200",
       "train.steps=10", "train.threads=1"]


class RandomImages:
    """A tiny image task: 28×28 grayscale noise (the fast path does not care what it shows)."""

    sample_shape = (1, 28, 28)

    def train_data(self):
        return torch.rand(256, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


def dcgan_cfg(*extra):
    return load_preset("fashion-dcgan").with_overrides([
        "model.g_width=8", "model.d_width=8", "prior.dim=16", "train.batch_size=16",
        "train.threads=1", "eval.metrics=[]", *extra])


def test_automatic_switches_per_device(monkeypatch):
    toy, conv = load_preset("toy-grid").train, dcgan_cfg().train
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert fastpath.resolve(conv, cpu, conv=True) == fastpath.FastPath()  # CPU: eager fp32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    on = fastpath.resolve(conv, cuda, conv=True)
    assert on.amp and on.channels_last and on.compile and on.fused_adam
    mlp = fastpath.resolve(toy, cuda, conv=False)  # 2-D points stay fp32, no channels
    assert not mlp.amp and not mlp.channels_last and mlp.compile and mlp.fused_adam
    off = load_preset("toy-grid").with_overrides(["train.compile=false",
                                                  "train.fused_adam=false"]).train
    assert not fastpath.resolve(off, cuda, conv=False).compile
    rms = load_preset("toy-grid").with_overrides(["train.optimizer=rmsprop"]).train
    assert not fastpath.resolve(rms, cuda, conv=False).fused_adam  # Adam only
    skip = load_preset("toy-grid").with_overrides(["train.on_nonfinite=skip"]).train
    assert fastpath.resolve(skip, cpu, conv=False).fused_adam  # the device-side skip


def test_contradictions_are_config_errors():
    with pytest.raises(ConfigError, match="fused_adam = true applies to Adam"):
        load_preset("toy-grid").with_overrides(["train.optimizer=rmsprop",
                                                "train.fused_adam=true"])
    with pytest.raises(ConfigError, match="not one of"):
        load_preset("toy-grid").with_overrides(["train.on_nonfinite=ignore"])


def test_bf16_and_channels_last_train_a_dcgan_on_cpu():
    plain = Trainer(dcgan_cfg(), RandomImages())
    fast = Trainer(dcgan_cfg("train.amp=true", "train.channels_last=true",
                             "train.fused_adam=true"), RandomImages())
    assert fast.fast.describe() == "bf16 autocast, channels-last, fused Adam"
    conv = next(m for m in fast.D.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    logits = fast.nets.D_ddp(fast.sampler.batch(0))
    assert logits.dtype == torch.float32  # the autocast wrapper hands back float32
    before = [p.detach().clone() for p in fast.G.parameters()]
    for _ in range(3):
        fast.train_step()
        plain.train_step()
    assert torch.isfinite(fast.acc).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, fast.G.parameters()))
    # bf16 rounds, but the first steps of both runs stay close
    torch.testing.assert_close(fast.acc, plain.acc, atol=0.1, rtol=0.1)
    # the checkpoint is the plain modules' state, whatever the fast path
    assert fast.state()["G"].keys() == plain.state()["G"].keys()
    assert fast.state()["D"].keys() == plain.state()["D"].keys()


def test_a_checkpoint_resumes_with_another_optimizer_kernel(tmp_path):
    fused = run.start(load_preset("toy-grid").with_overrides([*TOY, "train.fused_adam=true"]),
                      tmp_path / "r")
    run.train_run(fused)
    assert load_checkpoint(tmp_path / "r" / FILENAME)["opt_g"]["param_groups"][0]["fused"]
    cfg = load_preset("toy-grid").with_overrides([*TOY, "train.steps=20",
                                                  "train.fused_adam=false"])
    resumed = Trainer(cfg, fused.task, tmp_path / "r")
    resumed.load_state(load_checkpoint(tmp_path / "r" / FILENAME), tmp_path / "r" / FILENAME)
    assert not any(g["fused"] for g in resumed.opt_g.param_groups)
    step = resumed.opt_g.state[next(resumed.G.parameters())]["step"]
    assert step.device.type == "cpu" and int(step) == 10
    resumed.fit(20)
    assert int(resumed.opt_g.state[next(resumed.G.parameters())]["step"]) == 20


def test_metrics_json_records_peak_memory_and_speed_and_keeps_them(tmp_path):
    trainer = run.start(load_preset("toy-grid").with_overrides(TOY), tmp_path / "r")
    run.train_run(trainer)
    result = run.evaluate(trainer)
    assert "peak_memory_mib" not in result  # the returned metrics stay metrics
    written = json.loads((tmp_path / "r/metrics.json").read_text())
    assert written["peak_memory_kind"] == "cpu_max_rss" and written["peak_memory_mib"] > 50
    assert written["processes"] == 1 and written["train_steps_per_second"] > 0
    run.evaluate(run.open_trainer(tmp_path / "r"))  # `gankit eval` later: the numbers stay
    again = json.loads((tmp_path / "r/metrics.json").read_text())
    assert again["peak_memory_mib"] == written["peak_memory_mib"]


@pytest.mark.slow
def test_torch_compile_on_cpu_follows_eager():
    eager = Trainer(load_preset("toy-grid").with_overrides(TOY), toy_task())
    compiled = Trainer(load_preset("toy-grid").with_overrides([*TOY, "train.compile=true"]),
                       toy_task())
    for _ in range(3):
        eager.train_step()
        compiled.train_step()
    for a, b in zip(eager.G.parameters(), compiled.G.parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def toy_task():
    from gankit.tasks import build_task

    return build_task(load_preset("toy-grid").with_overrides(TOY))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_cuda_step_makes_no_host_synchronisation():
    """CUDA's sync debug mode raises on any synchronising call inside train_step."""
    trainer = Trainer(dcgan_cfg("train.device=cuda", "train.compile=false"), RandomImages())
    for _ in range(2):
        trainer.train_step()  # warm-up: lazy initialisation may synchronise
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            trainer.train_step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(v == v for v in trainer.acc.tolist())
