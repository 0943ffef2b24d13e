"""Is the Fashion-MNIST classifier that measured the older image numbers the shipped one?

Before gankit shipped its metric networks, each machine trained its own domain classifier on
first use and cached it. The image numbers of 2026-11-25/26 in BENCHMARKS.md (sections
`images-tuning`, `images-ema`, `images-best`, `images-best-batch64`) were measured that way on the
2-core benchmark machine. This script trains the classifier again with gankit's code of that time
(`--commit`, taken from git into a temporary folder; one torch thread, seed 0, as the benchmark
cells did) and compares it tensor by tensor with the shipped file. Bitwise equal means those
numbers are exactly what the shipped network gives for the same samples, so they need no
re-measuring. Machine-trained classifiers differ between machines (thread scheduling and CPU
kernels change the float rounding), so this holds on the machine that measured them; elsewhere the
script reports the difference. About 4 minutes of one core.

    python -m benchmarks.classifier_identity             # writes section `classifier-identity`
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import provenance, write_section

ROOT = Path(__file__).resolve().parent.parent
#: the commit that measured the first of those numbers (the images-tuning table's first rows)
OLD_COMMIT = "50fa0d0"

# Runs inside the old code: train (or load from the empty cache: train) the classifier.
TRAIN = """
import sys, torch
torch.set_num_threads(1)
from gankit.data.mnist import load_mnist_like
from gankit.metrics.classifier import domain_classifier
clf = domain_classifier(load_mnist_like("fashion-mnist", 28, None, download=False), log=True)
print("OLD_CLASSIFIER", clf.path, clf.accuracy, flush=True)
"""


def train_with_old_code(commit: str, folder: Path) -> tuple[Path, float]:
    code = folder / "code"
    code.mkdir()
    archive = subprocess.run(["git", "archive", commit, "gankit"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    env = {**os.environ, "PYTHONPATH": str(code), "GANKIT_CACHE_DIR": str(folder / "cache")}
    print(f"training the Fashion-MNIST classifier with gankit at {commit} (one thread, seed 0; "
          "about 4 minutes)", flush=True)
    proc = subprocess.Popen([sys.executable, "-c", TRAIN], env=env, stdout=subprocess.PIPE,
                            text=True, cwd=folder)
    found = None
    for line in proc.stdout:
        if line.startswith("OLD_CLASSIFIER"):
            _, path, acc = line.split()
            found = (Path(path), float(acc))
        else:
            print("  " + line.rstrip(), flush=True)
    if proc.wait() != 0 or found is None:
        raise SystemExit(f"training with the code of {commit} failed (exit {proc.returncode})")
    return found


def compare(old_path: Path, shipped_path: Path) -> dict:
    import torch

    old = torch.load(old_path, map_location="cpu", weights_only=True)["net"]
    new = torch.load(shipped_path, map_location="cpu", weights_only=True)["net"]
    equal = [k for k in new if k in old and torch.equal(old[k], new[k])]
    diff = max((float((old[k].double() - new[k].double()).abs().max()) for k in new if k in old),
               default=float("inf"))
    return {"tensors": len(new), "equal": len(equal), "same_keys": old.keys() == new.keys(),
            "max_abs_diff": diff}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commit", default=OLD_COMMIT, help="gankit's code that trained the old one")
    ap.add_argument("--no-write", action="store_true", help="print the result, leave the files")
    args = ap.parse_args()

    from gankit.metrics.classifier import WEIGHTS_DIR, manifest

    entry = manifest()["fashion-mnist"]
    shipped = WEIGHTS_DIR / entry["file"]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        old_path, accuracy = train_with_old_code(args.commit, Path(tmp))
        seconds = time.perf_counter() - started
        result = compare(old_path, shipped)
    identical = result["same_keys"] and result["equal"] == result["tensors"]
    result.update({"old_accuracy": accuracy, "shipped_accuracy": entry["accuracy"],
                   "identical": identical, "seconds": round(seconds)})
    print(json.dumps(result), flush=True)
    verdict = (
        f"**Bitwise identical**: all {result['tensors']} tensors of the network trained by "
        f"gankit's code at {args.commit} equal those of the shipped {entry['file']} (SHA-256 "
        f"`{entry['sha256'][:16]}`), and both score {100 * accuracy:.2f} % on the test images. "
        "The image numbers measured with the machine-trained classifier on this machine are "
        "therefore the shipped network's numbers for those samples."
        if identical else
        f"**Not identical**: {result['equal']} of {result['tensors']} tensors equal (largest "
        f"difference {result['max_abs_diff']:.3g}; test accuracy {100 * accuracy:.2f} % against "
        f"the shipped {100 * entry['accuracy']:.2f} %). Numbers measured with a machine-trained "
        "classifier on this machine are not the shipped network's.")
    body = ("## Was the old machine-trained Fashion-MNIST classifier the shipped one?\n\n"
            + provenance()
            + "\nBefore the metric networks were shipped, each machine trained its Fashion-MNIST "
            "classifier on first use. This run trained it again with gankit's code of that time "
            f"({args.commit}: one torch thread, seed 0, an empty cache, as the benchmark cells "
            f"did; {seconds / 60:.1f} min) and compared it with the shipped file tensor by "
            f"tensor.\n\n{verdict}\n")
    if not args.no_write:
        write_section("classifier-identity", body)
    print(body)
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
