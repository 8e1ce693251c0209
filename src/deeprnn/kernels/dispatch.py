"""Which implementation runs a recurrent layer's call, and why: every choice is made here.

:func:`choose` decides for one :class:`~deeprnn.layers.Recurrent` call. With ``impl="auto"``:

1. ``"torch"`` — torch's fused RNN op (cuDNN on CUDA, oneDNN on CPU) when it runs the
   configuration (:func:`torch_reason`);
2. else ``"fused"`` — deeprnn's fused kernel when it runs it (:func:`fused_reason`); inside it,
   the compiled C++ inference loop when no gradient is to follow (:func:`fused_kernel`), else
   the scan loop :func:`scan_kernel` picks: compiled C++, Python with Triton pointwise kernels,
   Python with hand-written pointwise kernels, or autograd on the cell's pointwise step;
3. else ``"loop"`` — the readable loop over ``cell.step``.

A forced ``impl="torch"`` / ``"fused"`` that cannot run the call is a ``ValueError`` naming why.

The modules consulted only state facts: :func:`deeprnn.kernels.torch_rnn.unsupported_reason`
(what torch's op covers), :func:`deeprnn.kernels.compiled.unsupported_reason` and
:func:`~deeprnn.kernels.compiled.infer_unsupported_reason` (what the compiled loops cover, and
whether they are built), :func:`deeprnn.kernels.triton_pointwise.available` (where the Triton
kernels run). The scans consult :func:`scan_kernel` again at run time, on the tensors they get:
the custom op ``deeprnn::fused_scan`` is opaque to ``torch.compile`` and a failed build falls
back to Python, so a :class:`Choice` says what an eager call runs.

To ask why: :func:`explain` runs a model once and returns each recurrent layer's choice.

>>> import torch, deeprnn
>>> from deeprnn.kernels import explain
>>> model = deeprnn.LSTM(3, 8, recurrent_dropout=0.2).train()
>>> explain(model, torch.randn(2, 5, 3))["blocks.0"].impl
'fused'
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from deeprnn._validation import autocast_enabled, is_compiling
from deeprnn.cells import GRUCell
from deeprnn.kernels import compiled, torch_rnn, triton_pointwise

#: what each :attr:`Choice.kernel` runs
KERNELS = {
    "torch_op": "torch's fused RNN op (cuDNN on CUDA, oneDNN on CPU)",
    "compiled_infer": "the compiled C++ inference loop, input projection inside",
    "compiled": "the compiled C++ scan and hand-written BPTT",
    "triton": "the Python scan loop with Triton pointwise kernels",
    "python": "the Python scan loop with hand-written pointwise kernels",
    "autograd": "the Python scan loop, autograd on the cell's pointwise step",
    "fused_op": "the custom op deeprnn::fused_scan, its loop picked at run time",
    "loop": "the readable loop over cell.step",
    "compiled_scan": "the compiled C++ linear scan, gates fused, hand-written backward",
    "triton_scan": "the Triton linear scan on CUDA, gates fused, hand-written backward",
    "parallel_scan": "the associative linear scan in torch, log2(T) parallel rounds",
}


class Choice(NamedTuple):
    """What a layer call runs: ``impl`` (``"torch"``, ``"fused"`` or ``"loop"``), the
    ``kernel`` underneath (a key of :data:`KERNELS`) and the ``reason``, in words."""

    impl: str
    kernel: str
    reason: str

    def __str__(self) -> str:
        return f"{self.impl} ({KERNELS[self.kernel]}): {self.reason}"


def torch_reason(layer, x: Tensor, mask: Tensor | None) -> str | None:
    """Why torch's fused op cannot run this call of ``layer`` (a Recurrent), or None."""
    reason = torch_rnn.unsupported_reason(layer)
    if reason is None and x.is_cuda and x.shape[1] > torch_rnn.CUDNN_MAX_STEPS:
        reason = f"{x.shape[1]} steps exceed cuDNN's {torch_rnn.CUDNN_MAX_STEPS}"
    if reason is None and mask is not None and is_compiling() and layer.impl == "auto":
        reason = "a mask under torch.compile (length segments are data-dependent)"
    return reason


def fused_reason(layer, mask: Tensor | None) -> str | None:
    """Why the fused kernel cannot run this call of ``layer``, or None."""
    if isinstance(layer.cell, GRUCell) and not layer.cell.reset_after:
        return "GRU with reset_after=False"
    if mask is not None and layer.masked_output == "carry":
        return "masked_output='carry' with a mask"
    if layer._probe is not None:
        return "gradient probe"
    if layer.zoneout and getattr(layer.cell, "scan_kind", ""):
        return "zoneout on a linear recurrence (its scans draw no zoneout masks)"
    return None


def scan_kernel(kind: str | None, xp: Tensor) -> str:
    """The loop a fused scan of cell kind ``kind`` over ``xp`` (the input projections, or a
    tensor of their device and dtype) runs: ``"compiled"``, ``"triton"``, ``"python"`` or
    ``"autograd"`` (``kind`` None: no hand-written BPTT)."""
    if kind is None:
        return "autograd"
    if compiled.supports(kind, xp):
        return "compiled"
    if kind in triton_pointwise.TRITON_KERNELS and triton_pointwise.available(xp):
        return "triton"
    return "python"


def fused_kernel(layer, x: Tensor, state=None, stochastic: bool | None = None) -> tuple[str, str]:
    """``(kernel, reason)`` of a fused call of ``layer`` on ``x`` (N, T, I) from ``state``.

    ``stochastic``: whether the call draws recurrent-dropout or zoneout masks (default: from
    the layer's options and mode); those need the scan, not the inference loop."""
    cell = layer.cell
    if stochastic is None:
        stochastic = layer.training and bool(layer.recurrent_dropout or layer.zoneout)
    if stochastic:
        infer_why = "training-time recurrent dropout or zoneout masks"
    else:
        infer_why = compiled.infer_unsupported_reason(cell, x, () if state is None else state)
    if infer_why is None:
        return "compiled_infer", f"no gradient to follow: the compiled inference loop{_blocks(x)}"
    if cell.fused_kind is not None and compiled.tracing():  # never trace into the build
        return "fused_op", f"traced: deeprnn::fused_scan picks its loop at run time ({infer_why})"
    # the scans run in the recurrent weight's dtype under autocast
    like = cell.weight_hh if autocast_enabled(x.device.type) else x
    kernel = scan_kernel(cell.fused_kind, like)
    if kernel == "autograd":
        return kernel, f"{type(cell).__name__} has no hand-written BPTT"
    if kernel == "compiled":
        where = f"{cell.fused_kind} on CPU {str(like.dtype).removeprefix('torch.')}{_blocks(x)}"
        return kernel, f"compiled scan: {where} (no inference loop: {infer_why})"
    if kernel == "triton":
        return kernel, f"Triton pointwise kernels: {cell.fused_kind} on CUDA"
    return kernel, f"Python loop: {compiled.unsupported_reason(cell.fused_kind, like)}"


def _blocks(x: Tensor) -> str:
    """How the compiled loop threads over the batch of ``x`` (N, T, I): the C++ side chooses
    (:func:`deeprnn.kernels.compiled.row_blocks`); said here so that explain() shows it."""
    n = compiled.row_blocks(x.shape[0])
    return f", {n} row blocks (one time loop per thread)" if n > 1 else ""


def choose(layer, x: Tensor, mask: Tensor | None = None, state=None) -> Choice:
    """The implementation a call of ``layer`` (a :class:`~deeprnn.layers.Recurrent`) runs on
    ``x`` (N, T, I) batch-first with ``mask`` (N, T) bool or None from ``state`` (None: the
    default state; it only decides whether the compiled inference loop applies).

    Raises ``ValueError`` when ``layer.impl`` forces an implementation that cannot run it."""
    if layer.impl == "loop":
        return _record(layer, Choice("loop", "loop", "impl='loop'"))
    if getattr(layer.cell, "scan_kind", ""):
        return _record(layer, _choose_linear(layer, x, mask))
    if layer.impl == "parallel":
        raise ValueError(
            f"impl='parallel' runs the linear recurrences (mingru, minlstm, lru), not "
            f"{type(layer.cell).__name__}; use impl='auto'"
        )
    torch_why = torch_reason(layer, x, mask)
    fused_why = fused_reason(layer, mask)
    for impl, why in (("torch", torch_why), ("fused", fused_why)):
        if layer.impl == impl and why is not None:
            raise ValueError(f"impl='{impl}' cannot run this layer: {why}; use impl='auto'")
    if layer.impl == "torch" or (layer.impl == "auto" and torch_why is None):
        why = "impl='torch'" if layer.impl == "torch" else f"torch's op runs a plain {_what(layer)}"
        return _record(layer, Choice("torch", "torch_op", why))
    if layer.impl == "fused" or fused_why is None:
        kernel, detail = fused_kernel(layer, x, state)
        why = "impl='fused'" if layer.impl == "fused" else f"torch's op cannot: {torch_why}"
        return _record(layer, Choice("fused", kernel, f"{why}; {detail}"))
    why = f"torch's op cannot: {torch_why}; the fused kernel cannot: {fused_why}"
    return _record(layer, Choice("loop", "loop", why))


def _choose_linear(layer, x: Tensor, mask: Tensor | None) -> Choice:
    """minGRU / minLSTM / LRU: the compiled scan (CPU), else the Triton scan (CUDA), else the
    parallel scan in torch; the loop for what the scans do not draw (zoneout, a gradient probe,
    carried outputs under a mask)."""
    from deeprnn.kernels import parallel, triton_scan

    name = type(layer.cell).__name__
    if layer.impl == "torch":
        raise ValueError(f"impl='torch' cannot run this layer: torch has no {name} op")
    loop_why = fused_reason(layer, mask)  # zoneout, carried outputs under a mask, a probe
    if loop_why is not None:
        if layer.impl != "auto":
            raise ValueError(
                f"impl='{layer.impl}' cannot run this layer: {loop_why}; use impl='auto'"
            )
        return Choice("loop", "loop", f"the scans cannot: {loop_why}")
    if layer.impl == "parallel":
        return Choice("parallel", "parallel_scan", "impl='parallel'")
    why = "impl='fused'" if layer.impl == "fused" else f"{name} is a linear recurrence"
    compiled_why = parallel.unsupported_reason(layer.cell, x)
    if compiled_why is None:
        return Choice("fused", "compiled_scan", f"{why}; compiled scan on CPU")
    triton_why = triton_scan.unsupported_reason(layer.cell, x)
    if triton_why is None:
        where = "the interpreter" if triton_scan.INTERPRET else "CUDA"
        return Choice("fused", "triton_scan", f"{why}; Triton scan on {where}")
    if x.device.type == "cpu":  # the compiled scan is the CPU's; say why it did not run
        return Choice("parallel", "parallel_scan", f"{why}; no compiled scan: {compiled_why}")
    return Choice("parallel", "parallel_scan", f"{why}; no Triton scan: {triton_why}")


def _what(layer) -> str:
    cell = layer.cell
    if hasattr(cell, "activation"):
        return f"{type(cell).__name__}(activation={cell.activation!r})"
    return type(cell).__name__


# -- explain: record the choices of one call ----------------------------------------------------
_log: list | None = None  # (layer, Choice) of each choose() while explain() runs


def _record(layer, choice: Choice) -> Choice:
    if _log is not None:
        _log.append((layer, choice))
    return choice


def explain(module: nn.Module, *args, **kwargs) -> dict[str, Choice]:
    """Run ``module(*args, **kwargs)`` once and return the :class:`Choice` each recurrent layer
    in it made, by qualified name (``""`` for ``module`` itself).

    The call is a real one — dropout draws, a stateful layer advances — and its train / eval
    mode and grad mode decide, as they do for every call (the compiled inference loop needs
    no gradient: call it under ``torch.no_grad()`` to see what inference runs). Not
    thread-safe.

    >>> import torch, deeprnn
    >>> for name, choice in explain(deeprnn.GRU(3, 8, 2), torch.randn(2, 5, 3)).items():
    ...     print(name, choice.impl)
    blocks.0 torch
    blocks.1 torch
    """
    global _log
    outer, _log = _log, []
    try:
        module(*args, **kwargs)
        log = _log
    finally:
        _log = outer
    names = {id(m): name for name, m in module.named_modules()}
    return {names.get(id(layer), type(layer).__name__): choice for layer, choice in log}


__all__ = [
    "KERNELS",
    "Choice",
    "choose",
    "explain",
    "fused_kernel",
    "fused_reason",
    "scan_kernel",
    "torch_reason",
]
