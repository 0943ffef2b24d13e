"""One prepared GPU check: every CUDA path of gankit and the long protocols, in one short run.

GPU machines come rarely and briefly, so everything that needs one runs from this one script,
within a total budget, part after part, each in its own process (a crash, a hang or an
out-of-memory in one part is reported with its traceback, and the next part still runs):

    tests        tests/test_cuda.py on the device: sync-free step, bf16 + channels-last + compile
                 + fused Adam, SIGTERM / checkpoint / resume, NaN stop and skip, torchrun
    speed        the classic eager loop vs gankit's fast path (benchmarks/speed.py), toy MLP,
                 DCGAN 28×28 and 64×64 RGB: images/s, FLOPs per image, fraction of peak bf16,
                 and the largest batch that fits
    small_mlp    small MLPs are launch-bound: eager vs torch.compile vs CUDA graphs
                 (reduce-overhead) through gankit's trainer, and several seeds at once with
                 torch.func (benchmarks/multiseed.py) against one seed at a time
    fashion      the Fashion-MNIST DCGAN recipe for a fixed 2 minutes, evaluated as in
                 BENCHMARKS.md (fd_classifier against the noisy-real reference)
    keras_mnist  the Keras MNIST GAN of the implementation notes at its full 10,000 steps
    pacgan       PacGAN's 2-D grid protocol, GAN and PacGAN4, as many of 400,000 steps as fit
    stacked      Stacked MNIST with PacGAN's own nets (the stacked-mnist-pacgan preset: the
                 published protocol), as far as the budget allows

The parts live in benchmarks/gpu/ (the scheduler in schedule.py, the report in report.py). Each
part gets a share of what is left of the budget (its nominal seconds, scaled); a part whose
minimum does not fit is skipped with the reason, a part without its data likewise. Results: a
compact JSON and a log under --out. `--write` (or, for a JSON brought back from a GPU machine,
`--record FILE`) puts the numbers into BENCHMARKS.md (section `gpu-check`) and docs/speed.md.

    python -m benchmarks.gpu_check --budget-minutes 8 --out runs/gpu-check   # on the GPU machine
    python -m benchmarks.gpu_check --device cpu --tiny                        # CPU rehearsal
    python -m benchmarks.gpu_check --record runs/gpu-check/gpu-check.json     # write the docs

Nothing is downloaded: MNIST downloads are switched off, and parts whose data is missing are
skipped (bring the data with benchmarks/gpu_bundle.sh; docs/speed.md gives the exact commands).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.gpu import cuda_tests, recipes, small_mlp, throughput
from benchmarks.gpu.common import Skip, fail, find_data
from benchmarks.gpu.report import write_docs
from benchmarks.gpu.schedule import LOG_NAME, RESULT_NAME, Part, child, run_parts
from benchmarks.report import ROOT, command_line

BUNDLE = ROOT / ".gpu"
NO_DOWNLOAD = {"GANKIT_MNIST_MIRRORS": "http://127.0.0.1:9/no-download-during-the-gpu-check/"}

PARTS = (
    Part("tests", 75, 25, 30, "CUDA tests (tests/test_cuda.py)", cuda_tests.part_tests),
    Part("speed", 120, 10, 30, "classic eager loop vs gankit fast path; FLOPs; largest batch",
         throughput.part_speed),
    Part("small_mlp", 30, 8, 10, "small MLPs: compile modes, several seeds with torch.func",
         small_mlp.part_small_mlp),
    Part("fashion", 150, 10, 140, "Fashion-MNIST DCGAN recipe, 2 minutes of training",
         recipes.part_fashion),
    Part("keras_mnist", 60, 5, 30, "Keras MNIST GAN of the implementation notes, 10,000 steps",
         recipes.part_keras_mnist, "mnist"),
    Part("pacgan", 30, 8, 20, "PacGAN 2-D grid, GAN and PacGAN4, up to 400,000 steps",
         recipes.part_pacgan),
    Part("stacked", 15, 5, 10, "Stacked MNIST (1,000 modes), up to the published length",
         recipes.part_stacked, "mnist"),
)
BY_NAME = {p.name: p for p in PARTS}


def facts(device: str) -> dict:
    """Machine, GPU, versions, data found, command, date, commit: the provenance of the run."""
    import torch

    from gankit.bench.tables import machine

    meta: dict[str, Any] = {
        "command": command_line(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "device": device, "commit": commit()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        meta |= {"gpu": torch.cuda.get_device_name(0),
                 "gpu_memory_gib": round(props.total_memory / 2**30, 1),
                 "multiprocessors": props.multi_processor_count}
        if shutil.which("nvidia-smi"):
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,"
                                  "noheader"], capture_output=True, text=True)
            meta["driver"] = smi.stdout.strip() or None
    data = {}
    for name in ("fashion-mnist", "mnist"):
        try:
            data[name] = find_data(name)
        except Skip:
            data[name] = None
    meta["data"] = data
    return meta


def commit() -> str:
    """The git commit (and whether the tree differed), or the one gpu_bundle.sh recorded."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        recorded = BUNDLE / "COMMIT"
        return recorded.read_text().strip() if recorded.exists() else "unknown"


def part_env(work: Path) -> dict[str, str]:
    """The parts' environment: no downloads, the bundle's data, and a copy of its caches (the
    bundle's trained classifiers stay as they are); set here too, for the provenance."""
    env = {**os.environ, **NO_DOWNLOAD, "PYTHONUNBUFFERED": "1"}
    if "GANKIT_CACHE_DIR" not in env:
        if (BUNDLE / "cache").is_dir():
            shutil.copytree(BUNDLE / "cache", work / "cache", dirs_exist_ok=True)
        env["GANKIT_CACHE_DIR"] = str(work / "cache")
    if (BUNDLE / "data").is_dir():
        env.setdefault("GANKIT_DATA_DIR", str(BUNDLE / "data"))
    os.environ.update({k: env[k] for k in ("GANKIT_CACHE_DIR", "GANKIT_MNIST_MIRRORS",
                                           "GANKIT_DATA_DIR") if k in env})
    return env


def check(a: argparse.Namespace) -> dict[str, Any]:
    """Every asked part within the budget, in a temporary work folder unless --work names one."""
    temp = None
    if a.work is None:
        temp = tempfile.mkdtemp(prefix="gankit-gpu-check-")
        a.work = Path(temp)
    try:
        Path(a.work).mkdir(parents=True, exist_ok=True)
        env = part_env(Path(a.work))
        meta = {**facts(a.device), "budget_minutes": a.budget_minutes, "tiny": a.tiny}
        return run_parts(a, [BY_NAME[n] for n in a.parts], meta, env)
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cuda on the GPU machine; cpu for the rehearsal")
    ap.add_argument("--budget-minutes", type=float, default=8.0, help="total for all parts")
    ap.add_argument("--tiny", action="store_true", help="toy sizes: a rehearsal or a smoke run")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu-check",
                    help="where the JSON, the log and the pictures go")
    ap.add_argument("--work", type=Path, default=None,
                    help="run directories and caches (default: a temporary folder)")
    ap.add_argument("--grace", type=float, default=None,
                    help="seconds a part may overrun its share before it is killed "
                         "(default 45; 30 with --tiny)")
    ap.add_argument("--parts", nargs="+", default=[p.name for p in PARTS],
                    choices=[p.name for p in PARTS], help="a subset, in the usual order")
    ap.add_argument("--write", action="store_true",
                    help="afterwards, write the numbers into BENCHMARKS.md and docs/speed.md")
    ap.add_argument("--record", type=Path, metavar="JSON",
                    help="no run: write the numbers of a saved gpu-check.json into the docs")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    ap.add_argument("--deadline", type=float, default=float("inf"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.part:
        child(a, BY_NAME[a.part])
        return
    if a.record:
        if not a.record.is_file():
            fail(f"no results file at {a.record}")
        print("\n".join(map(str, write_docs(json.loads(a.record.read_text()),
                                             a.record.parent))))
        return
    if a.budget_minutes <= 0:
        fail("--budget-minutes must be positive")
    if a.write and (a.tiny or a.device != "cuda"):
        fail("--write records a full GPU run; leave it out with --tiny or --device cpu")
    import torch

    if a.device == "cuda" and not torch.cuda.is_available():
        fail("no CUDA device here; use --device cpu --tiny for the rehearsal")
    a.parts = [p.name for p in PARTS if p.name in a.parts]
    results = check(a)
    bad = [n for n, r in results["parts"].items() if r["status"] in ("failed", "timeout")]
    print(f"wrote {Path(a.out) / RESULT_NAME} and {Path(a.out) / LOG_NAME}"
          + (f"; failed: {', '.join(bad)}" if bad else ""))
    if a.write:
        print("\n".join(map(str, write_docs(results, Path(a.out)))))



if __name__ == "__main__":
    main()
