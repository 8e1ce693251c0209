import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # _tiny.py

warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")
