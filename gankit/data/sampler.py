"""Minibatches from a tensor resident on the training device, shuffled there.

Batch number i of the stream is fully determined by (seed, i): epoch e = i // batches_per_epoch
uses permutation e. No sampler state needs saving, so resuming is exact, and ranks of a
distributed run take disjoint slices of the same permutation.
"""

from __future__ import annotations

import torch
from torch import Tensor


class EpochSampler:
    def __init__(
        self, data: Tensor, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        n = data.shape[0]
        per_step = batch_size * world_size
        if n < per_step:
            from gankit.errors import DataError

            ranks = f" × {world_size} processes" if world_size > 1 else ""
            raise DataError(
                f"the data set has {n} training samples, fewer than one batch "
                f"(train.batch_size = {batch_size}{ranks}); lower train.batch_size or use more "
                "data (data.n_train)")
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.batches_per_epoch = n // per_step
        self._epoch = -1
        self._perm: Tensor | None = None

    def _permutation(self, epoch: int) -> Tensor:
        if epoch != self._epoch:
            g = torch.Generator(device="cpu").manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.data.shape[0], generator=g).to(self.data.device)
            self._epoch = epoch
        assert self._perm is not None
        return self._perm

    def indices(self, i: int) -> Tensor:
        """The rows of the data in the i-th batch (0-based) of this rank's stream."""
        epoch, j = divmod(i, self.batches_per_epoch)
        start = (j * self.world_size + self.rank) * self.batch_size
        return self._permutation(epoch)[start : start + self.batch_size]

    def batch(self, i: int) -> Tensor:
        """The i-th batch (0-based) of this rank's stream."""
        return self.data.index_select(0, self.indices(i))
