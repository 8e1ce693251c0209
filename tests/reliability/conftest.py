import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tasks"))  # _tiny.py
sys.path.insert(0, str(Path(__file__).parent))  # _child.py

warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")
