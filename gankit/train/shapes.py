"""Before the first step: do G, D and the data fit together? One forward of a tiny batch says.

The commonest modelling mistakes either fail deep inside PyTorch (`mat1 and mat2 shapes cannot be
multiplied`) or train silently wrong, because the losses take means and broadcast: D returning
(N, 2) or a batch mean, G returning (N, 1, 2) for (N, 2) data. Here each is refused in one line
saying what was expected, what came, and the setting that is the likely cause (`prior.dim`,
`data.resolution`, `data.channels`, `train.pack`). A D that ends in a sigmoid trains, but on
probabilities where the losses expect logits: that gets a note.

The nets run in eval mode under no_grad inside a forked random state, so the check changes no
weight, no BatchNorm statistic and no random stream: a run is bit for bit the same without it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from gankit import registry
from gankit.config import Config, PriorConfig
from gankit.errors import GankitError
from gankit.priors import sample_prior

#: Samples (per pack) in the checking batch, and points in each far-off probe of D.
CHECK_SAMPLES = 4
PROBE_SAMPLES = 16
#: How far the probes lie from the data: a logit D's outputs leave [0, 1] out there.
PROBE_SCALE = 1e3
WEIGHT_SCALE = 10.0
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
         nn.ConvTranspose3d)

SIGMOID_NOTE = ("D's outputs all lie in [0, 1], even on inputs far from the data: it seems to end "
                "in a sigmoid (or another squashing), but the losses take D's raw output (a "
                "logit, which they turn into a probability themselves, stably; a critic's "
                "score for critic losses); remove D's last sigmoid")


class ShapeError(GankitError):
    """G, D and the data do not fit together (found before the first step)."""


def check_trainer(trainer: Any) -> None:
    """`check_nets` for a Trainer that was just built: its nets, its data, its notes."""
    G, D, cond = trainer.G, trainer.D, getattr(trainer, "cond", None)
    if cond is not None:  # conditional nets, called with the classes in turn
        from gankit.train.labels import Unlabelled

        G, D = Unlabelled(G, cond.n_classes), Unlabelled(D, cond.n_classes)
    note = check_nets(G, D, trainer.sampler.data, trainer.cfg, trainer.device)
    if note:
        trainer.run_record.note(note)


def check_nets(G: nn.Module, D: nn.Module, data: Tensor, cfg: Config,
               device: torch.device) -> str | None:
    """Raise ShapeError unless G(z) is shaped like the data and D gives one score per sample
    (per pack under train.pack); returns a note when D seems to end in a sigmoid."""
    m = cfg.train.pack
    n = m * max(1, min(CHECK_SAMPLES, len(data) // m))
    real = data[:n]
    modes = (G.training, D.training)
    G.eval()
    D.eval()
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            gen = torch.Generator(device=device).manual_seed(0)
            fake = _generate(G, n, cfg, gen, device, tuple(real.shape[1:]))
            real_out = _judge(D, real, "data samples", cfg)
            fake_out = _judge(D, fake, "generated samples", cfg)
            probes = _probes(D, real, fake, gen)
    finally:
        G.train(modes[0])
        D.train(modes[1])
    return SIGMOID_NOTE if _squashed(real_out, fake_out, *probes) else None


def _generate(G: nn.Module, n: int, cfg: Config, gen: torch.Generator, device: torch.device,
              shape: tuple[int, ...]) -> Tensor:
    p = cfg.prior
    z = sample_prior(p.name, n, p.dim, gen, device)
    try:
        fake = G(z)
    except Exception as e:  # a user's module: any error here is the module's, shown in one line
        raise ShapeError(f"G failed on a batch of latents of shape {_dims((n, p.dim))} "
                         f"(prior.dim = {p.dim}{_default_dim(cfg)}): {_said(e)}; "
                         f"{_latent_fix(G, p.dim)}") from e
    if not isinstance(fake, Tensor):
        raise ShapeError(f"G returned a {type(fake).__name__}, not a tensor: G(z) must return "
                         f"the samples, shape (N, {_inner(shape)})")
    got = tuple(fake.shape[1:])
    if fake.dim() == 0 or len(fake) != n:
        raise ShapeError(f"G returned shape {_dims(tuple(fake.shape))} for {n} latents; it must "
                         f"return one sample per latent, shape (N, {_inner(shape)})")
    if got != shape:
        raise ShapeError(f"G makes samples of shape {_dims(got)}, the data's are "
                         f"{_dims(shape)}: {_sample_fix(got, shape, cfg)}")
    return fake


def _judge(D: nn.Module, x: Tensor, what: str, cfg: Config) -> Tensor:
    """D(x), checked to be one score per sample (per pack)."""
    m = cfg.train.pack
    try:
        out = D(x)
    except Exception as e:
        raise ShapeError(f"D failed on a batch of {len(x)} {what} of shape "
                         f"{_dims(tuple(x.shape[1:]))}: {_said(e)}; "
                         f"{_input_fix(D, tuple(x.shape[1:]), cfg)}") from e
    k = len(x) // m
    each = f"one score per {'pack of ' + str(m) + ' samples' if m > 1 else 'sample'}"
    if not isinstance(out, Tensor):
        raise ShapeError(f"D returned a {type(out).__name__}, not a tensor: it must return "
                         f"{each}, shape ({k},)")
    if out.dim() == 0 or (out.numel() == 1 and k > 1):
        raise ShapeError(f"D returned one number for a batch of {len(x)} samples (a mean over "
                         f"the batch?); it must return {each}, shape ({k},) or ({k}, 1), and the "
                         "losses take the means")
    if tuple(out.shape) not in ((k,), (k, 1)):
        two = " (a two-class output? return one logit, e.g. the difference of the two)" \
            if out.dim() == 2 and out.shape[1] == 2 else ""
        raise ShapeError(f"D returned shape {_dims(tuple(out.shape))} for {len(x)} samples; it "
                         f"must return {each}, shape ({k},) or ({k}, 1){two}")
    return out


def _probes(D: nn.Module, real: Tensor, fake: Tensor, gen: torch.Generator) -> list[Tensor]:
    """D's outputs where a logit leaves [0, 1] and a sigmoid's never do: far from the data (the
    real batch scaled up, and noise), and with D's weights scaled up (which a normalisation
    layer's input scaling cannot undo)."""
    m = max(1, len(real))
    n = m * math.ceil(PROBE_SAMPLES / m)
    noise = torch.randn((n, *real.shape[1:]), generator=gen, device=real.device)
    inputs = (real * PROBE_SCALE, -real * PROBE_SCALE, noise * PROBE_SCALE)
    scaled = {name: p * WEIGHT_SCALE for name, p in D.named_parameters()}
    outs = []
    for x in inputs:
        outs += _try(D, x)
    for x in (real, fake, *inputs):
        outs += _try(lambda batch: functional_call(D, scaled, (batch,), strict=False), x)
    return outs


def _try(D: Any, x: Tensor) -> list[Tensor]:
    try:
        out = D(x)
    except Exception:  # a probe is only a hint: its failure says nothing
        return []
    return [out] if isinstance(out, Tensor) else []


def _squashed(*outputs: Tensor) -> bool:
    """Every finite output within [0, 1], and not all the same value (a constant D says nothing)."""
    values = torch.cat([o.detach().float().flatten() for o in outputs if isinstance(o, Tensor)])
    values = values[torch.isfinite(values)]
    if values.numel() < 2:
        return False
    low, high = float(values.min()), float(values.max())
    return low >= 0.0 and high <= 1.0 and high > low


# -- the words of the messages ---------------------------------------------------------------
def _dims(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _inner(shape: tuple[int, ...]) -> str:
    return ", ".join(map(str, shape))


def _said(e: Exception) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__


def _default_dim(cfg: Config) -> str:
    return ", the default" if cfg.prior.dim == PriorConfig().dim else ""


def _first_layer(net: nn.Module) -> tuple[str, int] | None:
    """('inputs', n) or ('channels', n) of the first Linear or convolution, in module order."""
    for layer in net.modules():
        if isinstance(layer, nn.Linear) and not isinstance(layer, nn.LazyLinear):
            return "inputs", layer.in_features
        if isinstance(layer, _CONV) and layer.in_channels:
            return "channels", layer.in_channels
    return None


def _latent_fix(G: nn.Module, dim: int) -> str:
    first = _first_layer(G)
    if first is not None and first[1] != dim:
        return f"G's first layer takes {first[1]} {first[0]}: set prior.dim = {first[1]}"
    return "prior.dim must be the size of the latent vector G takes"


def _image_set(cfg: Config) -> bool:
    """Whether the data's shape comes from the config (data.channels, data.resolution)."""
    name = cfg.data.name
    return name != registry.PYTHON and not registry.is_import_path(name) and \
        registry.DATASETS.info(name)["image"]


def _sample_fix(got: tuple[int, ...], want: tuple[int, ...], cfg: Config) -> str:
    """What to change when G's samples are not shaped like the data's."""
    if math.prod(got) == math.prod(want):
        return (f"the same {math.prod(want)} values on other axes; reshape G's output to "
                f"(N, {_inner(want)})")
    if len(got) == len(want) == 3 and _image_set(cfg) and cfg.data.stack == 1:
        fixes = []
        if got[0] != want[0]:
            fixes.append(f"set data.channels = {got[0]} (it is {cfg.data.channels})"
                         if got[0] in (1, 3) else f"G must make {want[0]} channels")
        if got[1:] != want[1:]:
            fixes.append(f"set data.resolution = {got[1]} (it is {cfg.data.resolution})"
                         if got[1] == got[2] else f"G must make {want[1]}×{want[2]} images")
        return ", and ".join(fixes) + ", or change G"
    if len(got) == len(want) == 1:
        return f"G's last layer must make {want[0]} values per sample"
    return f"G must make samples of shape {_dims(want)}"


def _input_fix(D: nn.Module, shape: tuple[int, ...], cfg: Config) -> str:
    """What to change when D cannot take the data's samples."""
    m = cfg.train.pack
    first = _first_layer(D)
    packed = f" (train.pack = {m}: D judges {m} samples stacked on the first axis)" if m > 1 \
        else ""
    if first is None:
        return f"D must take samples of shape {_dims(shape)}{packed}"
    kind, size = first
    want = m * (shape[0] if kind == "channels" else math.prod(shape))
    if size == want:
        return f"D must take samples of shape {_dims(shape)}{packed}"
    has = f"D's first layer takes {size} {kind}, the data give {want}{packed}"
    if kind == "channels" and _image_set(cfg) and m == 1 and size in (1, 3) and \
            cfg.data.stack == 1:
        return f"{has}: set data.channels = {size} (it is {cfg.data.channels}), or change D"
    if kind == "inputs" and _image_set(cfg) and len(shape) == 3:
        return (f"{has} (data.channels × data.resolution² = {shape[0]} × {shape[1]}²): make "
                "data.resolution and data.channels those D was built for, or change D")
    return f"{has}: build D for {want} {kind}"
