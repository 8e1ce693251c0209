"""The plots of a search (:mod:`deeprnn.training.search.tuner`), drawn by
``optuna.visualization.matplotlib`` on the Agg backend: optimisation history, every trial's
validation curve, and parameter importances.

Importances use Optuna's PED-ANOVA evaluator where it exists (Optuna >= 4.2, NumPy only);
older Optuna's default fANOVA needs scikit-learn, so without either that plot is skipped with a
note. A plot Optuna cannot draw (too few finished trials, a parameter that never varied) is
skipped with a note too: a search never fails on a plot.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

PLOTS = ("optimization_history", "intermediate_values", "param_importances")


def _importance_evaluator():
    """(evaluator or None for Optuna's default, why it cannot be computed or None)."""
    try:
        from optuna.importance import PedAnovaImportanceEvaluator
    except ImportError:
        if importlib.util.find_spec("sklearn") is None:
            return None, "parameter importances need scikit-learn with this Optuna (< 4.2)"
        return None, None
    return PedAnovaImportanceEvaluator(), None


def write_plots(study, out_dir: Path, notes: list[str], target: str = "value") -> list[Path]:
    """Write the PNGs of :data:`PLOTS` to ``out_dir``; what was skipped goes to ``notes``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.exceptions import OptunaError
    from optuna.visualization import matplotlib as ovm

    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    written = []
    for name in PLOTS:
        kwargs = {} if name == "intermediate_values" else {"target_name": target}
        if name == "param_importances":
            if len(finished) < 2:
                notes.append(f"{name}.png skipped: needs 2 or more complete trials")
                continue
            evaluator, why = _importance_evaluator()
            if why:
                notes.append(f"{name}.png skipped: {why}")
                continue
            if evaluator is not None:
                kwargs["evaluator"] = evaluator
        path = out_dir / f"{name}.png"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ExperimentalWarning, too-few-trials notices
                ax = getattr(ovm, f"plot_{name}")(study, **kwargs)
                fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
                fig.set_size_inches(8, 5)
                fig.savefig(path, dpi=100, bbox_inches="tight")
                plt.close(fig)
        except (
            ValueError,
            RuntimeError,
            ImportError,
            ArithmeticError,
            IndexError,
            OptunaError,
        ) as e:
            plt.close("all")
            notes.append(f"{name}.png skipped: {' '.join(str(e).split())}")
            continue
        written.append(path)
    return written
