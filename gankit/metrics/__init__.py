"""Named metrics; importing this package registers the built-in ones."""

from gankit.metrics import classifier as _classifier  # noqa: F401  (fd_classifier, ...)
from gankit.metrics import conditional as _conditional  # noqa: F401  (class_accuracy, intra_fd)
from gankit.metrics import inception as _inception  # noqa: F401  (fid_inception)
from gankit.metrics import memorisation as _memorisation  # noqa: F401  (nn_ratio, near_copies)
from gankit.metrics import modes as _modes  # noqa: F401  (registers modes, hq_fraction, ...)
from gankit.metrics import prdc as _prdc  # noqa: F401  (precision, recall, density, coverage)
from gankit.metrics import stacked as _stacked  # noqa: F401  (stacked_modes, stacked_kl)
from gankit.metrics import wasserstein as _wasserstein  # noqa: F401  (registers w1)
from gankit.metrics.registry import HIGHER_IS_BETTER, METRICS, compute, register

__all__ = ["HIGHER_IS_BETTER", "METRICS", "compute", "register"]
