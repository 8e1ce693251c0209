"""idx files and the row-by-row / pixel views of MNIST."""

import gzip

import numpy as np
import pytest
import torch

from deeprnn.data import DataFormatError, pixel_sequences, read_idx, read_mnist, row_sequences


def write_idx(path, array, type_byte=0x08, compress=True):
    header = bytes([0, 0, type_byte, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def test_read_idx_round_trip(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    p = write_idx(tmp_path / "img-idx3-ubyte.gz", images)
    np.testing.assert_array_equal(read_idx(p), images)
    floats = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    q = write_idx(tmp_path / "f-idx2", floats, type_byte=0x0D, compress=False)
    out = read_idx(q)
    assert out.dtype == np.float32 and out.dtype.byteorder in "=|<"
    np.testing.assert_array_equal(out, floats)


def test_read_mnist_and_views(tmp_path):
    images = np.zeros((3, 28, 28), np.uint8)
    images[0, 5] = 255  # row 5 of the first image is white
    img = write_idx(tmp_path / "i.gz", images)
    lab = write_idx(tmp_path / "l.gz", np.array([7, 2, 1], np.uint8))
    d = read_mnist(img, lab)
    assert len(d) == 3 and d.labels.dtype == np.int64 and d[0][1] == 7
    rows = row_sequences(d.images)
    assert rows.shape == (3, 28, 28) and rows.dtype == torch.float32
    assert rows[0, 5].eq(1).all() and rows[0, 4].eq(0).all()  # time step 5 = image row 5
    assert row_sequences(d.images, normalize=False).max() == 255
    pix = pixel_sequences(d.images)
    assert pix.shape == (3, 784, 1) and pix[0, 5 * 28 : 6 * 28].eq(1).all()
    p1 = pixel_sequences(d.images, permute=True, seed=1)
    assert torch.equal(p1, pixel_sequences(d.images, permute=True, seed=1))
    assert not torch.equal(p1, pix) and p1.sum() == pix.sum()


def test_bad_idx_files(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05"))
    with pytest.raises(DataFormatError, match=r"bad.gz: not an idx file \(magic bytes 01020801"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + np.array([5], ">u4").tobytes() + b"\x01\x02")
    with pytest.raises(
        DataFormatError, match=r"short: header says shape \(5,\) \(13 bytes\), file has 10 bytes"
    ):
        read_idx(short)
    notgz = tmp_path / "plain.gz"
    notgz.write_bytes(b"not gzip")
    with pytest.raises(DataFormatError, match=r"plain.gz: cannot decompress"):
        read_idx(notgz)
    img = write_idx(tmp_path / "i.gz", np.zeros((3, 28, 28), np.uint8))
    lab = write_idx(tmp_path / "l.gz", np.zeros(2, np.uint8))
    with pytest.raises(DataFormatError, match=r"l.gz: 2 labels but .*i.gz holds 3 images"):
        read_mnist(img, lab)
    with pytest.raises(
        DataFormatError, match=r"expected \(N, rows, cols\) images, got shape \(2,\)"
    ):
        read_mnist(lab, lab)


@pytest.mark.data
def test_mnist_test_split(shared_data):
    root = shared_data / "mnist"
    d = read_mnist(root / "t10k-images-idx3-ubyte.gz", root / "t10k-labels-idx1-ubyte.gz")
    assert d.images.shape == (10_000, 28, 28) and d.images.dtype == np.uint8
    assert d.labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits
    assert np.bincount(d.labels).tolist()[:3] == [980, 1135, 1032]
    assert row_sequences(d.images[:8]).shape == (8, 28, 28)
    train_labels = read_idx(root / "train-labels-idx1-ubyte.gz")
    assert train_labels.shape == (60_000,)
