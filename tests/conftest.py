import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # the test registry (_registry.py)

from hypothesis import settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _no_classical_candidates(request, monkeypatch):
    """``model.baseline: auto`` leaves AutoETS / AutoARIMA out of its candidates in tests (their
    refits take about a second a window), unless a test asks for them with the fixture
    ``classical_candidates``; the environment variable reaches the CLI runs in subprocesses."""
    if "classical_candidates" not in request.fixturenames:
        monkeypatch.setenv("DEEPRNN_CLASSICAL_MAX_WINDOWS", "0")


@pytest.fixture
def classical_candidates():
    """Lets ``model.baseline: auto`` consider the classical forecasts (see above)."""


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (../shared/data beside the project)")
    return SHARED_DATA
