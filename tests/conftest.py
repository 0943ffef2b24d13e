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


@pytest.fixture
def train_twice(tmp_path):
    """`train_twice(cfg, stop_at)` trains cfg in one go (tmp_path/full) and again stopped after
    `stop_at` steps and reopened from its checkpoint (tmp_path/half): (whole, resumed), for the
    bit-exact resume tests."""
    from gankit import run

    def train(cfg, stop_at: int):
        whole = run.start(cfg, tmp_path / "full")
        assert run.train_run(whole)
        half = run.start(cfg.with_overrides({"train.steps": stop_at}), tmp_path / "half")
        run.train_run(half)
        resumed = run.open_trainer(tmp_path / "half", steps=cfg.train.steps)
        assert resumed.step == stop_at
        run.train_run(resumed)
        return whole, resumed

    return train
