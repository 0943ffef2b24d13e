"""The prepared GPU check (benchmarks/gpu_check.py) cannot rot between GPU runs: its CPU rehearsal
runs every part at toy sizes here, and what it records, and how, is checked."""

import json
import os
import subprocess
import sys

import pytest
import torch

from benchmarks import gpu_check, multiseed
from benchmarks.gpu import report as gpu_report
from benchmarks.gpu import schedule
from benchmarks.report import ROOT


def test_the_cpu_rehearsal_runs_every_part_and_reports_each(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GANKIT_TEST_DEVICE", None)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--device", "cpu", "--tiny", "--out",
         str(out), "--work", str(tmp_path / "work"), "--grace", "150"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / schedule.RESULT_NAME).read_text())
    parts = results["parts"]
    assert list(parts) == [p.name for p in gpu_check.PARTS]
    log = (out / schedule.LOG_NAME).read_text()
    for part in gpu_check.PARTS:
        res = parts[part.name]
        assert res["status"] in ("ok", "skipped"), (part.name, res, log[-4000:])
        if res["status"] == "skipped":  # only for want of data, and said so
            assert part.data and "no mnist data" in res["reason"]
        assert f"== {part.name}: {res['status']}" in log
    meta = results["meta"]
    assert meta["device"] == "cpu" and meta["tiny"] and meta["torch"] == torch.__version__
    tests = parts["tests"]
    assert tests["passed"] >= 5 and tests["failed"] == 0
    assert any(v.startswith("skipped") for v in tests["tests"].values())  # CUDA-only ones
    speed = parts["speed"]["models"]
    assert [r["model"].split(" (")[0] for r in speed] == ["toy MLP", "DCGAN 28×28",
                                                          "DCGAN 64×64"]
    assert all(r["classic_samples_per_s"] > 0 and r["fast_samples_per_s"] > 0 for r in speed)
    assert speed[2]["gflop_per_image"] > speed[1]["gflop_per_image"] > 0
    assert all(r["batch_search"]["rows"] for r in speed[1:])
    mlp = parts["small_mlp"]
    assert mlp["trainer_choice"] == "eager"  # the one CPU variant; compile modes on CUDA
    assert mlp["multiseed_choice"] in ("sequential", "vmap")
    assert all(r["finite"] for r in mlp["multiseed"].values())
    assert parts["fashion"]["steps"] > 0 and (out / "fashion-grid.png").is_file()
    pacgan = parts["pacgan"]["methods"]
    assert pacgan["PacGAN4"]["overrides"]["train.pack"] == "4"
    assert all(r["steps"] > 0 and 0 <= r["modes"] <= 25 for r in pacgan.values())
    assert parts["pacgan"]["goal_met"] is None  # not judged short of 400,000 steps

    body, _ = gpu_report.render(results)
    for part in gpu_check.PARTS:
        assert f"| {part.name} | {parts[part.name]['status']} |" in body
    assert "### Speed" in body and "### PacGAN" in body
    # a rehearsal is never recorded as a measurement
    refused = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--record",
                              str(out / schedule.RESULT_NAME)], cwd=ROOT, capture_output=True,
                             text=True)
    assert refused.returncode == 2 and refused.stderr.startswith("error: ")
    assert "Traceback" not in refused.stderr


def gpu_results() -> dict:
    """The shape of a full GPU run's JSON (numbers made up for this test only)."""
    row = {"model": "DCGAN 64×64 (RGB, width 64, nz 100, batch 128)", "batch": 128,
           "classic_samples_per_s": 1000.0, "fast_samples_per_s": 4000.0, "ratio": 4.0,
           "fast_path": "bf16 autocast", "gflop_per_image": 2.484, "peak_fraction": 0.01,
           "best_batch": 1024, "best_samples_per_s": 8000.0, "best_peak_fraction": 0.02,
           "batch_search": {"note": "out of memory at 4096"}}
    return {"meta": {"command": "python -m benchmarks.gpu_check", "date": "2026-12-01 10:00 UTC",
                     "machine": "m", "torch": "2.11.0+cu130", "cuda": "13.0", "device": "cuda",
                     "gpu": "NVIDIA H200", "commit": "abc", "budget_minutes": 8, "tiny": False},
            "parts": {"tests": {"status": "ok", "seconds": 50},
                      "speed": {"status": "ok", "seconds": 80, "peak_bf16_tflops": 989.4,
                                "peak_source": "data sheet", "models": [row]},
                      "small_mlp": {"status": "timeout", "reason": "killed", "seconds": 75,
                                    "trainer": {"eager": {"steps_per_s": 500.0,
                                                          "warmup_s": 1.0}}},
                      "pacgan": {"status": "timeout", "reason": "killed", "methods": {
                          "GAN": {"steps": 1000, "steps_per_s": 100.0, "modes": 20,
                                  "hq_fraction": 0.5, "reverse_kl": 0.3,
                                  "fast_path": "eager fp32"}}},
                      "stacked": {"status": "skipped", "reason": "no mnist data"}}}


def test_record_writes_benchmarks_and_speed_md_and_rewrites_in_place(tmp_path, monkeypatch):
    from benchmarks import report

    bench, speed_md = tmp_path / "BENCHMARKS.md", tmp_path / "speed.md"
    bench.write_text("# b\n")
    speed_md.write_text("# speed\n\n## Memory\n\ntext\n\n## Faults\n\nmore\n")
    monkeypatch.setattr(report, "BENCHMARKS", bench)
    monkeypatch.setattr(gpu_report, "SPEED_MD", speed_md)
    for _ in range(2):  # the second write replaces the first
        gpu_report.write_docs(gpu_results())
    text, md = bench.read_text(), speed_md.read_text()
    assert text.count("<!-- section:gpu-check -->") == 1
    assert "| DCGAN 64×64 (RGB, width 64, nz 100, batch 128) | 128 | 1,000 | 4,000 | 4.00×" in text
    assert "NVIDIA H200" in text and "torch 2.11.0+cu130, CUDA 13.0" in text
    assert "| stacked | skipped | 0 | no mnist data |" in text
    assert "| eager | 500 | 1 |" in text and "| GAN | 1,000 | 100 | 20 |" in text  # partial
    assert md.count("<!-- gpu-check -->") == 1 and md.index("<!-- gpu-check -->") < \
        md.index("## Faults")
    assert "| DCGAN 64×64" in md.split("<!-- gpu-check -->")[1]


def test_shares_follow_the_nominal_seconds_and_keep_minimums():
    parts = list(gpu_check.PARTS)
    assert sum(p.full for p in parts) == 8 * 60  # the default budget, split as planned
    assert schedule.shares(480, parts, tiny=False) == pytest.approx(75)
    assert schedule.shares(240, parts, tiny=False) == pytest.approx(37.5)
    assert schedule.shares(100, parts, tiny=False) == 30  # the tests' minimum
    fashion = parts[3:]
    assert schedule.shares(200, fashion, tiny=False) == 140  # two fixed minutes + evaluation
    assert schedule.shares(100, fashion, tiny=False) == 100  # (then skipped: below minimum)
    assert schedule.shares(480, parts, tiny=True) == parts[0].tiny


def test_several_seeds_at_once_equal_one_seed_at_a_time():
    models = []
    for how in ("sequential", "vmap"):
        m = multiseed.MultiSeed(3, torch.device("cpu"), width=16)
        step = m.stepper(how, 32)
        torch.manual_seed(5)
        step()
        step()
        models.append(m)
    for key, value in models[0].pg.items():
        torch.testing.assert_close(value, models[1].pg[key], atol=1e-5, rtol=1e-4)
        assert not torch.equal(value[0], value[1])  # the seeds differ
    before = multiseed.MultiSeed(3, torch.device("cpu"), width=16).pg
    assert any(not torch.equal(before[k], models[1].pg[k]) for k in before)  # it trained
