"""Pictures: sample scatters with D(x), loss curves, animations. Matplotlib, no screen needed."""

import os
import sys
from pathlib import Path

import matplotlib

# Agg: files, no screen. In a Jupyter kernel keep its inline backend (Agg underneath), or
# the notebook's own figures would stop showing once gankit has drawn (saved, closed) one.
_INLINE = "matplotlib_inline"
if _INLINE not in sys.modules and _INLINE not in os.environ.get("MPLBACKEND", ""):
    matplotlib.use("Agg")

MAX_FRAMES = 120  # an animation longer than this shows evenly spaced frames


def frame_files(frames_dir: Path) -> list[Path]:
    """The saved frames/step_*.npz of a run in step order, thinned to at most MAX_FRAMES."""
    import zipfile

    # a frame cut short (a kill or a full disk, by versions that did not write them atomically)
    # is left out rather than ending the run's pictures in a traceback
    files = sorted(f for f in Path(frames_dir).glob("step_*.npz") if zipfile.is_zipfile(f))
    if len(files) > MAX_FRAMES:
        import numpy as np

        keep = np.linspace(0, len(files) - 1, MAX_FRAMES).round().astype(int)
        files = [files[i] for i in keep]
    return files
