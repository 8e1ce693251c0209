r"""Compiled CPU time loops: the whole recurrence of an LSTM or GRU layer in C++.

The C++ sources in ``deeprnn/kernels/csrc`` run the loop of :mod:`deeprnn.kernels.fused` —
per step ONE GEMM into a preallocated buffer and ONE fused elementwise pass over the gates
(recurrent-dropout mask, zoneout mix, time-mask carry and the zeroing of ``out`` at masked
steps all inside it) — and its hand-written backpropagation through time, with
:math:`\partial L/\partial W_{hh}` as one GEMM over all steps. Same equations, shapes and saved
activations (``act_width(kind, H)`` columns) as :mod:`deeprnn.kernels._pointwise`:

* LSTM: :math:`[i, f, g, o] = x_t W_{ih}^T + h_{t-1} W_{hh}^T + b`,
  :math:`c_t = \sigma(f) c_{t-1} + \sigma(i)\tanh(g)`, :math:`h_t = \sigma(o)\tanh(c_t)`;
* GRU (reset-after): :math:`r, z = \sigma(x_{r,z} + hp_{r,z})`,
  :math:`n = \tanh(x_n + r\, hp_n)`, :math:`h_t = n + z (h_{t-1} - n)`;
* their layer-norm kinds ``ln_lstm`` / ``ln_gru``: :math:`hp = \mathrm{LN}_{hh}(W_{hh} h_{t-1})`
  (and :math:`h_t = \sigma(o)\tanh(\mathrm{LN}_c(c_t))`), the row statistics and the LN
  backward :math:`\bar v = \mathrm{rstd}(\bar y - \overline{\bar y} - \hat v\,
  \overline{\bar y \hat v})` inside the same pass. In training the input term's
  :math:`\mathrm{LN}_{ih}(W_{ih} x_t)` is normalised in that pass too (:func:`fused_input_norm`):
  the scan takes the raw projections, the backward recomputes each row's statistics from them
  and returns the gradient at :math:`W_{ih} x_t`; every gain's and shift's gradient is summed
  per thread inside the pass and reduced once.

The per-step GEMM calls MKL directly where torch links it (float32: the recurrent weight packed
once per scan with ``cblas_sgemm_pack``, so no step repacks it; else BLAS on raw pointers; else
``at::mm_out``; ``DEEPRNN_COMPILED_BLAS=0`` forces the last). Each scan runs with flush-to-zero
and denormals-are-zero set on its threads (restored afterwards): saturated gates produce
denormal floats, and arithmetic on them is many times slower.

Threads, three schemes (``csrc/common.h``). The default, chosen by measurement, is the shared
path: each step's GEMM runs on MKL's threads over all rows, and its elementwise pass on the
calling thread up to about 64 rows (65536 gate values), on torch's threads above. Two opt-in
schemes split the loop itself: ``DEEPRNN_ROW_BLOCKS=k`` runs k row blocks (each thread the
whole time loop over its block of batch rows with single-threaded GEMMs, no barrier per step;
:func:`row_blocks`), ``DEEPRNN_UNIT_BLOCKS=k`` k unit blocks for ``lstm`` / ``gru`` (each
thread a slice of the hidden units of every row and its columns of ``W_hh``, one barrier per
step; :func:`unit_blocks`). On the 2-core machine of docs/results.md ("Thread-count axis") the
shared path was the fastest of the three for every kind and batch size at 2 threads: with a
recurrent weight larger than a core's L2, the split schemes make both cores stream it. Results
do not depend on the thread count or the scheme beyond the GEMMs' own rounding
(tests/layers/test_thread_invariance.py: 1e-6).

They are built just in time on first use with :func:`torch.utils.cpp_extension.load` (ninja and
a C++ compiler; about a minute on 2 cores), cached on disk in the per-user torch extensions
folder (``TORCH_EXTENSIONS_DIR``, default ``~/.cache/torch_extensions``) and rebuilt only when
the sources change; concurrent processes wait on cpp_extension's lock file. Built with
``-march=native``, in a folder named after the CPU's instruction sets (:func:`_cpu_tag`).

``DEEPRNN_COMPILED=0`` turns them off. Without a compiler, or when the build fails, deeprnn
warns once (:class:`CompiledKernelWarning`) and keeps the Python loop of ``fused_scan`` —
never an error. :func:`unsupported_reason` says why a scan does not go through the compiled
loop; :mod:`deeprnn.kernels.dispatch` decides.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from deeprnn._validation import autocast_enabled
from deeprnn.cells._base import RecurrentCell
from deeprnn.cells.gru import LayerNormGRUCell
from deeprnn.cells.lstm import LayerNormLSTMCell

#: cell kinds the compiled loop covers
KINDS = frozenset({"lstm", "gru", "ln_lstm", "ln_gru"})
LN_KINDS = frozenset({"ln_lstm", "ln_gru"})
DTYPES = (torch.float32, torch.float64)
SOURCES = ("scan_forward.cpp", "scan_backward.cpp", "scan_ln.cpp", "scan_ln_backward.cpp")
CSRC = Path(__file__).with_name("csrc")

_lock = threading.Lock()
_state: dict = {"module": None, "tried": False, "error": None, "off": 0}
#: the kinds :func:`infer` runs, with the input projection each assumes: W_ih x + b (plain),
#: LN_ih(W_ih x) (layer-norm cells)
_INFER_PROJECTION = {
    "lstm": RecurrentCell.project_input,
    "gru": RecurrentCell.project_input,
    "ln_lstm": LayerNormLSTMCell.project_input,
    "ln_gru": LayerNormGRUCell.project_input,
}
#: how many scans went through the compiled loop (tests read it; "ln_input": training forwards
#: with LN_ih inside the loop, :func:`fused_input_norm`)
calls = {"forward": 0, "backward": 0, "infer": 0, "ln_input": 0}


class CompiledKernelWarning(UserWarning):
    """The compiled kernels could not be built; the Python loop is used instead.

    Not a :class:`~deeprnn.DeepRNNWarning`: a machine without a compiler is a supported setup.
    """


def _cpu_tag() -> str:
    """A short fingerprint of the CPU's instruction sets: ``-march=native`` builds are kept
    apart per CPU kind, so a home folder shared between machines never loads a build made for
    another one."""
    flags = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags += line
                break
    except OSError:
        flags += platform.processor()
    return hashlib.sha1(flags.encode()).hexdigest()[:8]


def compiler() -> str | None:
    """The C++ compiler the build uses (``$CXX``, else ``c++``, as torch's cpp_extension picks
    it) when it is on PATH, else None: then the kernels cannot be built here."""
    return shutil.which(os.environ.get("CXX", "c++"))


def build_extension(stem: str, sources) -> object:
    """Build (or load the cached build of) the extension ``stem`` from ``sources`` in
    :data:`CSRC`, for this CPU (``-march=native``, named by :func:`_cpu_tag`)."""
    from torch.utils import cpp_extension

    if compiler() is None:
        raise RuntimeError("no C++ compiler (c++ / $CXX) on PATH")
    name = f"{stem}_{_cpu_tag()}"
    clear_stale_lock(Path(cpp_extension._get_build_directory(name, verbose=False)))
    return cpp_extension.load(
        name=name,
        sources=[str(CSRC / s) for s in sources],
        extra_cflags=["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math"],
        extra_include_paths=[str(CSRC)],
        verbose=os.environ.get("DEEPRNN_COMPILED_VERBOSE") == "1",
    )


#: a build folder whose lock and files are all older than this is not being built in
STALE_LOCK_SECONDS = 600.0


def clear_stale_lock(folder: Path, stale: float = STALE_LOCK_SECONDS) -> bool:
    """Remove ``folder/lock`` when nothing in ``folder`` changed for ``stale`` seconds.

    cpp_extension's lock is a bare file: a build killed part-way (Ctrl-C, a timeout) leaves it,
    and every later process waits on it for ever without a word. A live build writes its object
    files and ``.ninja_log`` within minutes, so a lock older than every file and than ``stale``
    is a dead build's: it is removed with a warning naming it. Returns whether it was."""
    import time

    lock = folder / "lock"
    try:
        newest = max(f.stat().st_mtime for f in folder.iterdir())
    except (OSError, ValueError):  # no folder (the first build) or an empty one
        return False
    if not lock.exists() or time.time() - newest < stale:
        return False
    try:
        lock.unlink()
    except OSError:
        return False
    warnings.warn(
        f"removed a stale build lock {lock} (nothing in its folder changed for "
        f"{(time.time() - newest) / 60:.0f} minutes: a build was interrupted); building again",
        CompiledKernelWarning,
        stacklevel=2,
    )
    return True


def _build():
    return build_extension("deeprnn_scan", SOURCES)


def load_once(state: dict, lock, build, what: str, instead: str):
    """``state["module"]``, building it with ``build()`` on the first call (one thread builds,
    the others wait on ``lock``); None when ``DEEPRNN_COMPILED=0``, :func:`disabled`, or the
    build failed (warned once: ``what`` could not be built, ``instead`` runs)."""
    if os.environ.get("DEEPRNN_COMPILED", "1") == "0" or _state["off"]:
        return None
    if state["tried"]:
        return state["module"]
    with lock:
        if not state["tried"]:
            try:
                state["module"] = build()
            except Exception as exc:  # any build or load failure falls back
                state["error"] = f"{type(exc).__name__}: {exc}"
                warnings.warn(
                    f"deeprnn: the compiled {what} could not be built ({state['error'][:300]}); "
                    f"using {instead} (slower). Set DEEPRNN_COMPILED=0 to silence this.",
                    CompiledKernelWarning,
                    stacklevel=3,
                )
            state["tried"] = True
    return state["module"]


def load():
    """The built extension module, or None (disabled, or the build failed: warned once)."""
    return load_once(_state, _lock, _build, "CPU recurrence kernels", "the Python loop")


def available() -> bool:
    """Whether the compiled loop can run (builds it on first call)."""
    return load() is not None


def unsupported_reason(kind: str | None, xp: Tensor) -> str | None:
    """Why a scan of ``kind`` over ``xp`` cannot run compiled, or None: :data:`KINDS`, CPU,
    float32/64, built."""
    if kind not in KINDS:
        return f"no compiled loop for cell kind {kind!r}"
    if xp.device.type != "cpu":
        return f"{xp.device.type} tensors (the compiled loops are CPU only)"
    if xp.dtype not in DTYPES:
        return f"dtype {xp.dtype} (the compiled loops take float32 / float64)"
    if load() is None:
        return f"not built ({_state['error'] or 'DEEPRNN_COMPILED=0 or compiled.disabled()'})"
    return None


def supports(kind: str | None, xp: Tensor) -> bool:
    """Whether a scan of ``kind`` over ``xp`` can run compiled (:func:`unsupported_reason`)."""
    return unsupported_reason(kind, xp) is None


@contextmanager
def disabled():
    """Run the Python loop inside the block (for comparisons and tests)."""
    with _lock:
        _state["off"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["off"] -= 1


def _reset_for_tests() -> None:
    """Forget the build attempt so that the next :func:`load` tries again."""
    with _lock:
        _state.update(module=None, tried=False, error=None)


def row_blocks(n_rows: int) -> int:
    """How many row blocks (threads, each running its own time loop) a compiled scan of
    ``n_rows`` batch rows runs with now: ``row_blocks`` in ``csrc/common.h``, from
    ``DEEPRNN_ROW_BLOCKS`` (unset: 1, the shared path); 1 when not built."""
    mod = load()
    return 1 if mod is None else int(mod.row_blocks(int(n_rows)))


def unit_blocks(n_rows: int, hidden_size: int) -> int:
    """How many unit blocks (threads, each owning a slice of the hidden units for all rows, one
    barrier per step) a compiled ``lstm`` / ``gru`` scan of ``n_rows`` rows and ``hidden_size``
    units runs with now: ``unit_blocks`` in ``csrc/common.h``, from ``DEEPRNN_UNIT_BLOCKS``
    (unset: 1, none); 1 when not built."""
    mod = load()
    return 1 if mod is None else int(mod.unit_blocks(int(n_rows), int(hidden_size)))


def forward(plan, inputs, h0: Tensor, c0: Tensor | None):
    """The compiled :func:`deeprnn.kernels.fused.scan_forward`: ``(out, states, acts)``."""
    mod = load()
    calls["forward"] += 1
    i = inputs
    flags = (float(plan.zoneout), bool(plan.training), bool(plan.backwards), bool(plan.needs_grad))
    if plan.kind in LN_KINDS:
        calls["ln_input"] += len(i.pw) > (4 if plan.kind == "ln_lstm" else 2)  # LN_ih inside
        out, states_h, states_c, acts = mod.ln_scan_forward(
            plan.kind, i.xp, i.w_hh, i.rec_mask, i.mask, i.keep_h, i.keep_c, h0, c0, list(i.pw),
            *flags,
        )  # fmt: skip
    else:
        out, states_h, states_c, acts = mod.scan_forward(
            plan.kind, i.xp, i.w_hh, i.b_hh, i.rec_mask, i.mask, i.keep_h, i.keep_c, h0, c0,
            *flags,
        )  # fmt: skip
    return out, ([states_h] if c0 is None else [states_h, states_c]), acts


def backward(plan, inputs, grads, states, acts):
    """The compiled :func:`deeprnn.kernels.fused.scan_backward`:
    ``(dxp, d_w_hh, d_b_hh, d_h0, d_c0, d_pw)``."""
    mod = load()
    calls["backward"] += 1
    i, g = inputs, grads
    states_c = states[1] if len(states) == 2 else None
    flags = (float(plan.zoneout), bool(plan.training), bool(plan.backwards))
    if plan.kind in LN_KINDS:
        dxp, d_w, d_h0, d_c0, *d_pw = mod.ln_scan_backward(
            plan.kind, g.d_out, g.d_hT, g.d_cT, i.xp, i.w_hh, i.rec_mask, i.mask, i.keep_h,
            i.keep_c, states[0], states_c, acts, list(i.pw), *flags,
        )  # fmt: skip
        d_b = None
    else:
        dxp, d_w, d_b, d_h0, d_c0 = mod.scan_backward(
            plan.kind, g.d_out, g.d_hT, g.d_cT, i.xp, i.w_hh, i.b_hh, i.rec_mask, i.mask,
            i.keep_h, i.keep_c, states[0], states_c, acts, *flags,
        )  # fmt: skip
        d_pw = []
        d_b = d_b if i.b_hh is not None else None
    return dxp, d_w, d_b, d_h0, (d_c0 if g.d_cT is not None else None), d_pw


def fused_input_norm(cell, like: Tensor) -> list[Tensor]:
    r"""LN_ih's gain and shift ``[ln_ih_weight, ln_ih_bias]`` when a training scan of ``cell``
    normalises its input projections inside the compiled loop, else ``[]``.

    Then the scan takes the raw projections :math:`W_{ih} x` (T, N, G) with ``pw`` ending with
    these two, and :math:`\mathrm{LN}_{ih}` (forward, backward, and its gain and shift
    gradients) runs in the loop's per-step pass instead of as separate passes over (T, N, G)
    tensors. It does for a layer-norm LSTM / GRU cell with its class's own input projection
    whose scan runs compiled on tensors like ``like`` (CPU float32 / float64, built), not under
    autocast; ``DEEPRNN_FUSE_LN_INPUT=0`` turns it off (the A/B of benchmarks/threads.py)."""
    kind = cell.fused_kind
    if kind not in LN_KINDS or type(cell).project_input is not _INFER_PROJECTION[kind]:
        return []
    if os.environ.get("DEEPRNN_FUSE_LN_INPUT", "1") == "0":
        return []
    if autocast_enabled(like.device.type) or not supports(kind, like):
        return []
    return [cell.ln_ih_weight, cell.ln_ih_bias]


def infer_unsupported_reason(cell, x: Tensor, state) -> str | None:
    """Why a scan of ``cell`` over ``x`` from ``state`` cannot take :func:`infer`, or None: it
    needs no gradient to follow, an LSTM, reset-after GRU or layer-norm LSTM / GRU cell with its
    own class's input projection, CPU float32/64 throughout, not under autocast,
    ``torch.compile``, ``torch.export`` or ``torch.jit.trace`` (the caller rules out the
    training-time recurrent-dropout and zoneout masks)."""
    kind = cell.fused_kind
    if kind not in _INFER_PROJECTION:
        return f"no compiled inference loop for cell kind {kind!r}"
    if type(cell).project_input is not _INFER_PROJECTION[kind]:
        return f"{type(cell).__name__} has its own input projection"
    tensors = (x, *state, *cell.parameters())
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return "a gradient to follow"
    if any(t.dtype != x.dtype for t in tensors):
        return "mixed dtypes"
    if autocast_enabled("cpu") or tracing():
        return "under autocast or tracing"
    return unsupported_reason(kind, x)  # CPU, float32/64, built


def tracing() -> bool:
    """Under torch.compile, torch.export or torch.jit.trace: those see the custom op, not the
    extension call."""
    exporting = getattr(torch.compiler, "is_exporting", lambda: False)
    return torch.compiler.is_compiling() or exporting() or torch.jit.is_tracing()


def infer(
    cell, x: Tensor, mask: Tensor | None, h0: Tensor, c0: Tensor | None, zoneout, backwards, pw=()
):
    """Inference scan with the input projection (and, for the layer-norm kinds, its layer norm)
    inside the compiled loop, a few steps at a time into one reused buffer, and no per-step
    states kept. ``x`` (N, T, I) batch-first, ``mask`` (N, T) bool or None, ``pw`` the layer-norm
    kinds' recurrent gains and shifts. Returns ``(out (N, T, H), h_T, c_T or None)``."""
    mod = load()
    calls["infer"] += 1
    mask_tm = None if mask is None else mask.t().contiguous()
    x_tm, kind, flags = x.transpose(0, 1), cell.fused_kind, (float(zoneout), bool(backwards))
    if kind in LN_KINDS:
        pw = [*pw, cell.ln_ih_weight, cell.ln_ih_bias]
        out, h, c = mod.ln_scan_infer(
            kind, x_tm, cell.weight_ih, cell.weight_hh, mask_tm, h0, c0, pw, *flags
        )
    else:
        b_hh = getattr(cell, "bias_hh", None)
        out, h, c = mod.scan_infer(
            kind, x_tm, cell.weight_ih, cell._input_bias(), cell.weight_hh, b_hh, mask_tm, h0,
            c0, *flags,
        )  # fmt: skip
    return out.transpose(0, 1), h, (c if c0 is not None else None)
