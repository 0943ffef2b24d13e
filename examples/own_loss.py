"""A loss of your own: the relativistic standard GAN (Jolicoeur-Martineau, 2019), from Python.

    python examples/own_loss.py [--steps N] [--out DIR]

D judges whether a real sample is more realistic than a fake one: with C the critic's output,
    D loss = softplus(-(C(x_real) - C(x_fake)))    G loss = softplus(-(C(x_fake) - C(x_real))).
Both losses take D's outputs in one order, (real, fake); G's needs the real ones too, and
`g_uses_real=True` makes the trainer pass them (otherwise G's `real` is None).
Registered under a name, the loss can also be used by the presets and the command line once the
registering module is imported (`train.loss = "relativistic"`).
"""

from __future__ import annotations

import argparse

from torch import Tensor
from torch.nn.functional import softplus

import gankit


def d_loss(real: Tensor, fake: Tensor) -> Tensor:
    return softplus(-(real - fake)).mean()


def g_loss(real: Tensor, fake: Tensor) -> Tensor:
    return softplus(-(fake - real)).mean()


RELATIVISTIC = gankit.register_loss(
    "relativistic", gankit.Objective(d_loss, g_loss, g_uses_real=True), critic=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", default="runs/example-relativistic")
    args = parser.parse_args()
    # the built-in 8-mode ring and MLP nets, trained with the loss registered above
    run = gankit.fit(loss="relativistic", config="toy-ring", steps=args.steps, out=args.out,
                     overrides={"eval.n_samples": 1000}, force=True)
    m = run.metrics
    print(f"{run}: {m['modes']:.0f} of 8 modes, {100 * m['hq_fraction']:.0f} % high-quality "
          f"samples; pictures in {run.run_dir}")


if __name__ == "__main__":
    main()
