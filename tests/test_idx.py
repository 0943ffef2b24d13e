"""IDX reader: round trips, and a clear DataError naming the file for every corrupt-file case."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from gankit.data.idx import parse_idx, read_idx, read_images_labels, write_idx
from gankit.errors import DataError


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_round_trip(tmp_path, suffix, dtype):
    arr = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    if dtype == "uint8":
        arr = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = write_idx(tmp_path / f"a.idx{suffix}", arr)
    back = read_idx(path)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


def test_raw_file_is_mnist_layout(tmp_path):
    arr = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    raw = write_idx(tmp_path / "x", arr).read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 3])
    assert raw[4:16] == bytes([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
    assert raw[16:] == bytes(range(6))


def _pair(tmp_path, n_img=4, n_lab=4, side=28, top_label=9):
    rng = np.random.default_rng(0)
    img = write_idx(tmp_path / "img.gz", rng.integers(0, 256, (n_img, side, side), np.uint8))
    lab = np.full(n_lab, top_label, np.uint8)
    return img, write_idx(tmp_path / "lab.gz", lab)


def test_images_and_labels(tmp_path):
    x, y = read_images_labels(*_pair(tmp_path))
    assert x.shape == (4, 28, 28) and y.shape == (4,)


def _bytes_file(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _good():
    return write_idx_bytes(np.zeros((2, 28, 28), np.uint8))


def write_idx_bytes(arr):
    return bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes() + arr.tobytes()


@pytest.mark.parametrize("name, data, words", [
    ("bad.gz", b"\x1f\x8bnot really gzip", "gzip"),
    ("magic.idx", b"\x12\x34\x08\x03" + bytes(12), "not an IDX file"),
    ("type.idx", b"\x00\x00\x07\x01" + bytes(4), "not an IDX file"),
    ("short.idx", b"\x00\x00", "too short"),
    ("header.idx", b"\x00\x00\x08\x03\x00\x00", "cut short"),
    ("rank0.idx", b"\x00\x00\x08\x00", "cut short"),
])
def test_corrupt_headers(tmp_path, name, data, words):
    path = _bytes_file(tmp_path, name, data)
    with pytest.raises(DataError, match=words) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_truncated_values(tmp_path):
    path = _bytes_file(tmp_path, "t.idx", _good()[:-10])
    with pytest.raises(DataError, match="truncated") as err:
        read_idx(path)
    assert "t.idx" in str(err.value)


def test_trailing_bytes(tmp_path):
    path = _bytes_file(tmp_path, "t.idx", _good() + b"xyz")
    with pytest.raises(DataError, match="3 unexpected bytes"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(_good())
    path = _bytes_file(tmp_path, "cut.gz", data[: len(data) // 2])
    with pytest.raises(DataError, match="gzip") as err:
        read_idx(path)
    assert "cut.gz" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nope.gz")


def test_wrong_rank_and_shape(tmp_path):
    path = write_idx(tmp_path / "img", np.zeros((2, 27, 27), np.uint8))
    with pytest.raises(DataError, match="rank 3"):
        read_idx(path, ndim=1)
    with pytest.raises(DataError, match=r"expected any×28×28"):
        read_idx(path, shape=(None, 28, 28))


def test_mismatched_counts(tmp_path):
    with pytest.raises(DataError, match="4 images but .* 5 labels"):
        read_images_labels(*_pair(tmp_path, n_lab=5))


def test_label_out_of_range(tmp_path):
    with pytest.raises(DataError, match="label 12"):
        read_images_labels(*_pair(tmp_path, top_label=12))


def test_wrong_value_type(tmp_path):
    img = write_idx(tmp_path / "img", np.zeros((2, 28, 28), np.float32))
    lab = write_idx(tmp_path / "lab", np.zeros(2, np.uint8))
    with pytest.raises(DataError, match="unsigned-byte"):
        read_images_labels(img, lab)


def test_parse_idx_names_source():
    with pytest.raises(DataError, match="my-source"):
        parse_idx(b"junkjunk", "my-source")
