"""Shared by the kernel test files: the Triton import (or the module's skip), the interpreter
run and the compiled-kernel skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_interpreted(test_file: str) -> None:
    """Run ``test_file``'s tests in a fresh interpreter with ``TRITON_INTERPRET=1`` (Triton
    reads it when a kernel is decorated, and the interpreter patches ``triton.language`` for
    good, so it cannot run in this process) and fail with its output unless all passed."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)]
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    assert " passed" in run.stdout and " failed" not in run.stdout, run.stdout[-2000:]


def require_compiled() -> None:
    """Skip, with the reason, where the compiled CPU kernels are off or could not be built."""
    from deeprnn.kernels import compiled

    if os.environ.get("DEEPRNN_COMPILED") == "0":
        pytest.skip("DEEPRNN_COMPILED=0 turns the compiled kernels off")
    if not compiled.available():
        pytest.skip(f"compiled kernels not built: {compiled._state['error']}")


def import_triton(what: str):
    """``triton``, or skip the calling test module, saying that ``what`` is not tested (a broken
    install, ImportError, skips too, as the kernel modules treat it)."""
    try:
        import triton
    except ImportError as exc:
        pytest.skip(
            f"triton is not installed ({exc}): {what} are not tested (GPU extra)",
            allow_module_level=True,
        )
    return triton
