import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests use tiny tensors: one intra-op thread is faster, and on a CPU shared with
    other jobs much faster (threads otherwise wait on each other at every small op)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
