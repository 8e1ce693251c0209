"""The compiled CPU time loops (deeprnn.kernels.compiled) agree with the Python fused loop and
with the readable loop: float64 to 1e-10, float32 to 1e-5 of scale, with masks (holes,
zero-length rows), in training (same seeded random masks) and in eval, bidirectional stacks,
go_backwards; torch.compile still sees one graph; without a build, one warning and the Python
loop."""

from __future__ import annotations

import contextlib
import copy
import os
import warnings

import pytest
import torch

import deeprnn
from _registry import LAYERS
from deeprnn.kernels import compiled
from deeprnn.kernels import fused as fused_mod

pytestmark = pytest.mark.skipif(
    compiled.compiler() is None, reason="no C++ compiler (c++ / $CXX): nothing to build with"
)

MASKS = {
    "none": None,
    "holes": torch.tensor(
        [[1, 0, 1, 0, 1, 0], [0, 1, 1, 0, 1, 1], [1, 1, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]]
    ).bool(),  # holes, and a zero-length row
    "post": torch.tensor(
        [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]
    ).bool(),
}
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


@pytest.fixture(scope="module", autouse=True)
def built():
    """Build (or load from the on-disk cache) once per process. With a compiler here, a build
    that fails skips these tests but fails test_compiled_build.py, which shows the error."""
    if os.environ.get("DEEPRNN_COMPILED") == "0":
        pytest.skip("DEEPRNN_COMPILED=0 turns the compiled kernels off")
    if not compiled.available():
        pytest.skip(
            f"compiled kernels not built (see test_compiled_build.py): {compiled._state['error']}"
        )


def _uses_compiled(layer) -> bool:
    from deeprnn.layers import Recurrent

    return any(
        isinstance(m, Recurrent) and m.cell.fused_kind in compiled.KINDS for m in layer.modules()
    )


def _run(layer, x, mask, seed, python=False):
    ctx = compiled.disabled() if python else contextlib.nullcontext()
    with ctx:
        torch.manual_seed(seed)
        out, states = layer(x, mask=mask)
        loss = out.square().sum() + sum(t.sum() for s in states for t in s)
        grads = torch.autograd.grad(loss, [x, *layer.parameters()], allow_unused=True)
    return [out, *[t for s in states for t in s], *[g for g in grads if g is not None]]


def _close(got, want, dtype, what):
    tol = TOL[dtype]
    for a, b in zip(got, want, strict=True):
        scale = max(1.0, float(b.detach().abs().max()))
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale, msg=what)


def _as_accurate(fast, x, mask, got, python, what):
    """float32: ``got`` (the compiled loop) is no farther from the float64 result than the
    Python loop's ``python`` is (x 4: the same order;
    the largest of two independent roundings amplified by LN's 1 / sigma varies, 1.6x seen), or within 5x the float32 tolerance of it (5e-5 of
    scale), tensor by tensor. Two float32 paths can differ by more than 1e-5 of scale where the
    problem is ill-conditioned (the small layer-norm layers, LN over H = 4 features, on about 5%
    of random draws), each about as far from the float64 result as the other: then this is the
    check that says whether the compiled loop is wrong or only rounds differently."""
    ref = _run(copy.deepcopy(fast).double(), x.detach().double().requires_grad_(True), mask, 7)
    for i, (a, p, r) in enumerate(zip(got, python, ref, strict=True)):
        err_a, err_p = (float((v.detach().double() - r.detach()).abs().max()) for v in (a, p))
        scale = max(1.0, float(r.detach().abs().max()))
        assert err_a <= max(4 * err_p, 5e-5 * scale), f"{what}, tensor {i}: {err_a=} {err_p=}"


def _compare(make, x_shape, mask, dtype):
    torch.manual_seed(0)  # the draw must not depend on which tests ran before
    loop = make(impl="loop").to(dtype)
    fast = make(impl="fused").to(dtype)
    snapshot = {k: v.clone() for k, v in loop.state_dict().items()}
    for training in (True, False):
        x = torch.randn(*x_shape, dtype=dtype, requires_grad=True)
        runs = []
        for m, python in ((fast, False), (fast, True), (loop, False)):
            m.load_state_dict(snapshot)  # the same buffers (batch-norm statistics) each run
            m.train(training)
            before = dict(compiled.calls)
            runs.append(_run(m, x, mask, seed=7, python=python))
            if m is fast and not python:
                assert compiled.calls["forward"] > before["forward"], "compiled loop not used"
                assert compiled.calls["backward"] > before["backward"], "compiled BPTT not used"
        for other, name in ((runs[1], "python"), (runs[2], "loop")):
            try:
                _close(runs[0], other, dtype, f"vs {name}, {training=}")
            except AssertionError:
                if dtype != torch.float32:
                    raise
                _as_accurate(fast, x, mask, runs[0], other, f"vs {name} vs float64, {training=}")


COMPILED_LAYERS = [c for c in LAYERS if _uses_compiled(c.make(impl="loop"))]  # lstm / gru ones


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("case", COMPILED_LAYERS, ids=[c.id for c in COMPILED_LAYERS])
def test_registry_layers_agree(case, mask_name, dtype):
    _compare(case.make, (4, 6, 3), MASKS[mask_name], dtype)


VARIANTS = {
    "lstm_rd_zo": lambda **o: deeprnn.LSTM(3, 37, recurrent_dropout=0.3, zoneout=0.2, **o),
    "lstm_back_zo_big": lambda **o: deeprnn.LSTM(3, 64, zoneout=0.6, go_backwards=True, **o),
    "bilstm_rd": lambda **o: deeprnn.LSTM(3, 19, 2, bidirectional=True, recurrent_dropout=0.2, **o),
    "gru_rd_zo": lambda **o: deeprnn.GRU(3, 37, recurrent_dropout=0.3, zoneout=0.2, **o),
    "bigru_back": lambda **o: deeprnn.GRU(3, 24, 2, bidirectional=True, zoneout=0.1, **o),
    "lstm_nobias": lambda **o: deeprnn.LSTM(3, 16, bias=False, zoneout=0.3, **o),
    "ln_lstm_rd_zo": lambda **o: deeprnn.LSTM(
        3, 37, layer_norm=True, recurrent_dropout=0.3, zoneout=0.2, **o
    ),
    "ln_lstm_back": lambda **o: deeprnn.LSTM(3, 24, 2, layer_norm=True, go_backwards=True, **o),
    "ln_bigru_zo": lambda **o: deeprnn.GRU(
        3, 19, 2, layer_norm=True, bidirectional=True, zoneout=0.3, recurrent_dropout=0.2, **o
    ),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_variants_agree(name, mask_name, dtype):
    """Hidden sizes past one SIMD width (vector body and tail), both directions, stacks."""
    _compare(VARIANTS[name], (4, 6, 3), MASKS[mask_name], dtype)


def test_inference_keeps_no_activations():
    layer = deeprnn.LSTM(3, 8, zoneout=0.2).eval()
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        out_ng, _ = layer(x)
    out, _ = layer(x)
    torch.testing.assert_close(out_ng, out, rtol=0, atol=0)
    cell = layer.blocks[0].cell if hasattr(layer, "blocks") else layer.cell
    xp = cell.project_input(x.transpose(0, 1)).detach()
    h0 = torch.zeros(2, 8)
    res = torch.ops.deeprnn.fused_scan(
        xp, cell.weight_hh.detach(), None, None, None, None, None, h0, h0.clone(), [],
        "lstm", "tanh", 0.2, False, False, False,
    )  # fmt: skip
    assert res[3].numel() == 0


def test_no_graph_breaks_and_matches_eager():
    torch._dynamo.reset()
    model = deeprnn.LSTM(8, 16, 2, recurrent_dropout=0.2, zoneout=0.1)
    lengths = torch.tensor([10, 3, 0, 7])
    x = torch.randn(4, 10, 8, requires_grad=True)
    explanation = torch._dynamo.explain(model)(x, lengths=lengths)
    assert explanation.graph_break_count == 0, [str(b.reason) for b in explanation.break_reasons]
    compiled_model = torch.compile(model, backend="aot_eager", fullgraph=True)
    results = []
    for m in (model, compiled_model):
        torch.manual_seed(0)
        out, states = m(x, lengths=lengths)
        grads = torch.autograd.grad(
            out.square().sum() + states[0].h.sum(), [x, *model.parameters()]
        )
        results.append((out, *grads))
    _close(results[1], results[0], torch.float32, "torch.compile vs eager")


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("DEEPRNN_COMPILED", "0")
    assert not compiled.supports("lstm", torch.zeros(1, 1, 4))
    monkeypatch.delenv("DEEPRNN_COMPILED")
    assert compiled.supports("lstm", torch.zeros(1, 1, 4))
    assert not compiled.supports("rnn", torch.zeros(1, 1, 4))
    assert not compiled.supports("lstm", torch.zeros(1, 1, 4, dtype=torch.float16))


def test_failed_build_warns_once_and_falls_back(monkeypatch):
    saved = dict(compiled._state)

    def fail():
        raise RuntimeError("simulated: no compiler")

    monkeypatch.setattr(compiled, "_build", fail)
    compiled._reset_for_tests()
    try:
        loop = deeprnn.GRU(3, 5, zoneout=0.2, impl="loop").double()
        fast = deeprnn.GRU(3, 5, zoneout=0.2, impl="fused").double()
        fast.load_state_dict(loop.state_dict())
        x = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
        before = dict(compiled.calls)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = _run(fast, x, None, seed=1)
            got2 = _run(fast, x, None, seed=1)
        msgs = [w for w in caught if issubclass(w.category, compiled.CompiledKernelWarning)]
        assert len(msgs) == 1 and "simulated: no compiler" in str(msgs[0].message)
        assert compiled.calls == before  # the Python loop ran
        _close(got, _run(loop, x, None, seed=1), torch.float64, "fallback vs loop")
        _close(got2, got, torch.float64, "second call")
    finally:
        compiled._state.update(saved)


def test_scan_functions_dispatch_and_match_python():
    """scan_forward / scan_backward at the Plan level: the compiled loop and the Python loop
    return the same tensors (and the same saved-activation layout)."""
    torch.manual_seed(0)
    T, N, H = 5, 3, 9
    for kind, G in (("lstm", 4), ("gru", 3)):
        plan = fused_mod.Plan(kind, "tanh", 0.25, True, True)
        xp = torch.randn(T, N, G * H, dtype=torch.float64)
        w = torch.randn(G * H, H, dtype=torch.float64)
        b = torch.randn(G * H, dtype=torch.float64) if kind == "gru" else None
        rm = (torch.rand(N, H) > 0.3).double() / 0.7
        mask = torch.rand(T, N) > 0.3
        keeps = [torch.rand(T, N, H) < 0.25 for _ in range(2 if kind == "lstm" else 1)]
        kh, kc = (*keeps, None)[:2]
        h0 = torch.randn(N, H, dtype=torch.float64)
        c0 = torch.randn(N, H, dtype=torch.float64) if kind == "lstm" else None
        inputs = fused_mod.ScanInputs(xp, w, b, rm, mask, kh, kc)
        fwd_c = fused_mod.scan_forward(plan, inputs, h0, c0)
        with compiled.disabled():
            fwd_p = fused_mod.scan_forward(plan, inputs, h0, c0)
        _close([fwd_c[0], *fwd_c[1], fwd_c[2]], [fwd_p[0], *fwd_p[1], fwd_p[2]], xp.dtype, kind)
        d_out = torch.randn(T, N, H, dtype=torch.float64)
        d_hT = torch.randn(N, H, dtype=torch.float64)
        d_cT = torch.randn(N, H, dtype=torch.float64) if kind == "lstm" else None
        grads = fused_mod.ScanGrads(d_out, d_hT, d_cT)
        bwd_c = fused_mod.scan_backward(plan, inputs, grads, fwd_c[1], fwd_c[2])
        with compiled.disabled():
            bwd_p = fused_mod.scan_backward(plan, inputs, grads, fwd_p[1], fwd_p[2])
        for a, c in zip(bwd_c[:5], bwd_p[:5], strict=True):
            assert (a is None) == (c is None)
            if a is not None:
                _close([a], [c], xp.dtype, f"{kind} backward")


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(
    "make",
    [
        lambda **o: deeprnn.LSTM(3, 64, recurrent_dropout=0.3, zoneout=0.2, **o),
        lambda **o: deeprnn.GRU(3, 64, zoneout=0.2, go_backwards=True, **o),
        lambda **o: deeprnn.LSTM(3, 64, layer_norm=True, recurrent_dropout=0.2, **o),
        lambda **o: deeprnn.GRU(3, 64, layer_norm=True, zoneout=0.3, **o),
    ],
    ids=["lstm", "gru", "ln_lstm", "ln_gru"],
)
@pytest.mark.parametrize(
    "scheme",
    [{}, {"DEEPRNN_ROW_BLOCKS": "2"}, {"DEEPRNN_UNIT_BLOCKS": "2"}],
    ids=["shared_path", "row_blocks", "unit_blocks"],
)
def test_rows_split_over_threads_agree(two_threads, monkeypatch, make, dtype, scheme):
    """400 rows at 2 threads: the shared path (the default; past over_rows' grain, 65536 / gate
    width rows, each step's pass on several threads), two row blocks each with its own time
    loop, or two unit blocks (lstm / gru; the layer-norm kinds keep the shared path): the same
    results as the readable loop, with masks."""
    for name in ("DEEPRNN_ROW_BLOCKS", "DEEPRNN_UNIT_BLOCKS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in scheme.items():
        monkeypatch.setenv(name, value)
    mask = torch.rand(400, 3) > 0.2
    _compare(make, (400, 3, 3), mask, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_aten_gemm_fallback_agrees(monkeypatch, dtype):
    """DEEPRNN_COMPILED_BLAS=0: the per-step GEMM through at::mm_out, as on a torch without
    MKL (no packed weights, no raw BLAS)."""
    monkeypatch.setenv("DEEPRNN_COMPILED_BLAS", "0")
    _compare(VARIANTS["lstm_rd_zo"], (4, 6, 3), MASKS["holes"], dtype)
    _compare(VARIANTS["ln_bigru_zo"], (4, 6, 3), MASKS["holes"], dtype)


def test_saturated_gates_give_no_denormals_and_leave_the_fp_mode_alone():
    """Gates past sigmoid's float range (sigmoid(-95) = 5e-42, a denormal) are flushed to zero
    inside the scan, where denormal arithmetic would slow every later step; the caller's
    floating-point mode is restored afterwards."""
    layer = deeprnn.LSTM(3, 8, zoneout=0.1)
    with torch.no_grad():
        layer.blocks[0].cell.bias.fill_(-95.0)
    x = torch.randn(2, 5, 3, requires_grad=True)
    out, states = layer(x)
    out.sum().backward()
    tiny = torch.finfo(torch.float32).tiny
    for t in (out, *states[0], x.grad):
        assert not ((t != 0) & (t.abs() < tiny)).any()
    with compiled.disabled():
        want, _ = layer(x)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-30)
    assert (torch.tensor([1e-38]) * 0.5).item() > 0  # no flush-to-zero leaked to this thread


def _infer(layer, x, mask, python=False):
    with torch.no_grad(), compiled.disabled() if python else contextlib.nullcontext():
        out, states = layer(x, mask=mask)
    return [out, *[t for s in states for t in s]]


def _compare_inference(make, x_shape, mask, dtype):
    fast = make(impl="fused").to(dtype).eval()
    loop = make(impl="loop").to(dtype).eval()
    loop.load_state_dict(fast.state_dict())
    x = torch.randn(*x_shape, dtype=dtype)
    before = compiled.calls["infer"]
    got = _infer(fast, x, mask)
    cells = [m.cell for m in fast.modules() if hasattr(m, "cell")]
    if any(c.fused_kind in compiled.KINDS for c in cells):  # LSTM / GRU and their LN cells
        assert compiled.calls["infer"] > before, "the compiled inference path was not taken"
    _close(got, _infer(fast, x, mask, python=True), dtype, "inference vs python")
    _close(got, _infer(loop, x, mask), dtype, "inference vs loop")


INFER_CASES = {c.id: c.make for c in COMPILED_LAYERS} | VARIANTS


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("name", list(INFER_CASES))
def test_inference_path_agrees(name, mask_name, dtype):
    """No gradient to follow: LSTM / GRU layers and their layer-norm kinds run compiled.infer
    (the input projection, and LN_ih, inside the loop, ping-pong states); the same outputs and
    final states as the Python loop."""
    _compare_inference(INFER_CASES[name], (4, 6, 3), MASKS[mask_name], dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("backwards", [False, True], ids=["fwd", "back"])
@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "ln"])
def test_inference_projects_in_step_blocks(two_threads, layer_norm, backwards, dtype):
    """400 rows x 4H=256: the input projection runs 10 steps at a time (blocks 10, 10, 5 of
    T=25, in processing order) and each step's pass is split over two threads."""
    mask = torch.rand(400, 25) > 0.1

    def make(**o):
        return deeprnn.LSTM(3, 64, zoneout=0.2, go_backwards=backwards, layer_norm=layer_norm, **o)

    _compare_inference(make, (400, 25, 3), mask, dtype)


def test_inference_under_torch_compile_stays_one_graph():
    """torch.compile of an eval-mode model without gradients traces the custom op, not the
    extension's inference call (which would break the graph)."""
    torch._dynamo.reset()
    model = deeprnn.LSTM(8, 16, 2, zoneout=0.1, layer_norm=True).eval()
    x = torch.randn(4, 10, 8)
    with torch.no_grad():
        explanation = torch._dynamo.explain(model)(x)
        assert explanation.graph_break_count == 0, [
            str(b.reason) for b in explanation.break_reasons
        ]
        want = model(x)[0]
        got = torch.compile(model, backend="aot_eager", fullgraph=True)(x)[0]
    _close([got], [want], torch.float32, "compiled eval vs eager")
