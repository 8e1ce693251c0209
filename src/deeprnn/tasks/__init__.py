"""Task models: one LightningModule per task family, each built from a typed config.

=========== ================= =====================================================
name        model             what
=========== ================= =====================================================
classify    :class:`Classify` many-to-one: text or numeric sequences -> a label
forecast    :class:`Forecast` windows of series -> the next steps (direct / autoregressive)
tag         :class:`Tag`      one label per token (optional CRF, char features), entity F1
lm          :class:`LanguageModel` next token; stateful truncated BPTT; sampling
regress     :class:`Regress`  many-to-one regression (adding problem, first x last)
seq2seq     :class:`~deeprnn.seq2seq.task.Seq2SeqTask` encoder-decoder (registered
            when ``deeprnn.seq2seq.task`` is imported, as any plugin task)
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
from deeprnn.tasks.regress import Regress, RegressConfig, RegressData, RegressDataConfig
from deeprnn.tasks.tag import Tag, TagConfig, TagData, TagDataConfig

register_task("classify", Classify, ClassifyConfig, ClassifyData, ClassifyDataConfig)
register_task("forecast", Forecast, ForecastConfig, ForecastData, ForecastDataConfig)
register_task("tag", Tag, TagConfig, TagData, TagDataConfig)
register_task("lm", LanguageModel, LMConfig, LMData, LMDataConfig)
register_task("regress", Regress, RegressConfig, RegressData, RegressDataConfig)

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
    "Regress",
    "RegressConfig",
    "RegressData",
    "RegressDataConfig",
    "Tag",
    "TagConfig",
    "TagData",
    "TagDataConfig",
    "TaskModule",
    "get_task",
    "register_task",
    "task_names",
]
