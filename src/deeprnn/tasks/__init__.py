"""Task models: one LightningModule per task family, each built from a typed config.

=========== ================= =====================================================
name        model             what
=========== ================= =====================================================
classify    :class:`Classify` many-to-one: text or numeric sequences -> a label
forecast    :class:`Forecast` windows of series -> the next steps (direct / autoregressive)
tag         :class:`Tag`      one label per token (optional CRF, char features), entity F1
lm          :class:`LanguageModel` next token; stateful truncated BPTT; sampling
=========== ================= =====================================================

New tasks register with :func:`~deeprnn.tasks.registry.register_task`.
"""

from deeprnn.tasks._series import ForecastData, ForecastDataConfig
from deeprnn.tasks._text import LMData, LMDataConfig
from deeprnn.tasks.base import TaskModule
from deeprnn.tasks.classify import Classify, ClassifyConfig, ClassifyData, ClassifyDataConfig
from deeprnn.tasks.forecast import Forecast, ForecastConfig
from deeprnn.tasks.lm import LanguageModel, LMConfig
from deeprnn.tasks.registry import get_task, register_task, task_names
from deeprnn.tasks.tag import Tag, TagConfig, TagData, TagDataConfig

register_task("classify", Classify, ClassifyConfig, ClassifyData, ClassifyDataConfig)
register_task("forecast", Forecast, ForecastConfig, ForecastData, ForecastDataConfig)
register_task("tag", Tag, TagConfig, TagData, TagDataConfig)
register_task("lm", LanguageModel, LMConfig, LMData, LMDataConfig)

__all__ = [
    "Classify",
    "ClassifyConfig",
    "ClassifyData",
    "ClassifyDataConfig",
    "Forecast",
    "ForecastConfig",
    "ForecastData",
    "ForecastDataConfig",
    "LMConfig",
    "LMData",
    "LMDataConfig",
    "LanguageModel",
    "Tag",
    "TagConfig",
    "TagData",
    "TagDataConfig",
    "TaskModule",
    "get_task",
    "register_task",
    "task_names",
]
