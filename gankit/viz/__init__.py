"""Pictures: sample scatters with D(x), loss curves, animations. Matplotlib, no screen needed."""

import matplotlib

matplotlib.use("Agg")
