"""The Model section of the run report: the architecture diagram and the layer list in the order
the layers run, and the summary table with the output shapes of an input as long as the data's.

The shapes come from one forward pass of a probe: ``model.onnx_inputs(1, steps)`` where
``steps`` is the data's own length (a forecaster's ``input_window``; else the longest of the
first 256 test examples), not a fixed 20-step probe that a segment encoder (``segment_length``
must divide the length) cannot even read.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def probe_steps(model, dm) -> tuple[int, str]:
    """``(steps, where they come from)`` for the probe input of ``model``."""
    art = getattr(model, "artifacts", None) or {}
    if "input_window" in art:
        w = int(art["input_window"])
        return w, f"data.input_window = {w} steps"
    if dm is not None:
        for split in ("test", "val", "train"):
            items = (getattr(dm, "splits", None) or {}).get(split)
            if not items:
                continue
            some = list(items[:256])
            batch = dm.collate(some)  # padded to the longest of them
            first = batch[0] if isinstance(batch, tuple | list) else batch
            if hasattr(first, "dim") and first.dim() >= 2:
                n = int(first.shape[1])
                of = f"the first {len(some)} {split} examples" if len(some) > 1 else split
                return n, f"{n} steps (the longest of {of})"
    return 20, "20 steps (the data was not loaded, so its length is unknown)"


def _runner(model, inputs: dict):
    from deeprnn.export.onnx import task_wrapper

    wrapper = task_wrapper(model)
    return wrapper, tuple(inputs.values())


def model_section(sec: list[str], model, dm, tmp: Path) -> None:
    """Append the diagram, the layer list and the summary table of ``model`` to ``sec``; a part
    that cannot be made says why in one plain line."""
    from deeprnn.report._config_view import shorten_paths
    from deeprnn.report._parts import _figure, _note, _pre
    from deeprnn.summary import summary
    from deeprnn.viz.architecture import architecture_text, plot_architecture

    def guard(what, fn):
        try:
            return fn()
        except Exception as e:  # the page says why; the error goes to the log
            log.info("report: %s not shown", what, exc_info=True)
            first = str(e).strip().splitlines()[0] if str(e).strip() else "it could not be made"
            sec.append(_note(f"{what} not shown: {shorten_paths(first, None)}"))
            return None

    steps, where = probe_steps(model, dm)
    inputs = guard("the probe input", lambda: model.onnx_inputs(1, steps))
    example = None
    if inputs is not None:
        wrapper, args = _runner(model, inputs)

        def example():
            return wrapper(*args)

        ok = guard("the layer order", lambda: (example(), True)[1])  # it runs, or the page says
        example = example if ok else None
    order = "in the order they run" if example else "in the order they are declared"
    path = guard(
        "the architecture diagram",
        lambda: plot_architecture(model, tmp / "architecture.png", example=example),
    )
    if path is not None:
        sec.append(_figure(path, f"architecture: the layers {order}"))
    text = guard("the layer list", lambda: architecture_text(model, example))
    if text:
        sec.append(_pre(text))
    if inputs is None:
        return
    table = guard(
        "the summary table",
        lambda: summary(_runner(model, inputs)[0], input_data=args, print_fn=None),
    )
    if table:
        sec.append(
            f"<p>output shapes for one example of {html.escape(where)} (N = None: any batch)</p>"
        )
        sec.append(_pre(table))
