"""Plots (matplotlib, Agg backend: files only). The HTML run report that puts them together is
:mod:`deeprnn.report`.

* :func:`plot_curves` / :func:`read_metrics` — loss and metric curves from a run's CSV log.
* :func:`plot_forecast` — forecast vs truth, the horizon marked.
* :func:`plot_architecture` / :func:`architecture_text` / :func:`describe` — any model's layers.
* :func:`plot_attention` / :func:`plot_attention_grid` — attention heatmaps.
* :func:`plot_confusion` / :func:`confusion_matrix` — classifiers and taggers.
* :func:`plot_gradient_flow` / :func:`gradient_norms_per_step` — the vanishing gradient.
* :func:`plot_hidden_states` — hidden-state activations over a sequence.
"""

from deeprnn.viz.architecture import Block, architecture_text, describe, plot_architecture
from deeprnn.viz.attention import plot_attention, plot_attention_grid
from deeprnn.viz.confusion import confusion_matrix, plot_confusion
from deeprnn.viz.curves import plot_curves, plot_forecast, read_metrics
from deeprnn.viz.gradient_flow import gradient_norms_per_step, plot_gradient_flow
from deeprnn.viz.hidden import plot_hidden_states

__all__ = [
    "Block",
    "architecture_text",
    "confusion_matrix",
    "describe",
    "gradient_norms_per_step",
    "plot_architecture",
    "plot_attention",
    "plot_attention_grid",
    "plot_confusion",
    "plot_curves",
    "plot_forecast",
    "plot_gradient_flow",
    "plot_hidden_states",
    "read_metrics",
]


def __getattr__(name: str):
    # deprecated: the report moved up to deeprnn.report (it reads run folders, which plots
    # must not depend on); the old spelling keeps working, with a warning
    if name == "write_report":
        import importlib
        import warnings

        warnings.warn(
            "deeprnn.viz.write_report moved to deeprnn.report.write_report",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module("deeprnn.report").write_report
    raise AttributeError(f"module 'deeprnn.viz' has no attribute {name!r}")
