"""The compiled CPU time loops give the same results, to 1e-6, whatever the thread count and
threading scheme (issue 31): the row-block scheme (each thread its own time loop over a block of
batch rows, single-threaded GEMMs), the shared path (every step's GEMM and pass split across
threads) and one thread. Forward outputs, final states and every gradient, in training (with
recurrent-dropout masks, zoneout keep-masks and time masks) and in inference, for lstm, gru,
ln_lstm and ln_gru, at 1, 2 and 4 threads (4 oversubscribes a 2-core machine: nothing in the
scheme assumes the core count)."""

from __future__ import annotations

import contextlib
import os

import pytest
import torch

import deeprnn
from _kernel_checks import require_compiled
from deeprnn.kernels import compiled

pytestmark = pytest.mark.skipif(
    compiled.compiler() is None, reason="no C++ compiler (c++ / $CXX): nothing to build with"
)

N, T, I, H = 50, 7, 5, 40  # 50 rows: uneven blocks (12, 13 rows at 4 threads); H past a SIMD width
MAKERS = {
    "lstm": lambda: deeprnn.LSTM(I, H, 2, recurrent_dropout=0.3, zoneout=0.2),
    "gru": lambda: deeprnn.GRU(I, H, zoneout=0.2, recurrent_dropout=0.2, go_backwards=True),
    "ln_lstm": lambda: deeprnn.LSTM(I, H, layer_norm=True, recurrent_dropout=0.2, zoneout=0.3),
    "ln_gru": lambda: deeprnn.GRU(I, H, 2, layer_norm=True, bidirectional=True, zoneout=0.2),
}
#: (torch threads, DEEPRNN_ROW_BLOCKS or None for the automatic choice, the row blocks it runs)
SCHEMES = {
    "2 threads": (2, None, 2),
    "4 threads": (4, None, 4),  # oversubscribed on 2 cores
    "3 blocks on 1 thread": (1, "3", 3),  # the block code path, blocks one after the other
    "shared path, 2 threads": (2, "0", 1),  # per-step threaded GEMM and pass
}
TOL = {torch.float64: 1e-12, torch.float32: 1e-6}


@pytest.fixture(scope="module", autouse=True)
def built():
    require_compiled()


@contextlib.contextmanager
def threading(threads: int, blocks: str | None):
    """torch's thread count and DEEPRNN_ROW_BLOCKS for the block, both restored afterwards."""
    before, env = torch.get_num_threads(), os.environ.get("DEEPRNN_ROW_BLOCKS")
    torch.set_num_threads(threads)
    if blocks is None:
        os.environ.pop("DEEPRNN_ROW_BLOCKS", None)
    else:
        os.environ["DEEPRNN_ROW_BLOCKS"] = blocks
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if env is None:
            os.environ.pop("DEEPRNN_ROW_BLOCKS", None)
        else:
            os.environ["DEEPRNN_ROW_BLOCKS"] = env


def _train(layer, x, mask) -> list[torch.Tensor]:
    layer.train()
    x = x.clone().requires_grad_(True)
    torch.manual_seed(7)  # the same recurrent-dropout and zoneout masks in every run
    before = compiled.calls["backward"]
    out, states = layer(x, mask=mask)
    loss = out.square().sum() + sum(t.sum() for s in states for t in s)
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    assert compiled.calls["backward"] > before, "the compiled backward did not run"
    return [out, *[t for s in states for t in s], *grads]


def _infer(layer, x, mask) -> list[torch.Tensor]:
    layer.eval()
    before = compiled.calls["infer"]
    with torch.no_grad():
        out, states = layer(x, mask=mask)
    assert compiled.calls["infer"] > before, "the compiled inference loop did not run"
    return [out, *[t for s in states for t in s]]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("scheme", list(SCHEMES))
@pytest.mark.parametrize("kind", list(MAKERS))
def test_same_results_at_any_thread_count(kind, scheme, dtype):
    """Every output, final state and gradient of a scheme against one thread, one block."""
    torch.manual_seed(0)
    layer = MAKERS[kind]().to(dtype)
    x = torch.randn(N, T, I, dtype=dtype)
    mask = torch.rand(N, T) > 0.2  # holes
    mask[:5, 3:] = False  # and short rows
    with threading(1, None):  # the reference: one thread, one block
        assert compiled.row_blocks(N) == 1
        want = _train(layer, x, mask), _infer(layer, x, mask)
    threads, env, blocks = SCHEMES[scheme]
    with threading(threads, env):
        assert compiled.row_blocks(N) == blocks
        got = _train(layer, x, mask), _infer(layer, x, mask)
    tol = TOL[dtype]
    for what, gots, wants in zip(("training", "inference"), got, want, strict=True):
        assert len(gots) == len(wants)
        for i, (a, b) in enumerate(zip(gots, wants, strict=True)):
            scale = max(1.0, float(b.detach().abs().max()))
            torch.testing.assert_close(
                a, b, rtol=tol, atol=tol * scale, msg=lambda m, w=what, i=i: f"{w} tensor {i}: {m}"
            )


def test_row_blocks_follow_threads_and_rows():
    """The scheme's one choice (row_blocks in csrc/common.h): one block per thread while each
    gets at least 8 rows, one block (the shared path) at one thread; DEEPRNN_ROW_BLOCKS
    overrides (0: the shared path; k: k blocks, at most one per row)."""
    cases = [(1, None, 64, 1), (2, None, 64, 2), (2, None, 15, 1), (2, None, 16, 2)]
    cases += [(4, None, 64, 4), (4, None, 24, 3), (8, None, 64, 8), (2, "0", 64, 1)]
    cases += [(1, "5", 64, 5), (2, "5", 3, 3)]
    for threads, env, rows, blocks in cases:
        with threading(threads, env):
            assert compiled.row_blocks(rows) == blocks, (threads, env, rows)
