"""Run folders: what gankit recognises as its own, what `--force` may delete, the writer lock,
and the training log read so that a torn last line never makes a run unusable.

A run folder is one gankit made: it holds the marker file `.gankit-run` (written when `gankit
train` creates it), or, for runs of older versions, a config.toml beside a checkpoint.pt or a
metrics.jsonl. `--force` replaces only such a folder, and only when every entry in it is a file
gankit writes (KNOWN_FILES, frames/ of step_*.npz, temporary files of interrupted writes): a file
of the user's inside it, a symbolic link, a file or device, the working directory or one of its
parents is never deleted. See docs/reliability.md.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import json
import os
import shutil
import socket
import time
from pathlib import Path

from gankit.errors import GankitError

MARKER = ".gankit-run"
LOCK = ".gankit-lock"
LOG = "metrics.jsonl"
#: Every name gankit writes at the top of a run folder ...
KNOWN_FILES = frozenset({
    MARKER, LOCK, "config.toml", "checkpoint.pt", LOG, "metrics.json", "pretrain.json",
    "samples.png", "losses.png", "grid.png", "real.png", "training.gif"})
#: ... and the name patterns of the figures of a recipe (e.g. the Keras MNIST GAN's grid and loss)
KNOWN_PATTERNS = ("*_grid.png", "*_loss.png")
FRAMES = "frames"
#: TensorBoard event files (train.tensorboard), named events.out.tfevents.*
TENSORBOARD = "tensorboard"
#: Weights & Biases' files (train.wandb), gankit's when they hold the W&B run id gankit wrote
WANDB, WANDB_ID_FILE = "wandb", "gankit-run-id"


class RunInUseError(GankitError):
    """Another process holds the writer lock of the run folder."""


def _is_temporary(name: str) -> bool:
    """Temporary files of gankit's atomic writes (checkpoint, log trimming, frames)."""
    return name.startswith(".") and name.endswith(".tmp")


def unknown_entries(folder: Path) -> list[str]:
    """Names inside `folder` that gankit did not write (empty for a pure run folder)."""
    strange = []
    for entry in sorted(Path(folder).iterdir()):
        name = entry.name
        if entry.is_symlink():
            strange.append(name)
        elif name == FRAMES and entry.is_dir():
            strange += [f"{FRAMES}/{f.name}" for f in sorted(entry.iterdir())
                        if f.is_symlink() or not f.is_file()
                        or not ((f.name.startswith("step_") and f.suffix == ".npz")
                                or _is_temporary(f.name))]
        elif name == TENSORBOARD and entry.is_dir():
            strange += [f"{TENSORBOARD}/{f.name}" for f in sorted(entry.iterdir())
                        if f.is_symlink() or not f.is_file()
                        or not f.name.startswith("events.out.tfevents.")]
        elif name == WANDB and entry.is_dir() and (entry / WANDB_ID_FILE).is_file():
            pass  # W&B's own files (its links too: rmtree removes a link, never its target)
        elif not entry.is_file() or not (name in KNOWN_FILES or _is_temporary(name) or any(
                fnmatch.fnmatchcase(name, pattern) for pattern in KNOWN_PATTERNS)):
            strange.append(name)
    return strange


def is_run_dir(folder: Path) -> bool:
    """A folder gankit made: the marker, or (older runs) config.toml with a checkpoint or log."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    if (folder / MARKER).is_file():
        return True
    return (folder / "config.toml").is_file() and (
        (folder / "checkpoint.pt").is_file() or (folder / LOG).is_file())


def _never_delete(folder: Path) -> str | None:
    """Why `folder` may never be replaced, or None."""
    resolved = folder.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        return "it is the working directory or one of its parents"
    if resolved == Path.home().resolve() or resolved.parent == resolved:
        return "it is the home or root folder"
    return None


#: How the options of a new run are spelled in messages: on the command line, and in gankit.fit.
CLI_WORDS = {"out": "--out {out}", "other": "another --out", "force": "--force",
             "resume": "`gankit resume {out}`"}
PYTHON_WORDS = {"out": "out='{out}'", "other": "another out=", "force": "force=True",
                "resume": "resume=True"}


def check_target(out: Path, force: bool, words: dict[str, str] = CLI_WORDS) -> str:
    """Decide, touching nothing, what `gankit train --out OUT [--force]` may do with OUT.

    Returns "new" (absent or an empty folder), "reuse" (a run folder of an attempt that stopped
    before its first checkpoint) or "replace" (--force on a run folder gankit recognises).
    Anything else raises a one-line GankitError, in `words` (CLI_WORDS, PYTHON_WORDS)."""
    out = Path(out)
    said = {k: v.format(out=out) for k, v in words.items()}
    if out.is_symlink():
        raise GankitError(f"{said['out']} is a symbolic link; gankit writes runs only into real "
                          "folders and never replaces a link's target: name the folder itself")
    if not out.exists():
        return "new"
    if not out.is_dir():
        raise GankitError(f"{said['out']} exists and is not a folder; gankit never replaces a "
                          f"file or device: choose {said['other']}")
    try:
        empty = all(p.name == LOCK for p in out.iterdir())  # a lock alone: nothing was written
        strange = unknown_entries(out)
    except OSError as e:
        raise GankitError(f"cannot read {said['out']}: {e.strerror or e}") from None
    if empty:
        return "new"
    if (out / MARKER).is_file() and not strange and not (out / "checkpoint.pt").exists():
        return "reuse"  # an attempt that failed before its first checkpoint: nothing to lose
    recognised = is_run_dir(out)
    if not recognised and not force:  # gankit never wrote it: neither replacing nor resuming
        raise GankitError(f"{said['out']} exists and gankit did not write it (no {MARKER} "
                          "marker, nor a config.toml beside a checkpoint.pt or metrics.jsonl): "
                          f"gankit writes a run only into a new or empty folder; choose "
                          f"{said['other']}")
    why = _never_delete(out)
    if why is None and not recognised:
        why = ("it is not a run folder gankit wrote (no .gankit-run marker, nor a config.toml "
               "beside a checkpoint.pt or metrics.jsonl)")
    if why is None and strange:
        shown = ", ".join(strange[:3]) + (f" and {len(strange) - 3} more" if len(strange) > 3
                                          else "")
        why = f"it holds files gankit did not write ({shown})"
    if not force:
        replace = f"pass {said['force']} to replace it (gankit replaces only run folders it " \
            "wrote), or " if why is None else ""
        raise GankitError(f"run directory {out} already exists; {replace}{said['resume']} to "
                          "continue it")
    if why is not None:
        raise GankitError(f"{said['force']} refuses to replace {out}: {why}; nothing was "
                          f"deleted. Choose {said['other']}")
    return "replace"


def clear_run_dir(folder: Path) -> None:
    """Delete the entries gankit wrote (check_target allowed it), keeping the folder and its lock
    so that no other writer can slip in between."""
    for entry in Path(folder).iterdir():
        if entry.name == LOCK:
            continue
        if entry.name in (FRAMES, TENSORBOARD, WANDB) and entry.is_dir() \
                and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def write_marker(folder: Path, command: str) -> None:
    (Path(folder) / MARKER).write_text(json.dumps(
        {"made_by": "gankit", "command": command, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        + "\n")


# -- the writer lock ----------------------------------------------------------------------------
_HELD: dict[str, int] = {}  # resolved lock file -> fd: a process holds each lock once


def lock_run(folder: Path, command: str, name: str = LOCK) -> bool:
    """Take the exclusive writer lock of a run folder (flock on .gankit-lock, or on `name` in
    it) until unlock_run or the end of this process, or raise RunInUseError naming the holder.
    Re-entrant within one process: True when this call took it, False when the process already
    held it."""
    folder = Path(folder)
    key = str((folder / name).resolve())
    if key in _HELD:
        return False
    try:
        fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise GankitError(f"cannot write into run folder {folder} ({e.strerror or e}); a "
                          "read-only run can be evaluated and sampled, not trained") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        os.close(fd)
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise GankitError(f"cannot lock run folder {folder}: {e.strerror or e}") from None
        try:
            info = json.loads(holder)
            who = f"pid {info['pid']} on {info['host']} ({info['command']})"
        except (ValueError, KeyError, TypeError):
            who = "another process"
        raise RunInUseError(f"run folder {folder} is in use by {who}; wait for it to finish or "
                            "stop it, then try again") from None
    record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                         "since": time.strftime("%Y-%m-%dT%H:%M:%S")})
    os.ftruncate(fd, 0)
    os.pwrite(fd, (record + "\n").encode(), 0)
    _HELD[key] = fd
    return True


def unlock_run(folder: Path, name: str = LOCK) -> None:
    fd = _HELD.pop(str((Path(folder) / name).resolve()), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock


# -- the training log ---------------------------------------------------------------------------
def read_log(path: Path) -> list[dict]:
    """The records of metrics.jsonl; a torn line (a write cut short by a full disk or a kill) is
    skipped. A log that cannot be read at all is a one-line GankitError."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError as e:
        raise GankitError(f"cannot read the training log {path}: {e.strerror or e}") from None
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def trim_log(path: Path, step: int) -> None:
    """Keep the log lines up to `step` (a resumed run writes the later ones again) and drop torn
    ones; atomically, so a kill meanwhile keeps the old log."""
    path = Path(path)
    if not path.exists():
        return
    kept = [r for r in read_log(path) if r["step"] <= step]
    text = "".join(json.dumps(r) + "\n" for r in kept)
    try:
        if path.read_bytes().decode("utf-8", "replace") == text:
            return
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        raise GankitError(f"cannot rewrite the training log {path}: {e.strerror or e}") from None
