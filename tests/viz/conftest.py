import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "tasks"))  # _tiny.py
sys.path.insert(0, str(Path(__file__).parent))  # _pngcheck.py


@pytest.fixture
def png(tmp_path):
    """A fresh PNG path under tmp_path: ``png("name")``."""
    return lambda name: tmp_path / f"{name}.png"
