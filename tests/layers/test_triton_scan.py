"""The Triton scans of minGRU / minLSTM / LRU (:mod:`deeprnn.kernels.triton_scan`) held to the
readable loop (``impl="loop"``) and the associative scan in torch (``impl="parallel"``).

As in ``test_triton_kernels.py``: the checks (``check_*``) run on CPU under the Triton
interpreter in a subprocess started with ``TRITON_INTERPRET=1`` (:func:`test_interpreter_checks`;
the interpreter patches ``triton.language`` for good), in a session started with
``TRITON_INTERPRET=1``, and in-process on CUDA with the compiled kernels where a GPU is present.
Without a GPU the kernels are also compiled ahead of time for sm_90
(:func:`test_kernels_compile_for_the_gpu`), which catches what the interpreter lets through.
Sizes are small (N = 3, T = 17, H = 5): the interpreter is slow.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from torch.func import functional_call

from _kernel_checks import import_triton, run_interpreted

triton = import_triton("the Triton scans")

import deeprnn  # noqa: E402 (after the skip)
from deeprnn.kernels import compiled, explain, triton_scan  # noqa: E402

INTERPRETED = triton_scan.INTERPRET
DEVICE = "cpu" if INTERPRETED else "cuda"
RUN_CHECKS = INTERPRETED or torch.cuda.is_available()
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
N, T, I, H = 3, 17, 2, 5

LAYERS = {
    "mingru": lambda **o: deeprnn.MinGRU(I, H, **o),
    "minlstm": lambda **o: deeprnn.MinLSTM(I, H, **o),
    "lru": lambda **o: deeprnn.LRU(I, H, r_min=0.5, **o),
    "mingru_identity_back": lambda **o: deeprnn.MinGRU(
        I, H, candidate="identity", go_backwards=True, **o
    ),
    "minlstm_back": lambda **o: deeprnn.MinLSTM(I, H, go_backwards=True, **o),
    "lru_back": lambda **o: deeprnn.LRU(I, H, r_min=0.5, go_backwards=True, **o),
}


def test_import_and_availability():
    cpu = torch.zeros(1)
    assert triton_scan.available(cpu) == INTERPRETED  # compiled: CUDA only
    assert not triton_scan.available(cpu.to(torch.int64))
    want = None if INTERPRETED else "cpu tensors (the Triton scans run on CUDA)"
    assert triton_scan.unsupported_reason(deeprnn.MinGRUCell(2, 3), cpu) == want
    if not INTERPRETED:  # CPU dispatch is as before: compiled scan, else the torch scan
        with compiled.disabled():
            choice = explain(deeprnn.MinGRU(2, 3), torch.randn(2, 4, 2))["blocks.0"]
        assert choice.kernel == "parallel_scan" and "no compiled scan" in choice.reason


def test_interpreter_checks():
    """Run this file's ``check_*`` under ``TRITON_INTERPRET=1`` in a fresh interpreter."""
    if INTERPRETED:
        pytest.skip("this session is interpreted: the checks run in-process")
    run_interpreted(__file__)


@pytest.fixture
def ts():
    if not RUN_CHECKS:  # pragma: no cover - the check_* are only collected where they run
        pytest.skip("needs TRITON_INTERPRET=1 (see test_interpreter_checks) or a GPU")
    return triton_scan


def _mask(batch, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(batch, steps, generator=g) > 0.3  # holes everywhere
    mask[0] = True
    mask[1] = False  # a zero-length row
    return mask.to(DEVICE)


def _run(layer, x, mask, h0):
    """Outputs, final states and the gradients of x, the initial state and every parameter."""
    out, states = layer(x, mask=mask, initial_state=[h0])
    weights = torch.linspace(-1, 1, out.shape[-1], dtype=x.dtype, device=x.device)
    loss = (out * weights).sum() + sum((t * t).sum() for s in states for t in s)
    inputs = [x, *h0, *layer.parameters()]  # the LRU's h0.h counts only for empty rows
    grads = torch.autograd.grad(loss, inputs, allow_unused=True, materialize_grads=True)
    return [out, *[t for s in states for t in s], *grads]


def _close(got, want, dtype):
    rtol = TOL[dtype]
    for a, b in zip(got, want):
        scale = float(b.detach().abs().max()) if b.numel() else 1.0
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * max(scale, 1e-3))


#: (layer, dtype, masked): every layer masked in both dtypes, the forward ones unmasked in
#: float32 (the interpreter is slow)
CASES = [(n, d, True) for n in LAYERS for d in (torch.float32, torch.float64)] + [
    (n, torch.float32, False) for n in ("mingru", "minlstm", "lru")
]


@pytest.mark.parametrize(
    "name,dtype,masked",
    CASES,
    ids=[f"{n}-{str(d)[-7:]}-{'mask' if m else 'nomask'}" for n, d, m in CASES],
)
def check_layers_agree_with_the_loop_and_the_torch_scan(ts, name, dtype, masked):
    """Forward and gradients (x, h0, parameters), holes in the mask and a zero-length row,
    a random initial state, both directions: float32 to 1e-5, float64 to 1e-10."""
    torch.manual_seed(0)
    x = torch.randn(N, T, I, dtype=dtype, device=DEVICE, requires_grad=True)
    mask = _mask(N, T) if masked else None
    runs = {}
    for impl in ("loop", "parallel", "fused"):
        layer = LAYERS[name](impl=impl).to(DEVICE, dtype)
        if impl != "loop":
            layer.load_state_dict(runs["loop"][0].state_dict())
        g = torch.Generator().manual_seed(1)
        h0 = type(layer.blocks[0].cell.initial_state(N))(
            *(
                torch.randn(s.shape, generator=g, dtype=dtype).to(DEVICE).requires_grad_(True)
                for s in layer.blocks[0].cell.initial_state(N)
            )
        )
        with compiled.disabled():  # on CPU (interpreted) the compiled scan would come first
            if impl == "fused":
                assert explain(layer, x, mask=mask)["blocks.0"].kernel == "triton_scan"
            before = dict(ts.calls)
            runs[impl] = (layer, _run(layer, x, mask, h0))
        if impl == "fused":
            assert ts.calls["forward"] > before["forward"]
            assert ts.calls["backward"] > before["backward"], "Triton backward not used"
    _close(runs["fused"][1], runs["loop"][1], dtype)
    _close(runs["fused"][1], runs["parallel"][1], dtype)


@pytest.mark.parametrize("name", ["minlstm", "lru_back"])
def check_gradcheck_float64(ts, name):
    """torch.autograd.gradcheck (fast mode: random projections, for interpreter time) on
    x, the initial state and every parameter, through the Triton scan, with a mask."""
    layer = LAYERS[name](impl="fused").to(DEVICE, torch.float64)
    steps = 6
    x = torch.randn(3, steps, I, dtype=torch.float64, device=DEVICE, requires_grad=True)
    mask = torch.tensor([[1] * steps, [0, 1, 1, 0, 1, 0], [0] * steps], dtype=torch.bool)
    mask = mask.to(DEVICE)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in layer.named_parameters()}
    state = layer.blocks[0].cell.initial_state(3)
    flat0 = [torch.randn_like(t).requires_grad_(True) for t in state]
    names = list(params)

    def fn(x, *rest):
        h0 = type(state)(*rest[: len(flat0)])
        p = dict(zip(names, rest[len(flat0) :]))
        with compiled.disabled():
            out, fin = functional_call(layer, p, (x,), {"mask": mask, "initial_state": [h0]})
        return out, *[t for s in fin for t in s]

    before = ts.calls["backward"]
    inputs = (x, *flat0, *params.values())
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, fast_mode=True)
    assert ts.calls["backward"] > before


def _kernel_inputs(kind, n, steps, hidden, dtype, seed):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * 2).to(DEVICE, dtype)

    gates, width = (3, 2) if kind == "lru" else ({"mingru": 2, "minlstm": 3}[kind], 1)
    xp, h0 = r(n, steps, gates * hidden), r(n, width * hidden)
    mask = (torch.rand(n, steps, generator=g) > 0.3).to(DEVICE)
    d_hs = r(n, steps, width * hidden)
    lam = (r(hidden) * 0.3, r(hidden) * 0.3, r(hidden).abs())
    return xp, h0, mask, d_hs, lam


def _kernels(ts, kind, xp, h0, mask, d_hs, lam, reverse):
    if kind == "lru":
        hs = ts.lru_scan_forward(xp, h0, mask, *lam, reverse)
        d_y = d_hs[..., : xp.shape[2] // 3]
        return [hs, *ts.lru_scan_backward(d_hs, d_y, xp, hs, h0, mask, *lam, reverse)]
    hs = ts.min_scan_forward(kind, xp, h0, mask, reverse, True)
    return [hs, *ts.min_scan_backward(kind, d_hs, xp, hs, h0, mask, reverse, True)]


@pytest.mark.parametrize("kind", ["mingru", "minlstm", "lru"])
@pytest.mark.parametrize("shape", [(3, 7, 5), (1, 1, 1), (5, 3, 9)], ids=str)
def check_tiles_do_not_change_the_result(ts, monkeypatch, kind, shape):
    """Each element's chain is computed alone, so any tiling gives the same result: small
    tiles (several row blocks, several unit blocks, a partial one) equal the default (the same
    bits interpreted; to 1e-12 compiled, where another tile is another compiled kernel)."""
    inputs = _kernel_inputs(kind, *shape, torch.float64, seed=sum(shape))
    want = _kernels(ts, kind, *inputs, reverse=True)
    monkeypatch.setattr(ts, "BLOCK_H_MAX", 4)
    monkeypatch.setattr(ts, "BLOCK_ELEMS", 8)
    got = _kernels(ts, kind, *inputs, reverse=True)
    tol = 0 if INTERPRETED else 1e-12
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def check_bad_input_and_empty_batches(ts):
    xp, h0, mask, d_hs, _ = _kernel_inputs("mingru", 3, 4, 5, torch.float32, seed=0)
    with pytest.raises(ValueError, match=r"xp must be an \(N, T, 3\*H\)"):
        ts.min_scan_forward("minlstm", xp, h0, None, False, True)  # width 10 is not 3*H
    with pytest.raises(ValueError, match="h0 must be"):
        ts.min_scan_forward("mingru", xp, h0.double(), None, False, True)
    with pytest.raises(ValueError, match="mask must be a"):
        ts.min_scan_forward("mingru", xp, h0, mask[:, :2], False, True)
    with pytest.raises(ValueError, match="xp must be"):
        ts.min_scan_forward("mingru", xp.half(), h0.half(), None, False, True)
    hs = ts.min_scan_forward("mingru", xp[:0], h0[:0], None, False, True)
    assert hs.shape == (0, 4, 5)
    d_xp, d_h0 = ts.min_scan_backward("mingru", d_hs[:0], xp[:0], hs, h0[:0], None, False, True)
    assert d_xp.shape == (0, 4, 10) and d_h0.shape == (0, 5)


def test_kernels_compile_for_the_gpu():
    """No GPU here: compile each kernel ahead of time for sm_90 (PTX and cubin through the
    wheel's ptxas), float32 and float64, every flag on and off."""
    if INTERPRETED:
        pytest.skip("TRITON_INTERPRET=1 for the whole session: no compiled kernels to build")
    try:
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError as exc:
        pytest.skip(f"this triton has no ahead-of-time compile API ({exc})")
    names = ["_min_fwd_kernel", "_min_bwd_kernel", "_lru_fwd_kernel", "_lru_bwd_kernel"]
    for name in names:
        fn = getattr(triton_scan, name)
        params = list(inspect.signature(fn.fn).parameters)
        for dtype, on in [("fp32", True), ("fp64", True), ("fp32", False)]:
            flags = {p: on for p in params if p in ("USE_G", "REVERSE", "HAS_MASK")}
            flags.update(BLOCK_N=2, BLOCK_H=32)
            if "KIND" in params:
                flags.update(KIND=int(on), GATES=2 + int(on))
            first_int = params.index("N")
            signature = {
                p: "constexpr" if p in flags
                else "i32" if i >= first_int
                else "*u8" if p == "mask"
                else f"*{dtype}"
                for i, p in enumerate(params)
            }  # fmt: skip
            constexprs = {(params.index(p),): v for p, v in flags.items()}
            try:
                src = ASTSource(fn=fn, signature=signature, constexprs=constexprs)
            except TypeError as exc:
                pytest.skip(f"this triton's ASTSource differs ({exc})")
            compiled_kernel = triton.compile(src, target=GPUTarget("cuda", 90, 32))
            assert "ptx" in compiled_kernel.asm, (name, dtype, on)


if RUN_CHECKS:  # collect the checks as tests only where they run
    for _name, _check in list(globals().items()):
        if _name.startswith("check_"):
            globals()["test_" + _name[len("check_") :]] = _check
