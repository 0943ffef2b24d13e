"""Loss curves and D outputs over training, read from metrics.jsonl."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

import gankit.viz  # noqa: F401  (selects the Agg backend)


def read_log(path: Path) -> list[dict]:
    """The records of metrics.jsonl; a torn last line is skipped (gankit.rundir.read_log)."""
    from gankit.rundir import read_log as read

    return read(path)


def save_loss_curves(path: Path, records: list[dict], title: str = "") -> Path | None:
    if not records:
        return None
    steps = [r["step"] for r in records]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(steps, [r["d_loss"] for r in records], label="D loss")
    ax1.plot(steps, [r["g_loss"] for r in records], label="G loss")
    ax1.set_xlabel("generator step")
    ax1.set_title("losses")
    ax1.legend()
    ax2.plot(steps, [r["d_real"] for r in records], label="mean D(x)")
    ax2.plot(steps, [r["d_fake"] for r in records], label="mean D(G(z))")
    ax2.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("generator step")
    ax2.set_title("discriminator outputs")
    ax2.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
