"""DDP on CPU (gloo): ranks stay identical and follow the single-process run with the same global
batch; checkpoints resume under another process count; only rank 0 writes.

Why "to float tolerance" and not bit-exact against one process: with BatchNorm off, rank r of W
trains on rows [r·b, (r+1)·b) of exactly the global batch (real data and latent draws) that one
process uses, so the two runs compute the same mathematical gradient — but one process sums the
per-sample gradients in one reduction, while DDP sums each half on its own rank and averages the
halves in an all-reduce. Float addition is not associative, so the results differ in the last
bits (~1e-8 after 20 steps here) and we compare with atol 1e-5. Between ranks the comparison is
exact: every rank receives the same all-reduced gradient and applies the same Adam update.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gankit.config import load_preset
from gankit.errors import ConfigError, GankitError
from gankit.train import distributed
from gankit.train.checkpoint import FILENAME, load_checkpoint

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import free_port, launch

SMALL = ["model.g_width=32", "model.d_width=32", "data.n_train=2000", "train.batch_size=64",
         "train.log_every=5", "train.ckpt_every=10", "train.frame_every=1000",
         "eval.n_samples=300"]
ATOL = 1e-5


def assert_close(a: dict, b: dict, exact: bool = False) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if exact:
            assert torch.equal(a[k], b[k]), f"{k} differs between ranks"
        else:
            torch.testing.assert_close(a[k], b[k], atol=ATOL, rtol=1e-4, msg=k)


def test_two_ranks_match_one_process_and_resume_on_one(tmp_path):
    two = launch(2, SMALL, tmp_path / "two", tmp_path / "out", steps=20)
    one = launch(1, SMALL, tmp_path / "one", tmp_path / "out1", steps=20)
    assert [r["local_batch"] for r in two] == [32, 32] and one[0]["local_batch"] == 64
    assert_close(two[0]["state"], two[1]["state"], exact=True)
    assert_close(two[0]["state"], one[0]["state"])
    # the weights moved: the comparison above is not between two untouched initialisations
    init = load_preset("toy-grid").with_overrides(SMALL)
    from gankit.nets import build_generator

    torch.manual_seed(init.train.seed)
    g0 = build_generator(init, (2,)).state_dict()
    assert max((g0[k] - one[0]["state"][f"G.{k}"]).abs().max() for k in g0) > 1e-3

    # only rank 0 wrote: one log line per 5 steps, one checkpoint, no stray temporary files
    log = [json.loads(x) for x in (tmp_path / "two/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [5, 10, 15, 20]
    logged = [json.loads(x) for x in (tmp_path / "one/metrics.jsonl").read_text().splitlines()]
    for a, b in zip(log, logged):  # statistics averaged over ranks = the single-process ones
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert a[key] == pytest.approx(b[key], abs=1e-5)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == \
        [".gankit-lock", ".gankit-run", "checkpoint.pt", "config.toml", "frames", "metrics.jsonl"]

    # the two-process checkpoint resumes in one process, on the single-process trajectory
    resumed = launch(1, SMALL, tmp_path / "two", tmp_path / "out", steps=30, resume=True)
    longer = launch(1, SMALL, tmp_path / "one", tmp_path / "out1", steps=30, resume=True)
    assert resumed[0]["step"] == 30
    assert_close(resumed[0]["state"], longer[0]["state"])


@pytest.mark.slow
def test_one_process_checkpoint_resumes_on_two_and_a_signal_stops_both_ranks(tmp_path):
    """BatchNorm on; rank 1 alone gets SIGTERM after step 15 (after that step's vote): step 16
    posts it, step 17 reads the result, both ranks stop after step 17, save, and hold identical
    parameters and buffers."""
    bn = [*SMALL, "model.g_batchnorm=true", "model.d_batchnorm=true"]
    launch(1, bn, tmp_path / "run", tmp_path / "out", steps=10)
    two = launch(2, bn, tmp_path / "run", tmp_path / "out", steps=30, resume=True,
                 signal_rank=1, signal_at=15)
    assert [r["step"] for r in two] == [17, 17]
    assert [r["finished"] for r in two] == [False, False]
    assert [r["stop_signal"] for r in two] == ["SIGTERM", "SIGTERM"]
    assert load_checkpoint(tmp_path / "run" / FILENAME)["step"] == 17
    # parameters by DDP, BatchNorm buffers by the checkpoint-time broadcast from rank 0
    assert_close(two[0]["state"], two[1]["state"], exact=True)
    assert any("running_mean" in k for k in two[0]["state"])


@pytest.mark.slow
def test_torchrun_cli_trains_evaluates_and_resumes(tmp_path):
    """The real entry point: `torchrun --nproc_per_node 2 -m gankit train`, then a resume."""
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
            "--master_port", str(free_port()), "-m", "gankit"]
    done = subprocess.run([*base, "train", "toy-grid", *SMALL, "--steps", "10", "--out",
                           str(run_dir)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("→") == 1  # the header: rank 0 only
    assert "2 processes" in done.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["step"] == 10 and metrics["processes"] == 2 and metrics["peak_memory_mib"] > 0
    again = subprocess.run([*base, "resume", str(run_dir), "--steps", "20"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((run_dir / "metrics.json").read_text())["step"] == 20
    shutil.rmtree(run_dir)


# -- no processes needed ----------------------------------------------------------------------
def test_the_global_batch_must_divide_among_ranks():
    info = distributed.Dist(rank=1, world_size=3)
    assert distributed.local_batch(96, 1, info) == 32
    with pytest.raises(ConfigError, match="divide evenly among the 3 processes"):
        distributed.local_batch(100, 1, info)
    assert distributed.local_batch(96, 4, info) == 32  # packs of 4 fit in each share
    with pytest.raises(ConfigError, match="multiple of 9"):  # 40 per rank, packs of 3
        distributed.local_batch(120, 3, info)


def test_rank_slices_tile_the_global_draw():
    z = torch.arange(12.0).view(6, 2)
    parts = [distributed.rank_slice(z, distributed.Dist(r, 3)) for r in range(3)]
    assert torch.equal(torch.cat(parts), z)
    assert distributed.rank_slice(z, distributed.SINGLE) is z


def test_environment_is_read_and_checked(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.from_env() == distributed.SINGLE
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.from_env() == distributed.Dist(1, 2, 1)
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(GankitError, match="outside"):
        distributed.from_env()


def test_sync_batchnorm_is_refused_on_cpu():
    with pytest.raises(ConfigError, match="SyncBatchNorm"):
        load_preset("toy-grid").with_overrides(["train.device=cpu", "train.sync_batchnorm=true"])
    with pytest.raises(ConfigError, match="SyncBatchNorm"):
        distributed.sync_batchnorm(torch.nn.BatchNorm1d(3), torch.device("cpu"))
