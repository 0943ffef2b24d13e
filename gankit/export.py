"""`gankit export`: a run's sampling generator as a file other programs run, without gankit.

- ONNX (`--format onnx`, needs `gankit[export]`): onnxruntime, and anything else that reads ONNX,
  runs it. Exported by PyTorch's TorchScript-based exporter (`dynamo=False`), which needs only the
  `onnx` package; the newer exporter would pull in `onnxscript` for a graph of a few convolutions.
- TorchScript (`--format torchscript`): `torch.jit.load` runs it in any PyTorch, or in C++ with
  libtorch, without this code.

The generator is the one samples come from (its weight average when train.ema > 0, BatchNorm
statistics re-estimated), in inference mode, on the CPU, for any batch size. It maps latents
`z` (float32, batch × prior.dim; plus int64 class labels `y` for a class-conditional run) to G's
raw outputs. The file's metadata (ONNX metadata_props; TorchScript's extra file gankit.json)
says how to draw z and how to read the outputs (`describe`), so the file is all a user needs.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.errors import GankitError

#: Formats and the file names each accepts.
SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pth", ".ts")}
OPSET = 17
EXTRA_FILE = "gankit.json"
#: Latents that check the exported file against PyTorch before it is reported written.
CHECK_SAMPLES = 16


def check_request(fmt: str, out: Path) -> None:
    """Refuse an unknown format or a file name that does not fit it, before a run is opened."""
    if fmt not in SUFFIXES:
        raise GankitError(f"--format must be onnx or torchscript, got {fmt!r}")
    if out.suffix not in SUFFIXES[fmt]:
        raise GankitError(f"--out {out.name} does not fit --format {fmt}: name it "
                          f"{' or '.join('*' + s for s in SUFFIXES[fmt])}")
    if out.is_dir():
        raise GankitError(f"--out {out} is a folder; name a file, e.g. {out / ('G' + out.suffix)}")


def describe(trainer: Any) -> dict[str, str]:
    """The metadata written into an exported file: the prior to draw z from, G's inputs and
    outputs, and how the outputs map to pixels (image runs) or data (other runs)."""
    cfg, shape = trainer.cfg, tuple(trainer.task.sample_shape)
    p = cfg.prior
    image = len(shape) == 3
    meta = {
        "gankit.prior": p.name,
        "gankit.prior_dim": str(p.dim),
        "gankit.prior_range": ("standard normal N(0, I): z = randn(batch, dim)" if p.name ==
                               "normal" else "uniform on [-1, 1]: z = 2 * rand(batch, dim) - 1"),
        "gankit.input": f"z: float32 (batch, {p.dim})",
        "gankit.output_shape": ",".join(str(s) for s in shape),
        "gankit.weights": (f"weight average (train.ema = {cfg.train.ema})"
                           if trainer.G_ema is not None else "the generator's own"),
        "gankit.step": str(trainer.step),
        "gankit.data": cfg.data.name,
        "gankit.description": cfg.description or "",
    }
    if image:
        meta["gankit.pixel_range"] = cfg.data.pixel_range
        meta["gankit.to_pixels"] = (
            "uint8 = round(clip((x + 1) / 2, 0, 1) * 255), channels first"
            if cfg.data.pixel_range == "signed" else
            "uint8 = round(clip(x, 0, 1) * 255), channels first")
    else:
        meta["gankit.to_pixels"] = "none: x is in the data's own coordinates"
    cond = getattr(trainer, "cond", None)
    if cond is not None:
        meta["gankit.input"] += f"; y: int64 (batch,), class labels 0..{cond.n_classes - 1}"
        meta["gankit.conditional"] = cfg.model.conditional
        meta["gankit.classes"] = str(cond.n_classes)
        names = getattr(getattr(trainer.task, "data", None), "class_names", None)
        if names:
            meta["gankit.class_names"] = ",".join(str(n) for n in names)
    return meta


def example_inputs(trainer: Any, n: int, seed: int = 0) -> tuple[Tensor, ...]:
    """n latents of the run's prior on the CPU (with labels, the classes in turn, when
    conditional): the inputs an export is traced and checked with."""
    from gankit.priors import sample_prior

    p = trainer.cfg.prior
    z = sample_prior(p.name, n, p.dim, torch.Generator().manual_seed(seed))
    cond = getattr(trainer, "cond", None)
    return (z,) if cond is None else (z, torch.arange(n) % cond.n_classes)


def generator_for_export(trainer: Any) -> nn.Module:
    """A CPU copy of the sampling generator in inference mode (EMA statistics re-estimated)."""
    inputs = example_inputs(trainer, 2)
    trainer.generate(*(t.to(trainer.device) for t in inputs))  # re-estimates EMA BatchNorm
    G = copy.deepcopy(trainer.sampling_generator).float().cpu().eval()
    for param in G.parameters():
        param.requires_grad_(False)
    return G


def write_onnx(G: nn.Module, inputs: tuple[Tensor, ...], out: Path,
               metadata: dict[str, str]) -> Path:
    """G as an ONNX file (opset 17, any batch size) with `metadata` in its metadata_props."""
    from gankit._optional import require

    onnx = require("onnx", "gankit[export]", "gankit export --format onnx")
    names = ["z", "y"][:len(inputs)]
    axes = {name: {0: "batch"} for name in [*names, "x"]}
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with warnings.catch_warnings():  # the exporter's notice that a newer one exists
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                torch.onnx.export(G, inputs, str(tmp), input_names=names, output_names=["x"],
                                  dynamic_axes=axes, opset_version=OPSET, dynamo=False)
            except (RuntimeError, TypeError, ValueError) as e:  # an operation ONNX lacks
                raise GankitError(f"this generator cannot be exported to ONNX ({type(e).__name__}"
                                  f": {str(e)[:200]}); --format torchscript may work") from None
        model = onnx.load(str(tmp))
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        model.doc_string = "gankit generator: " + metadata["gankit.input"]
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def write_torchscript(G: nn.Module, inputs: tuple[Tensor, ...], out: Path,
                      metadata: dict[str, str]) -> Path:
    """G traced to TorchScript, `metadata` as the extra file gankit.json."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with warnings.catch_warnings():  # torch.jit's notice that torch.export is its successor
            warnings.simplefilter("ignore", DeprecationWarning)
            traced = torch.jit.trace(G, inputs)
            torch.jit.save(traced, str(tmp), _extra_files={EXTRA_FILE: json.dumps(metadata)})
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def read_metadata(path: Path) -> dict[str, str]:
    """The gankit metadata of an exported file (.onnx, or TorchScript)."""
    path = Path(path)
    if path.suffix == ".onnx":
        from gankit._optional import require

        onnx = require("onnx", "gankit[export]", "reading an ONNX file's metadata")
        model = onnx.load(str(path), load_external_data=False)
        return {p.key: p.value for p in model.metadata_props if p.key.startswith("gankit.")}
    extra = {EXTRA_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return json.loads(extra[EXTRA_FILE])


def run_exported(path: Path, inputs: tuple[Tensor, ...]) -> Tensor:
    """The exported file's outputs on `inputs`: onnxruntime for .onnx, torch.jit otherwise."""
    path = Path(path)
    if path.suffix == ".onnx":
        from gankit._optional import require

        ort = require("onnxruntime", "gankit[export]", "running an ONNX file")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = dict(zip(["z", "y"], (t.numpy() for t in inputs)))
        return torch.from_numpy(session.run(["x"], feed)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(*inputs)


def export_run(run_dir: Path, fmt: str, out: Path, trust_code: bool = False,
               unfinished: bool = False) -> tuple[Path, float | None]:
    """Export a run's sampling generator; returns the file and the largest difference between
    its outputs and PyTorch's on a few latents (None when onnxruntime is not installed)."""
    import importlib.util

    from gankit import run, runinfo
    from gankit.tasks import build_task

    out = Path(out)
    check_request(fmt, out)
    trainer = run.open_trainer(Path(run_dir), write=False, trust_code=trust_code,
                               task_factory=runinfo.sampling_tasks(Path(run_dir), build_task))
    total = trainer.cfg.train.steps
    if trainer.step < total and not unfinished:
        raise GankitError(f"{run_dir} stopped at step {trainer.step} of {total}: finish it "
                          f"(gankit resume {run_dir}), or pass --unfinished to export it as it is")
    G = generator_for_export(trainer)
    inputs = example_inputs(trainer, CHECK_SAMPLES)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        writer = write_onnx if fmt == "onnx" else write_torchscript
        writer(G, inputs, out, describe(trainer))
    except OSError as e:
        raise GankitError(f"cannot write {out}: {e.strerror or e}") from None
    if fmt == "onnx" and importlib.util.find_spec("onnxruntime") is None:
        return out, None
    with torch.no_grad():
        expected = G(*inputs)
    return out, float((run_exported(out, inputs) - expected).abs().max())
