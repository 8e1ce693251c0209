"""MNIST in the idx format (``t10k-images-idx3-ubyte.gz`` and friends) and its sequence views.

Row-by-row MNIST feeds each 28-pixel image row as one time step (T = 28, D = 28); pixel MNIST
feeds one pixel a step (T = 784, D = 1), optionally in a fixed random order (permuted MNIST).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from deeprnn._validation import check_bool
from deeprnn.data._io import DataFormatError, existing_file

__all__ = ["MNISTData", "pixel_sequences", "read_idx", "read_mnist", "row_sequences"]

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (gzip-compressed when the name ends in ``.gz``).

    Format: two zero bytes, a type byte (0x08 unsigned byte ... 0x0E double), the number of
    dimensions, one big-endian uint32 per dimension, then the data in C order.

    Returns:
        The array, in native byte order (uint8 for MNIST).

    Raises:
        DataFormatError: bad magic number or a size that does not match the header (the
            message gives the byte offset).
    """
    path = existing_file("path", path)
    try:
        with gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataFormatError(path, None, f"cannot decompress: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataFormatError(
            path, None, f"not an idx file (magic bytes {raw[:4].hex()} at offset 0)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(path, None, f"truncated header: {len(raw)} bytes, need {header}")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise DataFormatError(
            path, None, f"header says shape {shape} ({expected} bytes), file has {len(raw)} bytes"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


@dataclass
class MNISTData:
    """MNIST images and labels; indexable as ``(image (28, 28) uint8 tensor, label)``.

    Attributes:
        images: (N, 28, 28) uint8.
        labels: (N,) int64.
        paths: the two files.
    """

    images: np.ndarray
    labels: np.ndarray
    paths: tuple[str, str] = ("", "")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return torch.from_numpy(self.images[i]), int(self.labels[i])


def read_mnist(images_path: str | os.PathLike, labels_path: str | os.PathLike) -> MNISTData:
    """Read an MNIST images file and its labels file.

    Args:
        images_path: e.g. ``t10k-images-idx3-ubyte.gz`` (N, 28, 28).
        labels_path: e.g. ``t10k-labels-idx1-ubyte.gz`` (N,).

    Raises:
        DataFormatError: a file is not idx, has the wrong rank, labels outside 0-9, or the
            two files hold different counts (naming both).
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise DataFormatError(
            images_path, None, f"expected (N, rows, cols) images, got shape {images.shape}"
        )
    if labels.ndim != 1:
        raise DataFormatError(labels_path, None, f"expected (N,) labels, got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataFormatError(
            labels_path, None, f"{len(labels)} labels but {images_path} holds {len(images)} images"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataFormatError(
            labels_path, None, f"labels must be digits 0-9, got {labels.min()}..{labels.max()}"
        )
    return MNISTData(images, labels.astype(np.int64), (str(images_path), str(labels_path)))


def row_sequences(images, normalize: bool = True) -> Tensor:
    """Row-by-row view: each image row is a time step.

    Args:
        images: (N, 28, 28) uint8 (or any (N, rows, cols)).
        normalize: scale to [0, 1] (divide by 255).

    Returns:
        (N, T=rows, D=cols) float32 tensor.
    """
    check_bool("normalize", normalize)
    x = torch.as_tensor(np.asarray(images)).float()
    if x.dim() != 3:
        raise ValueError(f"images must have shape (N, rows, cols), got {tuple(x.shape)}")
    return x / 255.0 if normalize else x


def pixel_sequences(images, permute: bool = False, seed: int = 0, normalize: bool = True) -> Tensor:
    """Pixel-by-pixel view (sequential MNIST), optionally permuted (pMNIST).

    Args:
        images: (N, rows, cols).
        permute: apply one fixed random permutation of the pixels to every image.
        seed: seed of the permutation (the same seed gives the same permutation).
        normalize: scale to [0, 1].

    Returns:
        (N, T=rows*cols, 1) float32 tensor.
    """
    x = row_sequences(images, normalize).flatten(1)  # (N, rows*cols)
    if check_bool("permute", permute):
        g = torch.Generator().manual_seed(seed)
        x = x[:, torch.randperm(x.shape[1], generator=g)]
    return x.unsqueeze(-1)  # (N, T, 1)
