import pytest
import torch

# Tests run two at a time (pytest -n 2) on two cores: one torch thread each.
torch.set_num_threads(1)


@pytest.fixture
def tiny_overrides() -> list[str]:
    """A toy run small enough for a unit test (a second or two)."""
    return ["train.steps=60", "train.log_every=20", "train.ckpt_every=20",
            "train.frame_every=30", "model.g_width=32", "model.d_width=32",
            "data.n_train=2000", "train.batch_size=64", "eval.n_samples=300"]
