"""Discriminator pretraining, the Keras MNIST GAN recipe's first phase: one epoch on real and
generated images.

The recipe draws `train.pretrain_d_samples` real images and as many images from the untrained G
(Keras `predict`: inference mode), shuffles the 2n labelled images together and fits D for one
epoch with minibatches of `train.pretrain_d_batch`, using D's own optimizer (whose state carries
into the main loop, as the compiled Keras model's does). Labels: 1 real, 0 generated; the loss
is the discriminator's cross-entropy on logits.

Resumable: the images, labels and order come from a generator seeded by the run's seed; dropout
draws from the global RNG, which the trainer checkpoints. The trainer runs this once, before the
first generator step, marks it done and saves a checkpoint at once.
"""

from __future__ import annotations

import torch
from torch.nn.functional import binary_cross_entropy_with_logits

from gankit.priors import sample_prior
from gankit.seeds import PRETRAIN


def pretrain_discriminator(trainer) -> dict[str, float]:
    """One epoch of D on n real + n generated images; returns the epoch's mean loss and accuracy."""
    t, p = trainer.cfg.train, trainer.cfg.prior
    device = trainer.device
    gen = torch.Generator(device="cpu").manual_seed(t.seed + PRETRAIN)
    data = trainer.sampler.data
    n = t.pretrain_d_samples
    idx = torch.randint(len(data), (n,), generator=gen).to(data.device)  # with replacement,
    real = data.index_select(0, idx)  # like the Keras notes' np.random.choice
    z = sample_prior(p.name, n, p.dim, gen).to(device)
    fake = trainer.generate(z)  # inference mode, as Keras' gen.predict
    x = torch.cat([real, fake.to(real.dtype)])
    y = torch.cat([torch.ones(n, device=device), torch.zeros(n, device=device)])
    order = torch.randperm(2 * n, generator=gen).to(device)
    total = torch.zeros(2, device=device)
    batches = 0
    for start in range(0, 2 * n, t.pretrain_d_batch):
        sel = order[start:start + t.pretrain_d_batch]
        _, batch = trainer.d_objective.augmented(None, x.index_select(0, sel))
        logits = trainer.D(batch)
        target = y.index_select(0, sel)
        loss = binary_cross_entropy_with_logits(logits, target)
        trainer.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        trainer.opt_d.step()
        total += torch.stack([loss.detach(), ((logits.detach() > 0).float() == target).float()
                              .mean()])
        batches += 1
    mean = (total / max(batches, 1)).tolist()
    return {"pretrain_d_loss": mean[0], "pretrain_d_accuracy": mean[1],
            "pretrain_d_samples": 2 * n, "pretrain_d_batches": batches}
