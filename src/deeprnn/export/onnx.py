"""ONNX export of task models with dynamic batch and time axes and a ``lengths`` input.

Exporting torch's packed sequences is where RNN exports usually break. Here every recurrent
layer is exported as the readable loop over ``cell.step`` written with torch's ``scan``
higher-order op, which becomes one ONNX ``Scan`` node: the time axis stays dynamic, masks from
``lengths`` carry the state through padding exactly as in eager mode, and every cell (layer-norm
LSTM/GRU, minimal GRU, reset-before GRU), bidirectional and stacked layers, residual/highway
connections, and eval-mode zoneout export the same way.

>>> path = export_onnx(model, "model.onnx")  # doctest: +SKIP
>>> import onnxruntime as ort  # doctest: +SKIP
>>> ort.InferenceSession(str(path)).run(None, {"x": x, "lengths": lengths})  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn


def _scan_run(layer, x: Tensor, mask: Tensor | None, states: list):
    """``Recurrent._run`` as one ``scan`` over time (eval mode): what the ONNX graph holds."""
    from torch._higher_order_ops.scan import scan

    cell = layer.cell
    state = states[0]
    state_type = type(state)
    n, steps = x.shape[0], x.shape[1]
    if mask is None:
        mask = torch.ones(n, steps, dtype=torch.bool, device=x.device)
    xs = cell.project_input(x).transpose(0, 1)  # (T, N, G*H)
    ms = mask.transpose(0, 1)[..., None]  # (T, N, 1)
    if layer.go_backwards:
        xs, ms = xs.flip(0), ms.flip(0)
    carry_out = layer.masked_output == "carry"
    zoneout = layer.zoneout

    def step(carry, inputs):
        xt, mt = inputs
        old = state_type(*carry[: len(state)])
        h, new = cell.step(xt, old, None)
        if zoneout:
            new = state_type(*(torch.lerp(nw, o, zoneout) for o, nw in zip(old, new)))
            h = new.h
        kept = tuple(torch.where(mt, nw, o) for nw, o in zip(new, old))
        other = carry[-1] if carry_out else torch.zeros_like(h)
        y = torch.where(mt, h, other)
        return (*kept, y) if carry_out else kept, y.clone()

    init = (*state, torch.zeros_like(state.h)) if carry_out else tuple(state)
    final, ys = scan(step, init, (xs, ms))
    if layer.go_backwards:
        ys = ys.flip(0)
    final = state_type(*final[: len(state)])
    summary = final.h * mask.any(dim=1, keepdim=True)
    return ys.transpose(0, 1), summary, [final]


@contextlib.contextmanager
def scan_layers(model: nn.Module):
    """Within the block, every deeprnn ``Recurrent`` in ``model`` runs as a ``scan``."""
    from deeprnn.layers.recurrent import Recurrent

    layers = [m for m in model.modules() if isinstance(m, Recurrent)]
    for layer in layers:
        layer._run = lambda x, mask, states, layer=layer: _scan_run(layer, x, mask, states)
    try:
        yield model
    finally:
        for layer in layers:
            del layer._run


class _OnnxWrapper(nn.Module):
    def __init__(self, task: nn.Module, names: list[str]):
        super().__init__()
        self.task = task
        self.names = names

    def forward(self, *args):
        return self.task.onnx_forward(**dict(zip(self.names, args)))


def export_onnx(
    model, path: str | os.PathLike, *, opset: int | None = None, verbose: bool = False
) -> Path:
    """Write ``model`` (a task model with ``onnx_inputs``/``onnx_forward``) to ``path``.

    Inputs: the task's (``x`` and ``lengths`` for classify / forecast / lm; ``words``, ``chars``,
    ``lengths`` for tag), batch and time dynamic. Output: ``output`` (logits, scores or
    forecasts, as the task's ``onnx_forward`` documents). The file is written atomically.
    """
    from deeprnn._persist import atomic_write_bytes
    from deeprnn._validation import require

    for package in ("onnx", "onnxscript"):  # torch's dynamo exporter writes through them
        require(package, "ONNX export")
    _check_exportable(model)
    path = Path(path)
    was_training = model.training
    model.eval()
    inputs = model.onnx_inputs(batch_size=3, steps=7)
    names = list(inputs)
    batch = torch.export.Dim("batch")
    time = torch.export.Dim("time")
    dynamic = []
    fixed = getattr(model, "onnx_fixed_length", ())  # inputs whose dim 1 is not the time
    for name, t in inputs.items():
        dims = {0: batch}
        if t.dim() >= 2 and name not in fixed:
            dims[1] = time
        if t.dim() >= 3 and not t.is_floating_point():
            dims[2] = torch.export.Dim(f"{name}_width")
        dynamic.append(dims)
    wrapper = _OnnxWrapper(model, names).eval()
    buffer = io.BytesIO()
    sink = io.StringIO()
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    try:
        with scan_layers(model), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not verbose:
                onnx_log.setLevel(logging.ERROR)
            redirect = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(sink)
            with redirect:
                # strict (dynamo) capture: the layers' argument checks see plain ints there
                program = torch.export.export(
                    wrapper, tuple(inputs.values()), dynamic_shapes=(tuple(dynamic),), strict=True
                )
                onnx_program = torch.onnx.export(
                    program,
                    dynamo=True,
                    input_names=names,
                    output_names=["output"],
                    opset_version=opset,
                    external_data=False,
                    verbose=verbose,
                )
        onnx_program.save(buffer)
    finally:
        onnx_log.setLevel(level)
        model.train(was_training)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _check_exportable(model) -> None:
    """Refuse, in one line, a model with a layer the ONNX capture cannot trace."""
    from deeprnn.cells.parallel import LRUCell

    for name, module in model.named_modules():
        if isinstance(module, LRUCell):
            raise ValueError(
                f"ONNX export does not support the LRU ({name}): torch's scan capture cannot "
                "trace its complex-valued step; export a model with another rnn.cell (mingru, "
                "minlstm, gru, lstm...), or keep the export folder's safetensors weights"
            )


def run_onnx(path: str | os.PathLike, **inputs) -> list:
    """Run an exported model with onnxruntime on NumPy / torch inputs (a convenience)."""
    import numpy as np

    from deeprnn._validation import require

    ort = require("onnxruntime", "running an ONNX file")

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {
        k: (v.detach().cpu().numpy() if isinstance(v, Tensor) else np.asarray(v))
        for k, v in inputs.items()
    }
    return session.run(None, feed)


def task_wrapper(model):
    """A module whose positional forward is the task's ONNX forward (for ``deeprnn.summary``)."""
    names = list(model.onnx_inputs(1, 4))
    cls = type(type(model).__name__, (_OnnxWrapper,), {})
    return cls(model, names)
