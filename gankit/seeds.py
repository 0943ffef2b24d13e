"""Offsets of gankit's independent random streams: all in one place, no two alike, so no stream
repeats another's draws. A run's own streams are offsets from its seed (`train.seed`); fresh real
samples for evaluation are drawn from `REAL` plus the seed they are asked for.

Changing a value changes the numbers of every run that uses that stream (benchmarks included).
"""

Z = 1  # latent draws of training
DATA = 2  # order of the real minibatches
FRAMES = 3  # the fixed noise of animation frames and sample grids
EVAL = 4  # evaluation samples (and `gankit sample`'s default)
BN = 5  # latent draws that re-estimate the BatchNorm statistics of G's weight average
PRETRAIN = 6  # D pretraining (the Keras MNIST GAN's recipe): its real images, fakes and order
AUGMENT = 7  # the random parameters of D's input augmentation (train.augment)
REAL = 10_000  # `task.real_samples(n, seed)`: fresh real samples, from seed + REAL

OFFSETS = {"z": Z, "data": DATA, "frames": FRAMES, "eval": EVAL, "batchnorm": BN,
           "pretrain": PRETRAIN, "augment": AUGMENT}
