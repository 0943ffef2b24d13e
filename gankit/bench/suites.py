"""Benchmark suites: which methods run on which data, under which protocol, compared with what.

A suite is a grid of cells (data × method × seed). Each method is a set of config overrides on
the protocol's preset, so every cell is an ordinary run of the one trainer. Published numbers
are the papers' own (PacGAN, Lin et al. 2018, Table 1; VEEGAN, Srivastava et al. 2017), kept
here as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gankit.errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class Method:
    """One row of a table: config overrides on the protocol's preset."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    pack: int = 1  # PacGAN degree: the batch holds `batch_size` packs of `pack` samples
    d_scale: float = 1.0  # D's width relative to the protocol's (Unrolled-GAN setup: ½, ¼)
    published: str | None = None  # the published row it is compared with

    def cost(self) -> float:
        """Rough relative cost of one step, to start the slowest cells first."""
        unroll = self.overrides.get("train.unroll", 0)
        return self.overrides.get("train.k", 1) * (1 + 4 * unroll) * (1 + 0.3 * self.pack)


@dataclass(frozen=True)
class Protocol:
    """How every cell of a suite is trained: a preset per data set, and the paper's steps."""

    name: str
    presets: dict[str, str]  # data set -> preset
    paper_steps: int | None  # the steps of the published protocol; None: not the paper's
    note: str
    overrides: dict[str, Any] = field(default_factory=dict)  # on every cell, before the method's


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple[str, ...]
    methods: tuple[Method, ...]
    protocols: dict[str, Protocol]
    metrics: tuple[str, ...]
    published: dict[str, dict[str, dict[str, float | None]]]  # row -> data -> metric -> value
    quick: dict[str, Any]  # what --quick changes: datasets, methods, seeds, steps, n_samples
    figure_data: str | None = None  # data set of the panel figure (one scatter per method)

    def protocol(self, name: str | None) -> Protocol:
        name = name or next(iter(self.protocols))
        if name not in self.protocols:
            raise ConfigError(f"suite '{self.name}' has no protocol '{name}'; "
                              f"available: {', '.join(self.protocols)}")
        return self.protocols[name]


# -- the toy suite: ring and grid (PacGAN / VEEGAN 2-D mixtures) -------------------------------
WGAN = {"train.loss": "wasserstein", "train.clip": 0.01, "train.optimizer": "rmsprop",
        "train.lr_g": 5e-5, "train.lr_d": 5e-5, "train.k": 5}  # Arjovsky et al. 2017
WGAN_GP = {"train.loss": "wasserstein", "train.gp_lambda": 10.0, "train.k": 5,
           "train.optimizer": "adam", "train.lr_g": 1e-4, "train.lr_d": 1e-4,
           "train.betas_g": [0.5, 0.9], "train.betas_d": [0.5, 0.9]}  # Gulrajani et al. 2017

TOY_METHODS = (
    Method("GAN", published="GAN"),
    Method("Unrolled K=5", {"train.unroll": 5}, published="Unrolled GAN"),
    Method("Unrolled K=10", {"train.unroll": 10}, published="Unrolled GAN"),
    Method("PacGAN2", {"train.pack": 2}, pack=2, published="PacGAN2"),
    Method("PacGAN3", {"train.pack": 3}, pack=3, published="PacGAN3"),
    Method("PacGAN4", {"train.pack": 4}, pack=4, published="PacGAN4"),
    Method("WGAN", WGAN),
    Method("WGAN-GP", WGAN_GP),
)

#: PacGAN (Lin et al. 2018) Table 1; the unrolled row is VEEGAN's (Srivastava et
#: al. 2017), which reports no reverse KL. Metrics: modes, HQ fraction (0..1), reverse KL.
TOY_PUBLISHED: dict[str, dict[str, dict[str, float | None]]] = {
    "GAN": {"ring": {"modes": 6.3, "hq_fraction": 0.982, "reverse_kl": 0.45},
            "grid": {"modes": 17.3, "hq_fraction": 0.948, "reverse_kl": 0.70}},
    "PacGAN2": {"ring": {"modes": 7.9, "hq_fraction": 0.956, "reverse_kl": 0.07},
                "grid": {"modes": 23.8, "hq_fraction": 0.913, "reverse_kl": 0.13}},
    "PacGAN3": {"ring": {"modes": 7.8, "hq_fraction": 0.977, "reverse_kl": 0.10},
                "grid": {"modes": 24.6, "hq_fraction": 0.942, "reverse_kl": 0.06}},
    "PacGAN4": {"ring": {"modes": 7.8, "hq_fraction": 0.959, "reverse_kl": 0.07},
                "grid": {"modes": 24.8, "hq_fraction": 0.936, "reverse_kl": 0.04}},
    "Unrolled GAN": {"ring": {"modes": 7.6, "hq_fraction": 0.356, "reverse_kl": None},
                     "grid": {"modes": 23.6, "hq_fraction": 0.160, "reverse_kl": None}},
}

TOY = Suite(
    name="toy",
    datasets=("ring", "grid"),
    methods=TOY_METHODS,
    protocols={
        "demo": Protocol(
            "demo", {"ring": "toy-ring", "grid": "toy-grid"}, None,
            "the nets and optimizer of gankit's demo presets toy-ring / toy-grid (3×256 MLPs, "
            "Adam 1e-3 β1 0.5, batch 256) without their weight average of G (its 0.999 decay "
            "spans the first ~1,000 steps, most of a short run): quick to learn on a CPU, not "
            "the published protocol", {"train.ema": 0.0}),
        "pacgan": Protocol(
            "pacgan", {"ring": "toy-ring-pacgan", "grid": "toy-grid-pacgan"}, 400_000,
            "PacGAN's protocol (Lin et al. 2018): G 4×400 BatchNorm ReLU, D 3 maxout layers of 200 "
            "units × 5 pieces, Adam 1e-4 β1 0.8, batch 100 (packs, for PacGAN), "
            "non-saturating loss, 100,000 training points, 2,500 evaluation samples"),
    },
    metrics=("modes", "hq_fraction", "reverse_kl", "w1"),
    published=TOY_PUBLISHED,
    quick={"datasets": ("grid",), "seeds": 1, "steps": 300, "protocol": "demo",
           "methods": ("GAN", "Unrolled K=5", "PacGAN2", "PacGAN4", "WGAN", "WGAN-GP")},
    figure_data="grid",
)

# -- the stacked suite: 1,000 modes, three images as channels ----------------------------------
def _stacked_methods() -> tuple[Method, ...]:
    rows = [Method("GAN", published="DCGAN (VEEGAN setup)"),
            Method("Unrolled K=10", {"train.unroll": 10},
                   published="Unrolled GAN (VEEGAN setup)")]
    rows += [Method(f"PacGAN{m}", {"train.pack": m}, pack=m,
                    published="PacDCGAN2 (VEEGAN setup)" if m == 2 else None) for m in (2, 3, 4)]
    rows += [Method("GAN, D ½", d_scale=0.5, published="DCGAN, D ½"),
             Method("Unrolled K=10, D ½", {"train.unroll": 10}, d_scale=0.5,
                    published="Unrolled GAN 10 steps, D ½"),
             Method("PacGAN3, D ½", {"train.pack": 3}, pack=3, d_scale=0.5,
                    published="PacDCGAN3, D ½"),
             Method("Unrolled K=10, D ¼", {"train.unroll": 10}, d_scale=0.25,
                    published="Unrolled GAN 10 steps, D ¼"),
             Method("PacGAN4, D ¼", {"train.pack": 4}, pack=4, d_scale=0.25,
                    published="PacDCGAN4, D ¼")]
    return tuple(rows)


def _stacked_published(rows: dict[str, tuple[float, float]]) -> dict[str, Any]:
    return {name: {"stacked": {"stacked_modes": m, "stacked_kl": kl}}
            for name, (m, kl) in rows.items()}


#: Stacked MNIST as published in PacGAN (Lin et al. 2018), with the Unrolled GAN's (Metz et al.
#: 2017) and VEEGAN's setups (26,000 samples in the Unrolled-GAN setup, 25,600 in VEEGAN's).
STACKED_PUBLISHED = _stacked_published({
    "DCGAN (VEEGAN setup)": (99, 3.40), "Unrolled GAN (VEEGAN setup)": (48.7, 4.32),
    "PacDCGAN2 (VEEGAN setup)": (1000, 0.06), "DCGAN, D ½": (628, 2.58),
    "Unrolled GAN 10 steps, D ½": (817.4, 1.43), "PacDCGAN3, D ½": (866.6, 0.90),
    "Unrolled GAN 10 steps, D ¼": (327.2, 4.66), "PacDCGAN4, D ¼": (667.4, 1.81),
})

STACKED = Suite(
    name="stacked",
    datasets=("stacked",),
    methods=_stacked_methods(),
    protocols={
        "digits": Protocol(
            "digits", {"stacked": "stacked-digits"}, None,
            "stacked 8×8 digits (scikit-learn's 1,797 digits, three per sample as channels, "
            "1,000 modes), MLP nets: the quick CPU variant, not the published protocol"),
        "fashion": Protocol(
            "fashion", {"stacked": "stacked-fashion-dcgan"}, None,
            "stacked Fashion-MNIST 28×28 (offline stand-in for stacked MNIST), DCGAN nets"),
        "mnist": Protocol(
            "mnist", {"stacked": "stacked-mnist-dcgan"}, None,
            "stacked MNIST 28×28 (MNIST: `gankit data fetch mnist`), DCGAN nets"),
        "pacgan": Protocol(
            "pacgan", {"stacked": "stacked-mnist-pacgan"}, 100_000,
            "stacked MNIST 28×28 as PacGAN's experiments ran it (the VEEGAN setting): their "
            "deeper 5×5 DCGAN, uniform z, two G updates per D update, 128,000 stacks"),
    },
    metrics=("stacked_modes", "stacked_kl", "stacked_kl_real"),
    published=STACKED_PUBLISHED,
    quick={"seeds": 1, "steps": 200, "n_samples": 5000,
           "methods": ("GAN", "PacGAN2", "PacGAN4")},
)

SUITES: dict[str, Suite] = {"toy": TOY, "stacked": STACKED}


# -- suites over training time (gankit.bench.curves runs them) --------------------------------
#: What the curve suites measure at every evaluation step.
CURVE_METRICS = ("modes", "hq_fraction", "reverse_kl")


@dataclass(frozen=True)
class Curves:
    """A suite evaluated along training: when, and what the paper shows for each method."""

    suite: Suite
    eval_every: int
    tail: float = 0.2  # the table averages the evaluations in the last 20 % of the steps
    columns: int = 6  # scatter grid: this many evaluation steps, 0 and the last included
    reference: dict[str, str] = field(default_factory=dict)  # method -> the paper's result
    quick_eval_every: int = 50


UNROLLED = Curves(
    Suite(
        name="unrolled",
        datasets=("ring",),
        methods=(Method("GAN"), Method("Unrolled K=5", {"train.unroll": 5}),
                 Method("Unrolled K=10", {"train.unroll": 10})),
        protocols={"paper": Protocol(
            "paper", {"ring": "toy-ring-unrolled"}, 12_500,
            "the unrolled GAN's Figure 1 (Metz et al. 2017, appendix A): 8 Gaussians on a circle "
            "of radius 2, std 0.02; z ~ N(0, I_256); G 2×128 ReLU, D x/4 then 1×128 ReLU, "
            "orthogonal init gain 0.8; saturating minimax loss, G descending f(θ_G, θ_D^K) with "
            "gradients through the K unrolled Adam steps; Adam 1e-4 β1 0.5 for both; batch 512; "
            "one step = one D and one G update, so 12,500 steps = the paper's 25,000 "
            "alternating updates")},
        metrics=CURVE_METRICS,
        published={},
        quick={"seeds": 1, "steps": 200, "n_samples": 1000},
    ),
    eval_every=250,
    reference={"GAN": "one mode at a time, rotating",
               "Unrolled K=5": "—",
               "Unrolled K=10": "all 8 modes"},
)

PACGAN_GRID = Curves(
    Suite(
        name="pacgan-grid",
        datasets=("grid",),
        methods=(Method("GAN", published="GAN"),
                 Method("PacGAN2", {"train.pack": 2}, pack=2, published="PacGAN2"),
                 Method("PacGAN4", {"train.pack": 4}, pack=4, published="PacGAN4")),
        protocols={"pacgan": Protocol(
            "pacgan", {"grid": "toy-grid-pacgan"}, 400_000,
            "PacGAN's 2-D protocol (Lin et al. 2018): 25 Gaussians on a 5×5 grid, std 0.05; "
            "G 4×400 BatchNorm ReLU, D 3 maxout layers of 200 units × 5 pieces, Adam 1e-4 "
            "β1 0.8, batch 100 (packs, for PacGAN), non-saturating loss, 100,000 training "
            "points, 2,500 evaluation samples")},
        metrics=CURVE_METRICS,
        published={k: {"grid": v["grid"]} for k, v in TOY_PUBLISHED.items()
                   if k in ("GAN", "PacGAN2", "PacGAN4")},
        quick={"seeds": 1, "steps": 100, "n_samples": 500},
    ),
    eval_every=500,
    quick_eval_every=25,
)

CURVES: dict[str, Curves] = {c.suite.name: c for c in (UNROLLED, PACGAN_GRID)}


def get_suite(name: str) -> Suite:
    suites = {**SUITES, **{key: c.suite for key, c in CURVES.items()}}
    if name not in suites:
        raise ConfigError(f"unknown benchmark suite '{name}'{did_you_mean(name, suites)}; "
                          f"available: {', '.join(suites)}")
    return suites[name]
