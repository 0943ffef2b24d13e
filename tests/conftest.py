import pytest
import torch

# Tests run two at a time (pytest -n 2) on two cores: one torch thread each.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def no_automatic_compile(monkeypatch):
    """torch.compile is automatic on CPU for long conv-net runs, and compiling costs 30-60 s per
    trainer on 2 cores: off here, where tests build trainers from full-length presets and take a
    few steps. test_fastpath.py tests the automatic choice; train.compile=true still compiles."""
    from gankit.train import fastpath

    monkeypatch.setattr(fastpath, "CPU_COMPILE_MIN_STEPS", 2**62)


@pytest.fixture
def tiny_overrides() -> list[str]:
    """A toy run small enough for a unit test (a second or two)."""
    return ["train.steps=60", "train.log_every=20", "train.ckpt_every=20",
            "train.frame_every=30", "model.g_width=32", "model.d_width=32",
            "data.n_train=2000", "train.batch_size=64", "eval.n_samples=300"]
