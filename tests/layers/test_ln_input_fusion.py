"""The layer-norm LSTM / GRU training scans normalise the input projection inside the compiled
loop (issue 31): :math:`\\mathrm{LN}_{ih}(W_{ih} x_t)` in the per-step pass, its backward and
its gain / shift gradients too (``deeprnn.kernels.compiled.fused_input_norm``). The fused path
equals the unfused one (``DEEPRNN_FUSE_LN_INPUT=0``: LN_ih by ``F.layer_norm`` over the whole
(T, N, G) projection, autograd for its backward) in every output and gradient, float64 to 1e-10
and float32 to 1e-5 of scale, with masks, zoneout, recurrent dropout, both directions and stacks;
it is thread-count invariant (1e-6, as tests/layers/test_thread_invariance.py); the Python loop
takes the same raw-projection scans; a cell with its own input projection is not fused."""

from __future__ import annotations

import contextlib
import copy
import os

import pytest
import torch

import deeprnn
from _kernel_checks import require_compiled
from deeprnn.cells import LayerNormLSTMCell
from deeprnn.kernels import compiled
from deeprnn.kernels._pointwise import split_ln_input

pytestmark = pytest.mark.skipif(
    compiled.compiler() is None, reason="no C++ compiler (c++ / $CXX): nothing to build with"
)

N, T, I, H = 10, 7, 5, 19  # H past one SIMD width (vector body and tail)
MAKERS = {
    "ln_lstm_rd_zo": lambda: deeprnn.LSTM(
        I, H, layer_norm=True, recurrent_dropout=0.3, zoneout=0.2
    ),
    "ln_lstm_2_back": lambda: deeprnn.LSTM(I, H, 2, layer_norm=True, go_backwards=True),
    "ln_bigru_zo_rd": lambda: deeprnn.GRU(
        I, H, 2, layer_norm=True, bidirectional=True, zoneout=0.2, recurrent_dropout=0.2
    ),
    "ln_gru": lambda: deeprnn.GRU(I, H, layer_norm=True),
}
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


@pytest.fixture(scope="module", autouse=True)
def built():
    require_compiled()


@contextlib.contextmanager
def env(**values):
    """Environment variables for the block (None: unset), restored afterwards."""
    before = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _train(layer, x, mask, fused: bool) -> list[torch.Tensor]:
    """Outputs, final states and the gradients of the input and every parameter."""
    layer.train()
    x = x.clone().requires_grad_(True)
    before = dict(compiled.calls)
    with env(DEEPRNN_FUSE_LN_INPUT=None if fused else "0"):
        torch.manual_seed(7)  # the same recurrent-dropout and zoneout masks in every run
        out, states = layer(x, mask=mask)
        loss = (out * torch.linspace(-1, 2, out.shape[-1], dtype=x.dtype)).square().sum()
        loss = loss + sum((t * t.detach().sign()).sum() for s in states for t in s)
        grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    assert compiled.calls["backward"] > before["backward"], "the compiled backward did not run"
    ran = compiled.calls["ln_input"] - before["ln_input"]
    assert (ran > 0) == fused, f"LN_ih inside the loop ran {ran} times, expected {fused=}"
    return [out, *[t for s in states for t in s], *grads]


def _close(got, want, tol, what):
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        scale = max(1.0, float(b.detach().abs().max()))
        torch.testing.assert_close(
            a, b, rtol=tol, atol=tol * scale, msg=lambda m, i=i: f"{what}, tensor {i}: {m}"
        )


def _data(dtype):
    x = torch.randn(N, T, I, dtype=dtype) * 3 + 1  # rows with a mean and a spread to normalise
    mask = torch.rand(N, T) > 0.2  # holes
    mask[:2, 4:] = False  # short rows
    mask[2] = False  # and a zero-length row
    return x, mask


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("name", list(MAKERS))
def test_fused_equals_unfused(name, masked, dtype):
    """Every output and gradient (input, W_ih, W_hh, all LN gains and shifts) of the fused
    training path equals the unfused path's."""
    torch.manual_seed(0)
    layer = MAKERS[name]().to(dtype)
    x, mask = _data(dtype)
    mask = mask if masked else None
    _close(_train(layer, x, mask, True), _train(layer, x, mask, False), TOL[dtype], name)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", ["ln_lstm_rd_zo", "ln_bigru_zo_rd"])
def test_fused_is_thread_count_invariant(name, dtype):
    """1 thread vs 2 threads on the shared path (the default), 2 row blocks on 2 threads, 3 on
    one thread (gain / shift sums per block): 1e-6 (1e-12 f64)."""
    torch.manual_seed(0)
    layer = MAKERS[name]().to(dtype)
    x, mask = torch.randn(50, T, I, dtype=dtype), torch.rand(50, T) > 0.2  # uneven blocks
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with env(DEEPRNN_ROW_BLOCKS=None):
            want = _train(layer, x, mask, True)
        tol = 1e-12 if dtype == torch.float64 else 1e-6
        for threads, blocks in ((2, None), (1, "3"), (2, "2")):
            torch.set_num_threads(threads)
            with env(DEEPRNN_ROW_BLOCKS=blocks):
                _close(_train(layer, x, mask, True), want, tol, f"{threads=} {blocks=}")
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("kind", ["ln_lstm", "ln_gru"])
def test_raw_projection_scan_same_in_python_loop(kind):
    """deeprnn::fused_scan with raw projections and pw ending with (g_ih, b_ih): the compiled
    loop and the Python loop (which normalises the whole projection first and runs LN_ih's
    backward with aten) give the same outputs and gradients, and equal the scan of the
    projections normalised beforehand."""
    torch.manual_seed(0)
    dt, n, t, h = torch.float64, 4, 5, 9
    G = (4 if kind == "ln_lstm" else 3) * h
    n_pw = 4 if kind == "ln_lstm" else 2
    xr = torch.randn(t, n, G, dtype=dt) * 2 + 0.5
    w = torch.randn(G, h, dtype=dt) / 3
    widths = [*[G, G, h, h][:n_pw], G, G]
    pw = [torch.randn(k, dtype=dt) for k in widths]
    h0 = torch.randn(n, h, dtype=dt)
    c0 = torch.randn(n, h, dtype=dt) if kind == "ln_lstm" else None
    mask = torch.rand(t, n) > 0.3
    leaves = [xr, w, h0, *pw] + ([c0] if c0 is not None else [])
    d_out = torch.randn(t, n, h, dtype=dt)

    def run(raw: bool, python: bool):
        ps = [p.clone().requires_grad_(True) for p in leaves]
        x_, w_, h0_, *rest = ps
        pw_ = rest[: n_pw + 2]
        c0_ = rest[n_pw + 2] if c0 is not None else None
        if raw:
            xp, pws = x_, pw_
        else:
            xp = torch.nn.functional.layer_norm(x_, (G,), pw_[-2], pw_[-1], 1e-5)
            pws = pw_[:n_pw]
        with compiled.disabled() if python else contextlib.nullcontext():
            out, sh, sc, _ = torch.ops.deeprnn.fused_scan(
                xp, w_, None, None, mask, None, None, h0_, c0_, pws, kind, "tanh", 0.0, True,
                False, True,
            )  # fmt: skip
            loss = (out * d_out).sum() + sh[-1].square().sum()
            if c0 is not None:
                loss = loss + sc[-1].sum()
            grads = torch.autograd.grad(loss, ps)
        return [out, sh, *grads]

    want = run(raw=False, python=True)
    for raw, python in ((True, False), (True, True), (False, False)):
        _close(run(raw, python), want, 1e-10, f"{kind} {raw=} {python=}")


def test_own_input_projection_is_not_fused():
    """A cell class with its own project_input keeps it: the scan gets its projections."""

    class Scaled(LayerNormLSTMCell):
        def project_input(self, x):
            return 2 * super().project_input(x)

    cell = Scaled(I, H)
    x = torch.randn(3, T, I)
    assert compiled.fused_input_norm(cell, x) == []
    assert compiled.fused_input_norm(LayerNormLSTMCell(I, H), x) != []
    assert compiled.fused_input_norm(LayerNormLSTMCell(I, H, bias=False), x) == []
    with env(DEEPRNN_FUSE_LN_INPUT="0"):
        assert compiled.fused_input_norm(LayerNormLSTMCell(I, H), x) == []


def test_wrong_number_of_ln_parameters():
    with pytest.raises(ValueError, match="ln_gru scan takes 2 or 4 layer-norm parameters, got 3"):
        split_ln_input("ln_gru", [torch.ones(3)] * 3)


@pytest.mark.parametrize("cls", ["LayerNormLSTMCell", "LayerNormGRUCell"])
def test_a_cell_with_another_layer_norm_eps_is_not_given_to_the_fused_kernels(cls):
    """The hand-written kernels normalise with eps 1e-5: a subclass with another eps runs on
    autograd through its own step (which reads self.eps), in training and in eval; it ran the
    compiled kernels with 1e-5 before, silently."""
    import deeprnn.cells as cells
    from deeprnn.kernels import explain
    from deeprnn.layers import Recurrent

    wide = type("WideEps", (getattr(cells, cls),), {"eps": 0.5})
    torch.manual_seed(0)
    layer = Recurrent(wide(3, 4), return_state=False).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    loop = copy.deepcopy(layer)
    loop.impl = "loop"
    for training in (True, False):
        layer.train(training)
        assert explain(layer, x)[""].kernel == "autograd"
        torch.testing.assert_close(layer(x), loop.train(training)(x))
    assert getattr(cells, cls)(3, 4).fused_kind is not None  # the default eps is fused
