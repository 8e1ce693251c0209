"""The compiled CPU time loops give the same results, to 1e-6, whatever the thread count and
threading scheme (issue 31): the shared path (the default: every step's GEMM split across MKL's
threads), the row-block scheme (each thread its own time loop over a block of batch rows,
single-threaded GEMMs), the unit-block scheme (each thread a slice of the hidden units for every
row, one barrier per step) and one thread. Forward outputs, final states and every gradient, in training (with
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
#: (torch threads, environment, the row blocks and unit blocks the lstm / gru scans run)
SCHEMES = {
    "2 threads": (2, {}, 1, 1),  # the default: the shared path (per-step threaded GEMM)
    "4 threads": (4, {}, 1, 1),  # oversubscribed on 2 cores
    "row blocks, 2 threads": (2, {"DEEPRNN_ROW_BLOCKS": "2"}, 2, 1),
    "row blocks, 4 threads": (4, {"DEEPRNN_ROW_BLOCKS": "4"}, 4, 1),
    "3 row blocks on 1 thread": (1, {"DEEPRNN_ROW_BLOCKS": "3"}, 3, 1),  # one after the other
    "unit blocks, 2 threads": (2, {"DEEPRNN_UNIT_BLOCKS": "2"}, 1, 2),
    "unit blocks, 4 threads": (4, {"DEEPRNN_UNIT_BLOCKS": "4"}, 1, 4),  # 4 spinning on 2 cores
    "3 unit blocks on 1 thread": (1, {"DEEPRNN_UNIT_BLOCKS": "3"}, 1, 3),  # the barrier's count
}
ENV = ("DEEPRNN_ROW_BLOCKS", "DEEPRNN_UNIT_BLOCKS")
TOL = {torch.float64: 1e-12, torch.float32: 1e-6}


@pytest.fixture(scope="module", autouse=True)
def built():
    require_compiled()


@contextlib.contextmanager
def threading(threads: int, env: dict[str, str]):
    """torch's thread count and the scheme's environment for the block, restored afterwards."""
    before, saved = torch.get_num_threads(), {k: os.environ.get(k) for k in ENV}
    torch.set_num_threads(threads)
    for k in ENV:
        os.environ.pop(k, None)
    os.environ.update(env)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
    with threading(1, {}):  # the reference: one thread, one block
        assert compiled.row_blocks(N) == 1 and compiled.unit_blocks(N, H) == 1
        want = _train(layer, x, mask), _infer(layer, x, mask)
    threads, env, blocks, units = SCHEMES[scheme]
    with threading(threads, env):
        assert compiled.row_blocks(N) == blocks
        assert compiled.unit_blocks(N, H) == units
        got = _train(layer, x, mask), _infer(layer, x, mask)
    tol = TOL[dtype]
    for what, gots, wants in zip(("training", "inference"), got, want, strict=True):
        assert len(gots) == len(wants)
        for i, (a, b) in enumerate(zip(gots, wants, strict=True)):
            scale = max(1.0, float(b.detach().abs().max()))
            torch.testing.assert_close(
                a, b, rtol=tol, atol=tol * scale, msg=lambda m, w=what, i=i: f"{w} tensor {i}: {m}"
            )


def test_scheme_choice():
    """The scheme's choice (row_blocks / unit_blocks in csrc/common.h): the shared path (one
    block) at any thread count unless asked; DEEPRNN_ROW_BLOCKS=k gives k row blocks (at most
    one per row, k <= 0 the shared path), DEEPRNN_UNIT_BLOCKS=k k unit blocks (at most H / 8)."""
    cases = [(1, {}, 64, 1, 1), (2, {}, 64, 1, 1), (8, {}, 512, 1, 1)]
    cases += [
        (2, {"DEEPRNN_ROW_BLOCKS": "0"}, 64, 1, 1),
        (1, {"DEEPRNN_ROW_BLOCKS": "5"}, 64, 5, 1),
    ]
    cases += [
        (2, {"DEEPRNN_ROW_BLOCKS": "5"}, 3, 3, 1),
        (2, {"DEEPRNN_UNIT_BLOCKS": "2"}, 64, 1, 2),
    ]
    cases += [
        (2, {"DEEPRNN_UNIT_BLOCKS": "9"}, 64, 1, 5),
        (2, {"DEEPRNN_UNIT_BLOCKS": "-1"}, 64, 1, 1),
    ]
    for threads, env, rows, blocks, units in cases:
        with threading(threads, env):
            assert compiled.row_blocks(rows) == blocks, (threads, env, rows)
            assert compiled.unit_blocks(rows, H) == units, (threads, env, rows)
