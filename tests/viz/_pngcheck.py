"""PNG checks shared by the viz tests."""

from pathlib import Path

import numpy as np


def check_png(path, min_bytes: int = 3000) -> np.ndarray:
    """Assert ``path`` is a PNG of some size whose pixels are not all one colour."""
    from matplotlib.image import imread

    path = Path(path)
    assert path.is_file(), path
    assert path.stat().st_size > min_bytes, (path, path.stat().st_size)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)  # (H, W, 3|4) floats in [0, 1]
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50, img.shape
    rgb = img[..., :3].reshape(-1, 3)
    assert rgb.std(0).max() > 0.05, "the image is blank"
    assert len(np.unique((rgb * 255).round(), axis=0)) > 8, "the image has almost no colours"
    return img
