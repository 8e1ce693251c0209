"""The Triton pointwise kernels (:mod:`deeprnn.kernels.triton_pointwise`) held to the Python
ones of :mod:`deeprnn.kernels._pointwise`.

The checks (``check_*``) run on CPU under the Triton interpreter, in a subprocess started with
``TRITON_INTERPRET=1`` (:func:`test_interpreter_checks`; Triton reads the variable when a kernel
is decorated, and the interpreter patches ``triton.language`` for good, which would break every
compiled Triton kernel, torch inductor's included, later in this process). They are collected
as tests only where they run: in that subprocess, in a session started with
``TRITON_INTERPRET=1``, and on a machine with a GPU, where they also run in-process on CUDA with
the compiled kernels (float32 to 1e-5 of scale there, 1e-6 interpreted; float64 to 1e-12).
Without triton the module is skipped.
"""

from __future__ import annotations

import inspect

import pytest
import torch

from _kernel_checks import import_triton, run_interpreted

triton = import_triton("the Triton kernels")

from deeprnn.kernels import _pointwise as pw  # noqa: E402 (after the skip)
from deeprnn.kernels import fused, triton_pointwise  # noqa: E402

#: the kernels were built for the interpreter: this process runs the checks itself (the
#: subprocess, or a session started with TRITON_INTERPRET=1)
INTERPRETED = triton_pointwise.INTERPRET
#: where the check_* run: CPU under the interpreter, else compiled on a GPU when there is one
DEVICE = "cpu" if INTERPRETED else "cuda"
RUN_CHECKS = INTERPRETED or torch.cuda.is_available()
SHAPES = [(1, 1), (3, 37), (8, 64), (5, 130)]  # H = 37, 130: partial column blocks
TOL = {torch.float32: 1e-6 if INTERPRETED else 1e-5, torch.float64: 1e-12}  # GPU: fast exp
STATES = {"lstm": 2, "gru": 1}


def test_import_and_availability():
    assert isinstance(triton_pointwise.HAS_TRITON, bool)
    assert not triton_pointwise.available("meta")
    assert triton_pointwise.available(torch.zeros(1)) == INTERPRETED  # compiled: CUDA only
    assert set(triton_pointwise.TRITON_KERNELS) == {"lstm", "gru"}
    assert triton_pointwise.kernels_for(torch.zeros(1))["rnn"] is pw.KERNELS["rnn"]


def test_interpreter_checks():
    """Run this file's ``check_*`` under ``TRITON_INTERPRET=1`` in a fresh interpreter."""
    if INTERPRETED:
        pytest.skip("this session is interpreted: the checks run in-process")
    run_interpreted(__file__)


@pytest.fixture
def tp():
    if not RUN_CHECKS:  # pragma: no cover - the check_* are only collected where they run
        pytest.skip("needs TRITON_INTERPRET=1 (see test_interpreter_checks) or a GPU")
    return triton_pointwise


@pytest.fixture(params=[128, 16], ids=["block128", "block16"])
def block(request, tp, monkeypatch):
    """Widest column block: 16 splits every H > 16 into several blocks and a tail."""
    monkeypatch.setattr(tp, "BLOCK_H_MAX", request.param)
    return request.param


def close(got, ref, dtype):
    if ref is None:
        assert got is None or not got.any()
        return
    tol = TOL.get(dtype, 1e-6)
    scale = ref.abs().max().item() if ref.numel() else 1.0
    torch.testing.assert_close(got, ref, rtol=tol, atol=tol * max(scale, 1e-30))


def check_module_guards(tp):
    def z(*s, dtype=torch.float32):
        return torch.randn(*s).to(DEVICE, dtype)

    assert tp.available(z(1, dtype=torch.float64))
    assert not tp.available(z(1, dtype=torch.int64))
    assert tp.available(z(1, dtype=torch.bfloat16)) != INTERPRETED  # numpy has no bfloat16
    assert tp.kernels_for(z(1))["lstm"] is tp.TRITON_KERNELS["lstm"]
    act, prev = z(3, 5 * 4), (z(3, 4), z(3, 4))
    new = tuple(torch.empty_like(p) for p in prev)
    with pytest.raises(ValueError, match="keep-mask"):
        tp.lstm_forward_fused(None, act, None, prev, new, "tanh", zoneout=0.1, training=True)
    with pytest.raises(ValueError, match="unit column stride"):
        tp.lstm_forward(None, act, None, (prev[0], z(4, 3).t()), new, "tanh")
    empty = z(0, 5 * 4)
    tp.lstm_forward(None, empty, None, (empty[:, :4],) * 2, (empty[:, :4],) * 2, "tanh")


def _inputs(kind, N, H, dtype, gen):
    def r(*shape, scale=1.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(DEVICE, dtype)

    S = STATES[kind]
    prev = tuple(r(N, H) for _ in range(S))
    if kind == "lstm":  # the gate sums; scale 2 reaches both branches of the Triton tanh
        return None, r(N, 5 * H, scale=2.0), None, prev
    return (
        r(N, 3 * H, scale=2.0),
        torch.zeros(N, 4 * H, dtype=dtype, device=DEVICE),
        r(N, 3 * H),
        prev,
    )


def _forward(fwd, kind, xp, act, hp, prev):
    act = act.clone()
    new = tuple(torch.full_like(p, float("nan")) for p in prev)
    fwd(xp, act, hp, prev, new, "tanh")
    return act, new


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("N,H", SHAPES)
def check_forward_matches_python(tp, block, kind, dtype, N, H):
    gen = torch.Generator().manual_seed(N * 1000 + H)
    xp, act, hp, prev = _inputs(kind, N, H, dtype, gen)
    ref = _forward(pw.KERNELS[kind][0], kind, xp, act, hp, prev)
    got = _forward(tp.TRITON_KERNELS[kind][0], kind, xp, act, hp, prev)
    close(got[0], ref[0], dtype)
    for g, r in zip(got[1], ref[1]):
        close(g, r, dtype)


def check_forward_float16_computes_in_float32(tp):
    gen = torch.Generator().manual_seed(3)
    xp, act, hp, prev = _inputs("gru", 4, 37, torch.float16, gen)
    got = _forward(tp.gru_forward, "gru", xp, act, hp, prev)
    up = [None if t is None else t.float() for t in (xp, act, hp)]
    ref = _forward(pw.gru_forward, "gru", *up, tuple(p.float() for p in prev))
    torch.testing.assert_close(got[1][0].float(), ref[1][0], rtol=1e-3, atol=1e-3)


def _step_masks(N, H, gen):
    mask = torch.rand(N, generator=gen) < 0.6
    mask[0], mask[-1] = False, True
    keep = tuple((torch.rand(N, H, generator=gen) < 0.3).to(DEVICE) for _ in range(2))
    return mask.to(DEVICE), keep


CARRY = [  # (zoneout, training, masked)
    (0.0, False, True),
    (0.25, True, False),
    (0.25, True, True),
    (0.3, False, True),  # eval lerp, p < 0.5
    (0.7, False, False),  # eval lerp, p >= 0.5
]


def _ref_carry(prev, new, out, zoneout, training, keep, mask):
    """What fused.scan_forward does after the cell."""
    if zoneout and training:
        for kp, o, n in zip(keep, prev, new):
            torch.where(kp, o, n, out=n)
    elif zoneout:
        for o, n in zip(prev, new):
            n.lerp_(o, zoneout)
    if mask is not None:
        m = mask[:, None]
        for o, n in zip(prev, new):
            torch.where(m, n, o, out=n)
        torch.mul(new[0], m, out=out)
    else:
        out.copy_(new[0])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("zoneout,training,masked", CARRY)
def check_fused_forward_carry(tp, kind, dtype, zoneout, training, masked):
    N, H = 6, 37
    gen = torch.Generator().manual_seed(7)
    xp, act, hp, prev = _inputs(kind, N, H, dtype, gen)
    mask, keep = _step_masks(N, H, gen)
    mask = mask if masked else None
    act_r, new_r = _forward(pw.KERNELS[kind][0], kind, xp, act, hp, prev)
    out_r = torch.empty(N, H, dtype=dtype, device=DEVICE)
    _ref_carry(prev, new_r, out_r, zoneout, training, keep, mask)
    act_t = act.clone()
    new_t = tuple(torch.empty_like(p) for p in prev)
    out_t = torch.empty(N, H, dtype=dtype, device=DEVICE)
    tp.TRITON_FUSED[kind][0](xp, act_t, hp, prev, new_t, "tanh", zoneout=zoneout,
                             training=training, keep=keep, mask=mask, out=out_t)  # fmt: skip
    close(act_t, act_r, dtype)
    for g, r in zip((*new_t, out_t), (*new_r, out_r)):
        close(g, r, dtype)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def check_fused_forward_strided_masks_and_float16(tp, kind):
    """Row-strided keep-masks, a strided time mask; float16 (computed in float32) to 1e-3."""
    N, H = 5, 19
    gen = torch.Generator().manual_seed(13)
    xp, act, hp, prev = _inputs(kind, N, H, torch.float64, gen)
    keep = tuple((torch.rand(N, 2 * H, generator=gen) < 0.3).to(DEVICE)[:, H:] for _ in prev)
    mask = (torch.rand(N, 3, generator=gen) < 0.6).to(DEVICE)[:, 1]
    for dtype, training in [(torch.float64, True), (torch.float16, False)]:
        cast = [None if t is None else t.to(dtype) for t in (xp, act, hp, *prev)]
        up = [None if t is None else t.double() for t in cast]  # the same rounded inputs
        act_r, new_r = _forward(pw.KERNELS[kind][0], kind, *up[:3], tuple(up[3:]))
        out_r = torch.empty(N, H, dtype=torch.float64, device=DEVICE)
        _ref_carry(tuple(up[3:]), new_r, out_r, 0.4, training, keep, mask)
        act_t, new_t = cast[1], tuple(torch.empty_like(p) for p in cast[3:])
        out_t = torch.empty(N, H, dtype=dtype, device=DEVICE)
        tp.TRITON_FUSED[kind][0](cast[0], act_t, cast[2], tuple(cast[3:]), new_t, "tanh",
                                 zoneout=0.4, training=training, keep=keep, mask=mask, out=out_t)  # fmt: skip
        tol = 1e-12 if dtype == torch.float64 else 1e-3
        for g, r in zip((act_t, *new_t, out_t), (act_r, *new_r, out_r)):
            torch.testing.assert_close(g.double(), r, rtol=tol, atol=tol)


def _ref_backward(kind, d, d_out, prev, act, zoneout, training, keep, mask):
    """What fused.scan_backward does at one step, but the GEMM."""
    S = STATES[kind]
    d = list(d)
    if mask is None:
        d[0] = d[0] if d_out is None else d[0] + d_out
        d_prev = [None] * S
    else:
        m = mask[:, None]
        d[0] = torch.addcmul(d[0], d_out, m) if d_out is not None else d[0]
        d_prev = [g * ~m for g in d]
        d = [g * m for g in d]
    if zoneout and training:
        zone = [g * kp for g, kp in zip(d, keep)]
        d_prev = [z if a is None else a + z for a, z in zip(d_prev, zone)]
        d = [g * ~kp for g, kp in zip(d, keep)]
    elif zoneout:
        d_prev = [g * zoneout if a is None else a + g * zoneout for a, g in zip(d_prev, d)]
        d = [g * (1 - zoneout) for g in d]
    _, prepare, step = pw.KERNELS[kind]
    dxp = torch.empty(act.shape[0], (4 if kind == "lstm" else 3) * prev[0].shape[1]).to(act)
    factors = prepare(act[None], [p[None] for p in prev], "tanh")
    g_hp, g_prev = step(d, factors, 0, dxp)
    d_prev = [a if b is None else (b if a is None else a + b) for a, b in zip(d_prev, g_prev)]
    return dxp, (dxp if g_hp is None else g_hp), d_prev


def _saved(kind, N, H, dtype, gen):
    xp, act, hp, prev = _inputs(kind, N, H, dtype, gen)
    act, _ = _forward(pw.KERNELS[kind][0], kind, xp, act, hp, prev)
    d = [torch.randn(N, H, generator=gen, dtype=torch.float64).to(DEVICE, dtype) for _ in prev]
    d_out = torch.randn(N, H, generator=gen, dtype=torch.float64).to(DEVICE, dtype)
    return act, prev, d, d_out


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("N,H", SHAPES)
def check_backward_step_matches_python(tp, block, kind, dtype, N, H):
    gen = torch.Generator().manual_seed(N + H)
    act, prev, d, _ = _saved(kind, N, H, dtype, gen)
    acts = act[None].expand(3, -1, -1).contiguous()  # a block of K = 3 steps, read at j = 1
    states = [p[None].expand(3, -1, -1).contiguous() for p in prev]
    _, prepare, step = pw.KERNELS[kind]
    dxp_r = torch.empty(N, (4 if kind == "lstm" else 3) * H, dtype=dtype, device=DEVICE)
    g_r, prev_r = step(d, prepare(acts, states, "tanh"), 1, dxp_r)
    _, prepare, step = tp.TRITON_KERNELS[kind]
    dxp_t = torch.full_like(dxp_r, float("nan"))
    g_t, prev_t = step(d, prepare(acts, states, "tanh"), 1, dxp_t)
    close(dxp_t, dxp_r, dtype)
    assert (g_t is None) == (g_r is None)
    if g_r is not None:
        close(g_t, g_r, dtype)
    for a, b in zip(prev_t, prev_r):
        assert (a is None) == (b is None)
        if b is not None:
            close(a, b, dtype)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("zoneout,training,masked", [*CARRY, (0.0, False, False)])
def check_fused_backward_carry(tp, kind, dtype, zoneout, training, masked):
    N, H = 6, 37
    gen = torch.Generator().manual_seed(11)
    act, prev, d, d_out = _saved(kind, N, H, dtype, gen)
    mask, keep = _step_masks(N, H, gen)
    mask = mask if masked else None
    keep = keep[: STATES[kind]]
    dxp_r, g_r, prev_r = _ref_backward(kind, d, d_out, prev, act, zoneout, training, keep, mask)
    dxp_t = torch.full_like(dxp_r, float("nan"))
    g_t, prev_t = tp.TRITON_FUSED[kind][1](d, d_out, prev, act, dxp_t, "tanh", zoneout=zoneout,
                                          training=training, keep=keep, mask=mask)  # fmt: skip
    close(dxp_t, dxp_r, dtype)
    close(dxp_t if g_t is None else g_t, g_r, dtype)
    for a, b in zip(prev_t, prev_r):
        close(a, b, dtype)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("zoneout,training", [(0.0, False), (0.2, True), (0.2, False)])
@pytest.mark.parametrize("backwards", [False, True])
def check_drop_in_table_in_the_fused_loop(tp, monkeypatch, kind, zoneout, training, backwards):
    """The one-line wiring: fused.scan_forward / scan_backward with KERNELS swapped for
    TRITON_KERNELS (the compiled CPU loop switched off on both sides), float64."""
    T, N, H = 5, 4, 9
    dt = torch.float64
    gen = torch.Generator().manual_seed(5)
    G = (4 if kind == "lstm" else 3) * H

    def r(*s):
        return torch.randn(*s, generator=gen, dtype=dt).to(DEVICE)

    xp, w_hh, b_hh = r(T, N, G), r(G, H) * 0.3, (None if kind == "lstm" else r(G))
    h0, c0 = r(N, H), (r(N, H) if kind == "lstm" else None)
    mask = torch.rand(T, N, generator=gen) < 0.7
    mask[:, 0] = False  # an all-false (zero-length) row
    mask = mask.to(DEVICE)
    keeps = [(torch.rand(T, N, H, generator=gen) < 0.3).to(DEVICE) for _ in range(2)]
    keeps = keeps if training else [None] * 2
    keep_c = keeps[1] if kind == "lstm" else None
    d_out, d_hT = r(T, N, H), r(N, H)
    d_cT = r(N, H) if kind == "lstm" else None
    plan = fused.Plan(kind, "tanh", zoneout, training, backwards)
    monkeypatch.setattr(fused.compiled, "supports", lambda *a, **k: False)
    calls = []

    def counted(f):
        return lambda *a: calls.append(f.__name__) or f(*a)

    triton_table = {k: tuple(map(counted, fs)) for k, fs in tp.TRITON_KERNELS.items()}
    results = []
    for use_triton in (False, True):
        # before the wiring fused.py reads KERNELS, after it dispatch.scan_kernel's table
        table = {**pw.KERNELS, **triton_table} if use_triton else pw.KERNELS
        monkeypatch.setattr(fused, "KERNELS", table)
        monkeypatch.setattr(tp, "TRITON_KERNELS", triton_table)
        monkeypatch.setattr(tp, "available", lambda t, on=use_triton: on)
        inputs = fused.ScanInputs(xp, w_hh, b_hh, None, mask, keeps[0], keep_c)
        out, states, acts = fused.scan_forward(plan, inputs, h0, c0)
        grads = fused.scan_backward(plan, inputs, fused.ScanGrads(d_out, d_hT, d_cT), states, acts)
        results.append([out, *states, acts, *grads[:5]])
        assert bool(calls) == use_triton
    assert {f"{kind}_forward", f"{kind}_step"} <= set(calls)
    for g, r_ in zip(*results):
        close(g, r_, dt)


def test_kernels_compile_for_the_gpu():
    """No GPU here: compile each kernel ahead of time for sm_90 (PTX and cubin through the
    wheel's ptxas) with every flag on, catching what the interpreter lets through."""
    if INTERPRETED:
        pytest.skip("TRITON_INTERPRET=1 for the whole session: no compiled kernels to build")
    try:
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError as exc:
        pytest.skip(f"this triton has no ahead-of-time compile API ({exc})")
    kernels = ["_lstm_fwd_kernel", "_gru_fwd_kernel", "_lstm_bwd_kernel", "_gru_bwd_kernel"]
    for name, dtype, zoneout in [(k, "fp32", z) for k in kernels for z in (1, 2)] + [
        (k, "fp16", 2) for k in kernels
    ]:
        fn = getattr(triton_pointwise, name)
        params = list(inspect.signature(fn.fn).parameters)
        flags = {"ZONEOUT": zoneout, "UPCAST": dtype == "fp16", "BLOCK_N": 8, "BLOCK_H": 128}
        flags.update({p: True for p in params if p.startswith("HAS_")})
        n_ptr = params.index("N")
        signature = {
            p: "constexpr" if p in flags
            else "i32" if i >= n_ptr
            else "*u8" if p in ("mask", "kh", "kc")
            else f"*{dtype}"
            for i, p in enumerate(params)
        }  # fmt: skip
        constexprs = {(params.index(p),): v for p, v in flags.items()}
        try:
            src = ASTSource(fn=fn, signature=signature, constexprs=constexprs)
        except TypeError as exc:
            pytest.skip(f"this triton's ASTSource differs ({exc})")
        compiled = triton.compile(src, target=GPUTarget("cuda", 90, 32))
        assert "ptx" in compiled.asm, name


if RUN_CHECKS:  # collect the checks as tests only where they run
    for _name, _check in list(globals().items()):
        if _name.startswith("check_"):
            globals()["test_" + _name[len("check_") :]] = _check
