import contextlib
import io
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "tasks"))  # _tiny.py
sys.path.insert(0, str(Path(__file__).parent))  # _child.py, _catalogue.py

pytest.register_assert_rewrite("_catalogue")  # its shared runners' asserts report as a test's do

warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """A tiny trained classify run (cfg.yaml, data/, run/: config.yaml, checkpoints/, model/),
    shared by the command-line tables; a test that edits it edits a copy."""
    import yaml
    from _tiny import tiny_config

    from deeprnn.cli import main as cli_main

    tmp = tmp_path_factory.mktemp("cli")
    cfg = tiny_config("classify", tmp / "data", tmp / "run", max_epochs=1)
    (tmp / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli_main(["train", "-c", str(tmp / "cfg.yaml")]) == 0
    return tmp
