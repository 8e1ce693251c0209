import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "tasks"))  # _tiny.py
sys.path.insert(0, str(Path(__file__).parent))  # _child.py, _catalogue.py

pytest.register_assert_rewrite("_catalogue")  # its shared runners' asserts report as a test's do

warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")
