import os
import pickle

import pytest
import torch

from gankit.errors import CheckpointError
from gankit.train.checkpoint import load_checkpoint, load_module_state, save_checkpoint


def test_round_trip(tmp_path):
    state = {"step": 7, "w": torch.arange(5.0), "nested": {"rng": torch.get_rng_state()},
             "config": "[train]\nk = 1\n"}
    save_checkpoint(tmp_path / "c.pt", state)
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["step"] == 7 and torch.equal(back["w"], state["w"])
    assert torch.equal(back["nested"]["rng"], state["nested"]["rng"])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_missing(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated(tmp_path):
    save_checkpoint(tmp_path / "c.pt", {"w": torch.randn(1000)})
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt, truncated"):
        load_checkpoint(tmp_path / "c.pt")


def test_garbage_and_foreign_files(tmp_path):
    (tmp_path / "g.pt").write_bytes(os.urandom(300))
    with pytest.raises(CheckpointError, match="corrupt, truncated"):
        load_checkpoint(tmp_path / "g.pt")
    torch.save({"model": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a gankit checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/gankit-pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_refuses_to_unpickle_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "gankit-checkpoint", "version": 1, "x": Evil()}, f)
    marker = "/tmp/gankit-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not os.path.exists(marker)


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_state_of_another_architecture(tmp_path):
    with pytest.raises(CheckpointError, match="different architecture"):
        load_module_state(torch.nn.Linear(3, 2), torch.nn.Linear(4, 2).state_dict(),
                          "generator", tmp_path / "c.pt")
