"""Checkpoints: written atomically, loaded without unpickling arbitrary objects.

A checkpoint is a plain dict of tensors, numbers and strings saved with `torch.save` and read
with `torch.load(weights_only=True)`, which refuses anything but those types. It is written to a
temporary file in the same directory, fsynced, then renamed over the old one, so a crash at any
moment leaves either the previous complete checkpoint or the new complete one, never a torn file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from gankit.errors import CheckpointError

FORMAT = "gankit-checkpoint"
VERSION = 1
FILENAME = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # a full disk, a folder gone read-only: name the checkpoint
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) or ("write" in str(e).lower() and isinstance(e, RuntimeError)):
            errno_ = getattr(e, "errno", None) or 28  # torch's writer reports ENOSPC as text
            raise OSError(errno_, getattr(e, "strerror", None) or str(e).splitlines()[0][:120],
                          str(path)) from None
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for truncated / foreign files
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"checkpoint {path} is corrupt, truncated or not a gankit checkpoint ({reason[:160]})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gankit checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {state.get('version')}, "
            f"this gankit reads version {VERSION}"
        )
    return state


def load_module_state(module: torch.nn.Module, state: dict, what: str, path: Path) -> None:
    """load_state_dict with a readable message when the checkpoint is of another model."""
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(
            f"checkpoint {path} holds a {what} of a different architecture than its config "
            f"describes ({first[:160]})"
        ) from None


#: Entries every gankit checkpoint holds, and their types.
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "config": str, "step": int, "d_batches": int, "G": dict, "D": dict, "opt_g": dict,
    "opt_d": dict, "rng": dict, "acc": torch.Tensor, "acc_steps": int}


def check_state(state: dict[str, Any], path: Path) -> None:
    """A one-line CheckpointError for a checkpoint missing an entry or holding one of the wrong
    type (hand-made or from another program), before any of it is used."""
    for key, kind in REQUIRED.items():
        if key not in state:
            raise CheckpointError(f"checkpoint {path} has no '{key}' entry; it was not written "
                                  "by gankit train")
        value = state[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(f"checkpoint {path}: '{key}' is a {type(value).__name__}, "
                                  f"expected {getattr(kind, '__name__', kind)}")
    if state["step"] < 0 or state["d_batches"] < 0 or state["acc_steps"] < 0:
        raise CheckpointError(f"checkpoint {path} has a negative step count")
    for key in ("torch", "z"):
        if not isinstance(state["rng"].get(key), torch.Tensor):
            raise CheckpointError(f"checkpoint {path} lacks the random state '{key}'")
    for key in ("G", "D", "G_ema"):
        if key in state and not all(isinstance(v, torch.Tensor) for v in state[key].values()):
            raise CheckpointError(f"checkpoint {path}: '{key}' holds values that are not tensors")
    augment = state.get("augment", {})  # train.augment: its random stream and ADA's p
    kinds = {"rng": torch.Tensor, "p": torch.Tensor, "sign_sum": torch.Tensor, "steps": int,
             "seen": int}
    if "augment" in state and not (isinstance(augment, dict) and all(
            isinstance(augment.get(k), kind) for k, kind in kinds.items())):
        raise CheckpointError(f"checkpoint {path}: its 'augment' entry is not the augmentation "
                              "state gankit writes")
