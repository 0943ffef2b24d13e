"""The CUDA paths: the fast path (bf16, channels-last, torch.compile, fused Adam), a step without
host synchronisation, checkpoint / resume / SIGTERM, NaN stop and skip, and torchrun with one
rank in a real process group (NCCL on a GPU).

The device comes from $GANKIT_TEST_DEVICE, else CUDA when there is one; on a machine without a
GPU the module is skipped. `benchmarks/gpu_check.py` runs it on the GPU, and its CPU rehearsal
(`--device cpu --tiny`) runs it with GANKIT_TEST_DEVICE=cpu so that it cannot rot between GPU
runs. torch.compile is on for CUDA and off for CPU (it costs tens of seconds on a small CPU);
GANKIT_TEST_COMPILE=1/0 overrides that. The sync-debug tests, CUDA's own, skip on CPU.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gankit import run
from gankit.config import load_preset
from gankit.train.checkpoint import FILENAME, load_checkpoint
from gankit.train.guard import NonFiniteError
from gankit.train.loop import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import free_port
from test_fastpath import RandomImages, dcgan_cfg
from test_faults import poison_g_loss, tiny_cfg

DEVICE = os.environ.get("GANKIT_TEST_DEVICE") or ("cuda" if torch.cuda.is_available() else "")
CUDA = DEVICE.startswith("cuda")
COMPILE = os.environ.get("GANKIT_TEST_COMPILE", "1" if CUDA else "0") == "1"
pytestmark = pytest.mark.skipif(
    not DEVICE, reason="needs a CUDA device (or GANKIT_TEST_DEVICE=cpu, as the CPU rehearsal of "
                       "benchmarks/gpu_check.py sets it)")
ONE_RANK = Path(__file__).parent / "one_rank_worker.py"
MLP = ["model.g_width=32", "model.d_width=32", "data.n_train=2000", "train.batch_size=64",
       "train.threads=1", "eval.n_samples=300", "train.frame_every=100000"]


def on_device(*extra: str) -> list[str]:
    return [f"train.device={DEVICE}", *extra]


def fast(conv: bool) -> list[str]:
    """Every fast-path switch on (compile where affordable)."""
    return on_device("train.amp=true", f"train.compile={str(COMPILE).lower()}",
                     "train.fused_adam=true", *(["train.channels_last=true"] if conv else []))


class ToyTask:
    """The grid task of the toy preset (the trainer only needs its data)."""

    def __init__(self, cfg):
        from gankit.tasks import build_task

        self.inner = build_task(cfg)
        self.sample_shape = self.inner.sample_shape

    def train_data(self):
        return self.inner.train_data()


def trainers(conv: bool, extra: list[str]) -> tuple[Trainer, Trainer]:
    """(plain eager fp32, with `extra`) trainers of the same net and seed on the device."""
    if conv:
        plain = Trainer(dcgan_cfg(*on_device("train.compile=false", "train.amp=false",
                                             "train.fused_adam=false",
                                             "train.channels_last=false")), RandomImages())
        return plain, Trainer(dcgan_cfg(*extra), RandomImages())
    base = load_preset("toy-grid").with_overrides(MLP)
    plain = base.with_overrides(on_device("train.compile=false", "train.amp=false",
                                          "train.fused_adam=false"))
    return Trainer(plain, ToyTask(plain)), Trainer(base.with_overrides(extra), ToyTask(plain))


@pytest.mark.parametrize("conv", [True, False], ids=["dcgan", "mlp"])
def test_the_full_fast_path_trains_close_to_eager_fp32(conv):
    plain, quick = trainers(conv, fast(conv))
    expected = ["bf16 autocast", *(["channels-last"] if conv else []),
                *(["torch.compile (default)"] if COMPILE else []), "fused Adam"]
    assert quick.fast.describe() == ", ".join(expected)
    if conv:
        layer = next(m for m in quick.D.modules() if isinstance(m, torch.nn.Conv2d))
        assert layer.weight.is_contiguous(memory_format=torch.channels_last)
    before = [p.detach().clone() for p in quick.G.parameters()]
    for _ in range(3):
        plain.train_step()
        quick.train_step()
    assert torch.isfinite(quick.acc).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, quick.G.parameters()))
    # bf16 rounds, but the first steps of both runs stay close
    torch.testing.assert_close(quick.acc, plain.acc, atol=0.1, rtol=0.1)
    assert quick.state()["G"].keys() == plain.state()["G"].keys()  # plain modules' state
    assert quick.acc.device.type == torch.device(DEVICE).type


@pytest.mark.skipif(not CUDA, reason="CUDA's sync debug mode")
@pytest.mark.parametrize("conv", [True, False], ids=["dcgan", "mlp"])
def test_the_compiled_step_makes_no_host_synchronisation(conv):
    _, trainer = trainers(conv, on_device("train.compile=true"))  # CUDA's automatic fast path
    assert trainer.fast.compile and trainer.fast.fused_adam
    for _ in range(3):
        trainer.train_step()  # warm-up: compilation and lazy initialisation synchronise
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            trainer.train_step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(v == v for v in trainer.acc.tolist())


def test_sigterm_checkpoint_and_resume_follow_the_uninterrupted_run(tmp_path):
    cfg = load_preset("toy-grid").with_overrides(
        [*MLP, *on_device(), "train.steps=16", "train.log_every=4", "train.ckpt_every=8",
         f"train.compile={str(COMPILE).lower()}"])
    full = run.start(cfg, tmp_path / "full")
    assert run.train_run(full)
    stopped = run.start(cfg, tmp_path / "r")

    def term_at_6(t):
        if t.step == 6:
            os.kill(os.getpid(), signal.SIGTERM)

    assert run.train_run(stopped, term_at_6) is False
    assert stopped.stop_signal == "SIGTERM" and stopped.step == 6
    assert load_checkpoint(tmp_path / "r" / FILENAME)["step"] == 6
    resumed = run.open_trainer(tmp_path / "r")
    assert resumed.step == 6 and resumed.device.type == torch.device(DEVICE).type
    assert run.train_run(resumed)
    for a, b in zip(full.G.state_dict().values(), resumed.G.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
    result = run.evaluate(resumed)
    assert result["step"] == 16 and result["modes"] >= 0
    written = json.loads((tmp_path / "r/metrics.json").read_text())
    kind = "cuda_max_memory_allocated" if CUDA else "cpu_max_rss"
    assert written["peak_memory_kind"] == kind and written["peak_memory_mib"] > 0


def test_a_nan_stops_the_run_at_the_next_boundary(tmp_path):
    trainer = run.start(tiny_cfg(*on_device()), tmp_path / "r")
    poison_g_loss(trainer, {13})
    with pytest.raises(NonFiniteError, match="generator loss became NaN or infinite at step 13"):
        run.train_run(trainer)
    state = load_checkpoint(tmp_path / "r" / FILENAME)
    assert state["step"] == 10 and all(torch.isfinite(v).all() for v in state["G"].values())


def test_skip_leaves_out_the_bad_updates_on_the_device(tmp_path):
    trainer = run.start(tiny_cfg(*on_device(), "train.on_nonfinite=skip"), tmp_path / "r")
    assert trainer.fast.fused_adam  # the skip inside the fused kernel, no host read
    poison_g_loss(trainer, {13, 14})
    assert run.train_run(trainer)
    p = next(trainer.G.parameters())
    assert int(trainer.opt_g.state[p]["step"]) == 28  # two G updates skipped
    log = [json.loads(x) for x in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert [r["nonfinite_steps"] for r in log] == [0, 0, 2, 0, 0, 0]


def torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                           "1", "--master_port", str(free_port()), *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_torchrun_one_rank_in_a_process_group_stops_on_sigterm(tmp_path):
    """One rank forced onto gankit's multi-process path: NCCL (gloo on CPU), DDP, the stop
    vote, the collectives of a checkpoint. SIGTERM after step 5 is posted at step 6 and read
    at step 7, after which the rank stops."""
    out = tmp_path / "rank0.json"
    done = torchrun(str(ONE_RANK), DEVICE, str(tmp_path / "run"), str(out), str(COMPILE))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["backend"] == ("nccl" if CUDA else "gloo")
    assert record["ddp"] and record["step"] == 7 and record["stop_signal"] == "SIGTERM"
    assert record["finite"] and load_checkpoint(tmp_path / "run" / FILENAME)["step"] == 7


def test_the_torchrun_cli_trains_on_the_device(tmp_path):
    done = torchrun("-m", "gankit", "train", "toy-grid", *MLP, *on_device(), "--steps", "10",
                    "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["step"] == 10 and metrics["processes"] == 1
