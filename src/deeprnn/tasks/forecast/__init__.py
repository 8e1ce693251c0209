"""The forecast task: windows of one or several series (targets + covariates) -> the next
``horizon`` steps of the targets, point or probabilistic, beside the naive baselines.

One design in parts, each composed by the one above it:

=================== ===========================================================================
module              what
=================== ===========================================================================
``model``           :class:`Forecast`: the encoders, decoders and heads; it holds a
                    ``ForecastScorer`` and the data's ``Scaler``
``config``          :class:`ForecastConfig`: the ``model`` keys and their checks
``data``            :class:`ForecastData`: sources, scaling (:class:`deeprnn.data.Scaler`) and
                    the windows; ``data_config``: :class:`ForecastDataConfig`, the ``data`` keys
``series``          global models: per-series scaling of the targets, the series-id embedding
``columns``         which columns a model reads, a config's table as one frame per series, the
                    features (covariates: categorical, calendar, static, known over the horizon)
``tables``          a table as distributed, cell by cell: delimiter, numbers, time stamps, gaps
``splits``          chronological train / val / test boundaries and the window starts
``reader``          ``source: reader``: a reader function's output, as a table or splits of series
``distributions``   the likelihood and quantile heads, CRPS, coverage, the naive baselines
``baselines``       ``model.baseline: auto``: the candidates scored on validation, the choice
``classical``       ``model.baseline`` ets / arima: AutoETS / AutoARIMA refitted per window
``metrics``         ``ForecastScorer``: the paper metrics beside the baselines, per horizon step
``predict``         predict time: CSV rows -> scaled inputs -> forecast rows
``outputs``         the model's extra test metrics, ``predict_raw`` and ONNX entry point
=================== ===========================================================================
"""

from deeprnn.tasks.forecast.baselines import resolve_baseline
from deeprnn.tasks.forecast.data import ForecastData, ForecastDataConfig
from deeprnn.tasks.forecast.model import Forecast, ForecastConfig

__all__ = ["Forecast", "ForecastConfig", "ForecastData", "ForecastDataConfig", "resolve_baseline"]
