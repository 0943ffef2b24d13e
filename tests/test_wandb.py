"""train.wandb = true: the training log reaches Weights & Biases beside metrics.jsonl, in wandb's
offline mode (files in tmp, nothing leaves the machine); a resumed run continues its W&B run;
--force clears its files; a missing package or a W&B that does not start is one line."""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path

import pytest

import gankit
from gankit.errors import GankitError

TOY = {"train.steps": 40, "train.log_every": 10, "train.ckpt_every": 20,
       "train.frame_every": 20, "model.g_width": 16, "model.d_width": 16, "data.n_train": 300,
       "train.batch_size": 32, "eval.metrics": [], "train.wandb": True}


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """wandb offline, its settings, cache and logs under tmp_path; no key, no network."""
    pytest.importorskip("wandb", reason="wandb (gankit[wandb], in .[dev]) is not installed: "
                        "pip install -c constraints.txt -e '.[dev]'")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_DIR", raising=False)
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home" / name.lower()))
    return tmp_path


def records(path: Path):
    """The protobuf records of a W&B run file (.wandb): W&B's log format, a 7-byte header
    (':W&B', magic, version), then 32 KiB blocks of chunks (crc32, length, type), a record in
    one chunk (type 1) or several (2 first, 3 middle, 4 last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, block, pending = path.read_bytes(), 7, 32768, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if kind == 0:  # the padding at the end of a block
            pos += left
            continue
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def finished_records(path: Path, wait: float = 60.0) -> list:
    """The records of a W&B run file once its writer has closed it (W&B's service writes it
    after `finish()` returns, in the background)."""
    deadline = time.monotonic() + wait
    while True:
        found = list(records(path))
        if any(r.WhichOneof("record_type") == "exit" for r in found):
            return found
        assert time.monotonic() < deadline, f"{path} was not closed within {wait} s"
        time.sleep(0.2)


def logged(folder: Path) -> tuple[set[str], dict[int, dict[str, float]]]:
    """The W&B run ids and the history lines (by step) of every offline run under `folder`."""
    ids, history = set(), {}
    for path in sorted(folder.glob("wandb/offline-run-*/run-*.wandb")):
        for record in finished_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                ids.add(record.run.run_id)
                assert record.run.project == "gankit"
            elif kind == "history":
                line = {"/".join(i.nested_key) or i.key: json.loads(i.value_json)
                        for i in record.history.item}
                history[int(line["_step"])] = line
    return ids, history


def test_the_training_log_reaches_wandb_offline_and_resume_continues_it(offline):
    out = offline / "run"
    gankit.fit(config="toy-ring", overrides=TOY, out=out, progress=False)
    ids, history = logged(out)
    assert len(ids) == 1 and (out / "wandb" / "gankit-run-id").read_text().strip() in ids
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert sorted(history) == [r["step"] for r in log] == [10, 20, 30, 40]
    for r in log:  # every value of every line, as metrics.jsonl has it
        assert {k: history[r["step"]][k] for k in r if k != "step"} == pytest.approx(
            {k: v for k, v in r.items() if k != "step"})
    gankit.fit(config="toy-ring", overrides={**TOY, "train.steps": 60}, out=out, resume=True,
               progress=False)
    ids_after, history = logged(out)
    assert ids_after == ids and sorted(history) == [10, 20, 30, 40, 50, 60]  # the same W&B run
    gankit.fit(config="toy-ring", overrides=TOY, out=out, force=True, progress=False)
    assert logged(out)[0] != ids  # --force cleared wandb/ with the rest: a new W&B run


def test_wandb_dir_is_respected(offline, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(offline / "elsewhere"))
    gankit.fit(config="toy-ring", overrides={**TOY, "train.steps": 10}, out=offline / "run",
               progress=False)
    ids, history = logged(offline / "elsewhere")
    assert len(ids) == 1 and sorted(history) == [10]
    assert not list((offline / "run" / "wandb").glob("offline-run-*"))


def test_missing_wandb_is_one_line_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` now raises ImportError
    with pytest.raises(GankitError, match=r"train.wandb = true needs the package "
                                          r"'gankit\[wandb\]'.*pip install 'gankit\[wandb\]'"):
        gankit.fit(config="toy-ring", overrides=TOY, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_wandb_that_does_not_start_is_one_line(offline, monkeypatch):
    import wandb

    def refuse(**kwargs):
        raise wandb.errors.UsageError("api_key not configured (no-tty)")

    monkeypatch.setattr(wandb, "init", refuse)
    with pytest.raises(GankitError, match="Weights & Biases did not start .*api_key not "
                                          "configured.*WANDB_MODE=offline"):
        gankit.fit(config="toy-ring", overrides=TOY, out=offline / "run", progress=False)
    assert not (offline / "run" / "checkpoint.pt").exists()  # stopped before the first step
