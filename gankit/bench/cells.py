"""When a stored benchmark cell stands for the one asked for: the one rule of `gankit bench` and
of every script in benchmarks/.

A cell is stored with the config it trained (TOML) and the settings of its measurement that are
not in the config (`setup`: a curve's evaluation interval, a wall-clock budget, the network that
measured it). Against the cell wanted it is one of

    reuse     the same experiment: its numbers stand
    continue  the same, shorter: train on from its checkpoint to the steps wanted
    longer    the same, longer: a curve is read up to the steps wanted; a record of the end only
              cannot give them
    retrain   another experiment: train from step 0

"The same" leaves out the description (prose, reworded without changing a run) and reads a field
the stored config lacks (one added to gankit since) as its default, so that a new option left at
its default keeps every finished cell. The length of a run (its steps, and the checkpoint and
frame intervals, which decide only when files are written) is what `continue` may change.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gankit.config import Config

Action = Literal["reuse", "continue", "longer", "retrain"]
LENGTH = ("train.steps", "train.ckpt_every", "train.frame_every")


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str  # a few words for the progress line: why this action


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _fields(text: str) -> dict[str, Any] | None:
    """Every config field of a stored TOML config, those it lacks at their defaults (None for
    unreadable text); keys of fields gankit no longer has are dropped."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    raw.pop("description", None)
    defaults = _flat(Config().to_dict())
    defaults.pop("description", None)
    stored = _flat(raw)
    return {key: stored.get(key, default) for key, default in defaults.items()}


def differences(stored: str, wanted: str) -> dict[str, tuple[Any, Any]] | None:
    """The fields in which two configs (TOML) differ, key -> (stored, wanted): "the same" as this
    rule reads it (no description, a missing field at its default); None if one is unreadable.
    `gankit.fit(resume=True)` checks its overrides with it too."""
    old, new = _fields(stored), _fields(wanted)
    if old is None or new is None:
        return None
    return {key: (old[key], new[key]) for key in new if old[key] != new[key]}


def _shown(keys: list[str], values: Mapping[str, tuple[Any, Any]]) -> str:
    words = [f"{k} {values[k][0]!r} stored, {values[k][1]!r} wanted" for k in keys[:3]]
    return "; ".join(words) + (f" (and {len(keys) - 3} more)" if len(keys) > 3 else "")


def decide(stored: str | None, wanted: str, stored_setup: Mapping[str, Any] | None = None,
           wanted_setup: Mapping[str, Any] | None = None) -> Verdict:
    """What to do with a stored cell (its TOML config, None if there is none) for the cell of
    config `wanted`; the setups (settings outside the config) must be equal to keep it."""
    if stored is None:
        return Verdict("retrain", "no stored cell")
    differ = differences(stored, wanted)
    if differ is None:
        return Verdict("retrain", "the stored config cannot be read")
    old_setup, new_setup = dict(stored_setup or {}), dict(wanted_setup or {})
    setup_differs = {k: (old_setup.get(k), new_setup.get(k)) for k in old_setup.keys()
                     | new_setup.keys() if old_setup.get(k) != new_setup.get(k)}
    if setup_differs:
        return Verdict("retrain", "measured otherwise: "
                       + _shown(sorted(setup_differs), setup_differs))
    other = [k for k in differ if k not in LENGTH]
    if other:
        return Verdict("retrain", "another config: " + _shown(other, differ))
    have, want = differ.get("train.steps", (0, 0))
    if have < want:
        return Verdict("continue", f"the same run, {have:,} of {want:,} steps done")
    if have > want:
        return Verdict("longer", f"the same run, {have:,} steps stored, {want:,} wanted")
    return Verdict("reuse", "the same config" if not differ
                   else "the same run (only its checkpoint or frame interval differs)")


# -- finished cells kept in git ---------------------------------------------------------------
# A benchmark longer than one sitting keeps each finished cell's record (config, setup, row, and
# the machine and date it ran on) in a folder under git, benchmarks/results/<section>-cells/,
# since run folders do not outlive the machine; a later sitting re-uses what `decide` allows.
def kept_record(folder: Path | None, name: str) -> dict[str, Any] | None:
    """The record kept for cell `name`, None when there is none (or it cannot be read: the cell
    is then trained again rather than trusted)."""
    path = folder / f"{name}.json" if folder is not None else None
    if path is None or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and "config" in record else None


def keep_record(folder: Path | None, name: str, record: Mapping[str, Any]) -> None:
    """Keep a finished cell's record (written whole or not at all)."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.json.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(folder / f"{name}.json")
