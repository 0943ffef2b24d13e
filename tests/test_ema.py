"""The generator's weight average and the BatchNorm statistics it samples with."""

import torch
from torch import nn

from gankit.config import load_preset
from gankit.tasks import build_task
from gankit.train import ema
from gankit.train.loop import Trainer


def test_update_is_an_exponential_average_of_parameters_only():
    model, average = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.fill_(2.0)
        average.weight.fill_(1.0)
        model.running_mean.fill_(5.0)
    ema.update(average, model, decay=0.75)
    assert torch.allclose(average.weight, torch.full((3,), 1.25))
    assert torch.equal(average.running_mean, torch.zeros(3))  # buffers are not averaged


def test_recalibration_gives_the_exact_statistics_of_the_inputs_with_dropout_off():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.BatchNorm1d(6, momentum=0.1))
    net.train()
    batches = [torch.randn(50, 4) for _ in range(4)]
    ema.recalibrate_batchnorm(net, batches)
    bn = net[2]
    with torch.no_grad():
        h = torch.stack([net[0](x) for x in batches])  # no dropout: inference-mode activations
    assert torch.allclose(bn.running_mean, h.mean(dim=1).mean(dim=0), atol=1e-6)
    assert torch.allclose(bn.running_var, h.var(dim=1, unbiased=True).mean(dim=0), atol=1e-5)
    assert bn.momentum == 0.1 and net.training and net[1].training  # modes restored


def test_no_batchnorm_is_a_no_op():
    net = nn.Linear(2, 2)
    ema.recalibrate_batchnorm(net, [torch.randn(3, 2)])
    assert not ema.has_batchnorm(net)


def test_trainer_samples_from_the_average_with_its_own_statistics():
    cfg = load_preset("digits-tiny").with_overrides({"train.ema": 0.9, "train.steps": 5})
    trainer = Trainer(cfg, build_task(cfg))
    for _ in range(5):
        trainer.train_step()
    bn_g = next(m for m in trainer.G.modules() if isinstance(m, nn.BatchNorm2d))
    bn_avg = next(m for m in trainer.G_ema.modules() if isinstance(m, nn.BatchNorm2d))
    trainer.sample(16)
    first = bn_avg.running_mean.clone()
    assert not torch.allclose(first, bn_g.running_mean)  # not G's statistics
    trainer.sample(16, seed=123)  # weights unchanged: nothing re-estimated, same statistics
    assert torch.equal(first, bn_avg.running_mean)
    trainer.train_step()
    trainer.sample(16)  # the average moved: statistics re-estimated
    assert not torch.equal(first, bn_avg.running_mean)
