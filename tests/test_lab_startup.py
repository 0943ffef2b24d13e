"""gankit lab's start: its first frame does not wait for what only later frames need. W1's solver
(POT, which brings scikit-learn) and SciPy's statistics and integration (Theorem 1's check on
demand) are not imported to build a lab run and its first frame; W1 joins the frames once the
training thread's helper has loaded its solver."""

from __future__ import annotations

import subprocess
import sys
import threading

from gankit.lab.controls import validate_run
from gankit.lab.frames import FrameMaker, load_w1
from gankit.lab.session import LabRun, build_config, loss_names

#: Modules the first frame must not import (seconds of a busy machine's time between them).
DEFERRED = ("ot", "sklearn", "scipy.stats", "scipy.integrate", "scipy.spatial")

FIRST_FRAME = f"""
import sys, threading
from gankit.lab.controls import validate_run
from gankit.lab.frames import FrameMaker
from gankit.lab.session import LabRun, build_config, loss_options
settings = validate_run({{}}, [o["name"] for o in loss_options()])
maker = FrameMaker(LabRun(build_config(settings, 0), settings["data"]), threading.Event())
maker.background()
frame = maker.make(True)
assert frame["metrics"]["w1"] is None and frame["c_of_g"] is not None
print(" ".join(m for m in {DEFERRED!r} if m in sys.modules))
"""


def test_the_first_frame_imports_none_of_the_deferred_modules():
    done = subprocess.run([sys.executable, "-c", FIRST_FRAME], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"imported before the first frame: {done.stdout}"


def test_w1_joins_the_frames_once_its_solver_is_loaded():
    settings = validate_run({"batch_size": 64}, loss_names())
    cfg = build_config(settings, seed=3).with_overrides(
        {"model.g_width": 16, "model.d_width": 16, "data.n_train": 500})
    ready = threading.Event()
    maker = FrameMaker(LabRun(cfg, settings["data"]), ready)
    assert maker.make(False)["metrics"]["w1"] is None
    load_w1()
    ready.set()
    w1 = maker.make(False)["metrics"]["w1"]
    assert isinstance(w1, float) and w1 > 0
    assert FrameMaker(maker.run).make(False)["metrics"]["w1"] == w1  # no event: always W1
