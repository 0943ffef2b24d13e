#!/usr/bin/env bash
# Prepare .gpu/ for the GPU check on a machine that reaches nothing (no registry, no internet):
#   .gpu/whl/       tomli-w, the one dependency of gankit the GPU image lacks (pure Python)
#   .gpu/data/      Fashion-MNIST (Debian's dataset-fashion-mnist) and MNIST, if this machine has it
#   .gpu/cache/     the trained domain classifiers of both (else the check trains them, on CPU)
#   .gpu/COMMIT     the commit the check runs (the copied tree may carry no git metadata)
# The folder is ignored (.gitignore and .git/info/exclude); docs/speed.md gives the device call.
#
#   benchmarks/gpu_bundle.sh
#   GPU_BUNDLE_CLASSIFIERS=0 benchmarks/gpu_bundle.sh   # skip training missing classifiers
set -euo pipefail
cd "$(dirname "$0")/.."
B=.gpu
PY=${PYTHON:-python3}  # a Python that imports gankit: this checkout's .venv when there is one
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && PY=.venv/bin/python
mkdir -p "$B/whl" "$B/data" "$B/cache"

exclude="$(git rev-parse --git-common-dir 2>/dev/null || echo .git)/info/exclude"
if [ -d "$(dirname "$(dirname "$exclude")")" ]; then
  mkdir -p "$(dirname "$exclude")"
  grep -qxF '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >>"$exclude"
fi

# 1. wheels -----------------------------------------------------------------------------------
# the packages the device machine's Python lacks, at the versions constraints.txt pins
pins=()
for pkg in tomli-w pot; do
  version=$(sed -n "s/^${pkg}==\([^ ]*\).*/\1/p" constraints.txt)
  pins+=("${pkg}==${version:?no $pkg pin in constraints.txt}")
done
rm -f "$B"/whl/*.whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  -d "$B/whl" "${pins[@]}"
echo "wheels: $(ls "$B/whl")"

# 2. Fashion-MNIST: the installed Debian package, else its .deb unpacked (not installed) ------
fm="$B/data/fashion-mnist"
src=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! ls "$src"/train-images-idx3-ubyte.gz >/dev/null 2>&1; then
  (cd "$tmp" && apt-get download dataset-fashion-mnist >/dev/null)
  dpkg -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/root"
  src="$tmp/root/usr/share/datasets/fashion-mnist"
fi
mkdir -p "$fm"
cp "$src"/*-ubyte.gz "$fm/"
echo "Fashion-MNIST: $(ls "$fm" | wc -l) files from $src"

# 3. MNIST, wherever gankit finds it on this machine (never downloaded here) -------------------
GANKIT_MNIST_MIRRORS="http://127.0.0.1:9/" "$PY" - "$B/data/mnist" <<'EOF' || true
import shutil, sys
from pathlib import Path

from gankit.data.mnist import locate

target = Path(sys.argv[1])
try:
    files = locate("mnist", download=False)
except Exception as e:  # noqa: BLE001 - any reason: the MNIST parts are skipped there
    print(f"MNIST: not on this machine, the MNIST parts will be skipped ({str(e)[:160]})")
    raise SystemExit(0)
target.mkdir(parents=True, exist_ok=True)
for path in files.values():
    shutil.copy(path, target / Path(path).name)
print(f"MNIST: {len(files)} files from {Path(next(iter(files.values()))).parent}")
EOF

# 4. the domain classifiers, keyed by the data's checksum: copied from this machine's cache, or
#    trained once here (minutes on a small CPU) unless GPU_BUNDLE_CLASSIFIERS=0 ----------------
GANKIT_DATA_DIR="$B/data" GANKIT_MNIST_MIRRORS="http://127.0.0.1:9/" \
  TRAIN="${GPU_BUNDLE_CLASSIFIERS:-1}" "$PY" - "$B/cache" <<'EOF'
import os, shutil, sys
from pathlib import Path

from gankit.config import load_preset, preset_names
from gankit.data.images import CACHE_ENV, cache_dir
from gankit.metrics.classifier import classifier_path, shipped_classifier
from gankit.tasks import build_task

bundle = Path(sys.argv[1])
mnist = [n for n in preset_names() if load_preset(n).data.name == "mnist"][:1]
for preset in ["fashion-dcgan", *mnist]:  # one classifier per data set
    try:
        task = build_task(load_preset(preset).with_overrides({"data.download": False}))
        data = task.data
    except Exception as e:  # noqa: BLE001 - no data: nothing to classify
        print(f"{preset}: no classifier ({str(e)[:120]})")
        continue
    if shipped_classifier(data) is not None:  # MNIST and Fashion-MNIST: inside the package
        print(f"{preset}: its domain classifier ships with gankit")
        continue
    mine = classifier_path(data)  # this machine's cache
    os.environ[CACHE_ENV] = str(bundle)
    there = classifier_path(data)
    os.environ.pop(CACHE_ENV)
    if there.is_file():
        print(f"{preset}: classifier already in the bundle")
    elif mine.is_file():
        there.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mine, there)
        print(f"{preset}: classifier copied from {cache_dir()}")
    elif os.environ["TRAIN"] != "0":
        print(f"{preset}: training its domain classifier once (minutes on a small CPU)")
        os.environ[CACHE_ENV] = str(bundle)
        task.classifier()
        os.environ.pop(CACHE_ENV)
    else:
        print(f"{preset}: no classifier bundled; the GPU check trains it (on the CPU)")
EOF

# 5. the commit -------------------------------------------------------------------------------
{ git rev-parse --short HEAD 2>/dev/null || echo unknown; } | tr -d '\n' >"$B/COMMIT"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  echo -n " (with uncommitted changes)" >>"$B/COMMIT"
fi
echo
echo "$(du -sh "$B" | cut -f1) in $B/ (commit $(cat "$B/COMMIT")); the working tree and the"
echo "carried folder must stay under 64 MiB together. Device call: docs/speed.md, 'The GPU check'."
