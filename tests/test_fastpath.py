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
    monkeypatch.setattr(fastpath, "cpu_bf16_native", lambda: False)
    assert fastpath.resolve(conv, cpu, conv=True) == fastpath.FastPath()  # emulated bf16: fp32
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


def test_cpu_defaults_follow_native_bf16(monkeypatch):
    """On CPU, conv nets get bf16 autocast and channels-last only where bf16 is in hardware;
    torch.compile stays opt-in; the toy MLP stays eager fp32."""
    monkeypatch.setattr(fastpath, "cpu_bf16_native", lambda: True)
    cpu = torch.device("cpu")
    conv = dcgan_cfg().train
    assert fastpath.resolve(conv, cpu, conv=True) == fastpath.FastPath(amp=True,
                                                                       channels_last=True)
    toy = load_preset("toy-grid").train
    assert fastpath.resolve(toy, cpu, conv=False) == fastpath.FastPath()
    asked = dcgan_cfg("train.channels_last=false", "train.compile=true").train  # explicit wins
    assert fastpath.resolve(asked, cpu, conv=True) == fastpath.FastPath(amp=True, compile=True)
    monkeypatch.setattr(fastpath, "cpu_bf16_native", lambda: False)
    assert fastpath.resolve(conv, cpu, conv=True) == fastpath.FastPath()


def test_cpu_flags_name_bf16_hardware(monkeypatch, tmp_path):
    fastpath.cpu_flags.cache_clear()
    fake = tmp_path / "cpuinfo"
    monkeypatch.setattr(fastpath, "Path", lambda _: fake)
    try:
        fake.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n\n"
                        "processor\t: 1\nflags\t\t: fpu sse2 avx2 avx512f\n")
        assert "avx512f" in fastpath.cpu_flags() and not fastpath.cpu_bf16_native()
        fastpath.cpu_flags.cache_clear()
        fake.write_text("processor\t: 0\nflags\t\t: avx512f avx512_bf16 amx_bf16 amx_tile\n")
        assert fastpath.cpu_bf16_native() == torch.backends.mkldnn.is_available()
        fastpath.cpu_flags.cache_clear()
        fake.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")  # Arm
        assert fastpath.cpu_bf16_native() == torch.backends.mkldnn.is_available()
    finally:
        fastpath.cpu_flags.cache_clear()


def test_unavailable_compile_falls_back_to_eager_with_a_note(monkeypatch):
    monkeypatch.setattr(fastpath, "compile_unavailable", lambda: "no C++ compiler (test)")
    trainer = Trainer(dcgan_cfg("train.compile=true"), RandomImages())
    assert not trainer.fast.compile and trainer.nets.G_fast is not None
    assert any("train.compile = true is not available here: no C++ compiler (test)" in n
               and "eagerly" in n for n in notes_of(trainer))
    trainer.train_step()
    assert torch.isfinite(trainer.acc).all()


def test_emulated_bf16_asked_for_is_said(monkeypatch):
    monkeypatch.setattr(fastpath, "cpu_bf16_native", lambda: False)
    trainer = Trainer(dcgan_cfg("train.amp=true"), RandomImages())
    assert trainer.fast.amp and any("bf16 is emulated" in n for n in notes_of(trainer))


def notes_of(trainer):
    record = getattr(trainer, "run_record", None)  # the run's bookkeeping, where it has one
    return trainer.notes if record is None else record.notes


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize("fresh", [True, False])
def test_fresh_latents_for_g_sets_the_generator_forwards_per_step(fresh):
    trainer = Trainer(dcgan_cfg(f"train.fresh_latents_for_g={str(fresh).lower()}"),
                      RandomImages())
    calls = count_calls(trainer.G)
    for _ in range(2):
        trainer.train_step()
    assert len(calls) == (4 if fresh else 2)
    assert trainer.reused_fake is None  # no graph kept between steps


def test_reused_fakes_resume_exactly_and_differ_from_fresh(tmp_path):
    def cfg(fresh, steps):
        return load_preset("toy-grid").with_overrides([
            *TOY, f"train.steps={steps}", f"train.fresh_latents_for_g={fresh}",
            "model.g_batchnorm=true"])

    full = run.start(cfg("false", 20), tmp_path / "full")
    run.train_run(full)
    half = run.start(cfg("false", 10), tmp_path / "half")
    run.train_run(half)
    resumed = run.open_trainer(tmp_path / "half", steps=20)
    run.train_run(resumed)
    for a, b in zip(full.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(a, b)
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "half/metrics.jsonl").read_text()
    fresh = run.start(cfg("true", 20), tmp_path / "fresh")
    run.train_run(fresh)
    assert any(not torch.equal(a, b) for a, b in zip(full.G.parameters(), fresh.G.parameters()))


def test_reused_fakes_refuse_several_g_updates():
    with pytest.raises(ConfigError, match="fresh_latents_for_g = false re-uses"):
        load_preset("toy-grid").with_overrides(["train.fresh_latents_for_g=false",
                                                "train.g_steps=2"])
    with pytest.raises(ConfigError, match="train.interop_threads"):
        load_preset("toy-grid").with_overrides(["train.interop_threads=-1"])


def test_contradictions_are_config_errors():
    with pytest.raises(ConfigError, match="fused_adam = true applies to Adam"):
        load_preset("toy-grid").with_overrides(["train.optimizer=rmsprop",
                                                "train.fused_adam=true"])
    with pytest.raises(ConfigError, match="not one of"):
        load_preset("toy-grid").with_overrides(["train.on_nonfinite=ignore"])


def test_bf16_and_channels_last_train_a_dcgan_on_cpu():
    plain = Trainer(dcgan_cfg("train.amp=false", "train.channels_last=false"), RandomImages())
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


@pytest.mark.slow
def test_compiled_bf16_channels_last_dcgan_follows_eager_on_cpu():
    """The CPU defaults where bf16 is native (bf16, channels-last, compile): the compiled step
    trains as the eager one does, up to bf16 rounding, and is deterministic (resumes exactly)."""
    fast = ["train.amp=true", "train.channels_last=true"]
    eager = Trainer(dcgan_cfg(*fast, "train.compile=false"), RandomImages())
    compiled = [Trainer(dcgan_cfg(*fast, "train.compile=true"), RandomImages()) for _ in (0, 1)]
    for _ in range(3):
        for trainer in (eager, *compiled):
            trainer.train_step()
    for a, b, c in zip(eager.G.parameters(), *(t.G.parameters() for t in compiled)):
        torch.testing.assert_close(a, b, atol=2e-2, rtol=0.1)
        assert torch.equal(b, c)


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
