"""The Keras MNIST GAN of 'An Annotated Proof of Generative Adversarial Networks with Implementation
Notes', layer for layer, in PyTorch.

G: Dense(200·7·7) BN ReLU Dropout → reshape 7×7×200 → ConvT(100, 5, stride 2) → 14×14×100
   → ConvT(50, 3, stride 2) → 28×28×50 → ConvT(25, 3) → 28×28×25 → ConvT(1, 3) → sigmoid;
   every hidden layer BN + ReLU + Dropout(0.3). With depth 200 it has the source's 1,586,351
   parameters (BatchNorm moving statistics counted, as Keras does).
D: Conv(256, 5, stride 2) LeakyReLU(0.2) Dropout → Conv(512, 5, stride 2) LeakyReLU Dropout
   → Dense(256) LeakyReLU Dropout → one logit. The source's Dense(2) + softmax is the same
   classifier: its logit is the difference of the two outputs, so one output suffices.

Keras details kept: 'same' padding, Glorot-uniform weights with zero biases, BatchNorm momentum
0.9 in Keras' convention (a running average keeping 90 %), which is PyTorch's momentum 0.1, and
Keras' BatchNorm epsilon 1e-3.
"""

from __future__ import annotations

from torch import Tensor, nn

DROPOUT = 0.3
BN_MOMENTUM = 0.1  # Keras momentum=0.9 (weight of the old running value) == PyTorch 0.1
BN_EPS = 1e-3  # Keras' default


def keras_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def _bn_relu_drop(n: int, dims: int) -> list[nn.Module]:
    bn = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    return [bn(n, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU(), nn.Dropout(DROPOUT)]


class KerasMnistGenerator(nn.Module):
    def __init__(self, z_dim: int = 100, depth: int = 200, output: str = "sigmoid") -> None:
        super().__init__()
        self.depth = depth
        self.dense = nn.Sequential(nn.Linear(z_dim, depth * 7 * 7), *_bn_relu_drop(depth * 49, 1))
        self.up1 = nn.Sequential(  # 7×7×depth -> 14×14×depth/2
            nn.ConvTranspose2d(depth, depth // 2, 5, 2, padding=2, output_padding=1),
            *_bn_relu_drop(depth // 2, 2))
        self.up2 = nn.Sequential(  # -> 28×28×depth/4
            nn.ConvTranspose2d(depth // 2, depth // 4, 3, 2, padding=1, output_padding=1),
            *_bn_relu_drop(depth // 4, 2))
        self.conv3 = nn.Sequential(  # -> 28×28×depth/8
            nn.ConvTranspose2d(depth // 4, depth // 8, 3, 1, padding=1),
            *_bn_relu_drop(depth // 8, 2))
        self.out = nn.Sequential(nn.ConvTranspose2d(depth // 8, 1, 3, 1, padding=1),
                                 nn.Sigmoid() if output == "sigmoid" else nn.Tanh())
        keras_init(self)

    def stages(self, z: Tensor) -> list[Tensor]:
        """The output of every stage: 7×7×200, 14×14×100, 28×28×50, 28×28×25, 28×28×1."""
        x = self.dense(z).view(z.shape[0], self.depth, 7, 7)
        outs = [x]
        for block in (self.up1, self.up2, self.conv3, self.out):
            x = block(x)
            outs.append(x)
        return outs

    def forward(self, z: Tensor) -> Tensor:
        return self.stages(z)[-1]


class KerasMnistDiscriminator(nn.Module):
    def __init__(self, depth: int = 256, dense: int = 256) -> None:
        super().__init__()

        def act() -> list[nn.Module]:
            return [nn.LeakyReLU(0.2), nn.Dropout(DROPOUT)]

        self.net = nn.Sequential(
            nn.Conv2d(1, depth, 5, 2, padding=2), *act(),  # 28 -> 14
            nn.Conv2d(depth, depth * 2, 5, 2, padding=2), *act(),  # 14 -> 7
            nn.Flatten(),
            nn.Linear(depth * 2 * 7 * 7, dense), *act(),
            nn.Linear(dense, 1),
        )
        keras_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).view(x.shape[0])
