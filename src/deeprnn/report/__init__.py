"""The run report: one self-contained HTML page for a run folder (``deeprnn report RUN_DIR``).

It sits above training and export: it reads a run folder (config, metrics, logs, the export
folder), rebuilds the run's data module and runs the model on a split
(:mod:`deeprnn.report.predictions`), and draws the figures with :mod:`deeprnn.viz`.
"""

from deeprnn.report.html import build_report, metrics_rows, png_data_uri, write_report
from deeprnn.report.predictions import Predictions, load_run_data, load_run_model, predict_split

__all__ = [
    "Predictions",
    "build_report",
    "load_run_data",
    "load_run_model",
    "metrics_rows",
    "png_data_uri",
    "predict_split",
    "write_report",
]
