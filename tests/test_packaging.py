"""The wheel a user installs (``python -m build``, docs/install.md) holds every module of the
source tree and the C++ sources the compiled kernels build from, under the package's version."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_the_kernel_sources(tmp_path):
    if importlib.util.find_spec("build") is None:
        pytest.skip("the build package is not installed (it is in the dev extra)")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    from deeprnn import __version__

    (wheel,) = tmp_path.glob("deeprnn-*.whl")
    assert wheel.name.startswith(f"deeprnn-{__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    src = ROOT / "src"
    wanted = {
        p.relative_to(src).as_posix()
        for p in src.joinpath("deeprnn").rglob("*")
        if p.suffix in (".py", ".cpp", ".h") and "__pycache__" not in p.parts
    }
    missing = sorted(wanted - names)
    assert not missing, f"not in the wheel: {missing}"
