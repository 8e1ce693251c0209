"""Task models: one LightningModule per task family, each built from a typed config, and each
with its data module beside it (``NAME.py`` the model, ``NAME_data.py`` the data; the forecast
task, larger, is the package ``forecast/``). The networks they assemble are in
:mod:`deeprnn.models`.

=========== ======================= ===============================================================
name        model                   what
=========== ======================= ===============================================================
classify    :class:`Classify`       many-to-one: text or numeric sequences -> a label
forecast    :class:`Forecast`       windows of series -> the next steps (direct / autoregressive)
tag         :class:`Tag`            one label per token (optional CRF, char features), entity F1
lm          :class:`LanguageModel`  next token; stateful truncated BPTT; sampling
regress     :class:`Regress`        many-to-one regression (adding problem, first x last)
seq2seq     :class:`Seq2SeqTask`    encoder-decoder with attention; BLEU / chrF
=========== ======================= ===============================================================

New tasks register with :func:`~deeprnn.tasks.registry.register_task`.
"""

from deeprnn.tasks.base import TaskModule
from deeprnn.tasks.classify import Classify, ClassifyConfig
from deeprnn.tasks.classify_data import ClassifyData, ClassifyDataConfig
from deeprnn.tasks.forecast import Forecast, ForecastConfig, ForecastData, ForecastDataConfig
from deeprnn.tasks.lm import LanguageModel, LMConfig
from deeprnn.tasks.lm_data import LMData, LMDataConfig
from deeprnn.tasks.optim import (
    OptimConfig,
    RegularizerConfig,
    SchedulerConfig,
    build_optimizer,
    build_optimizers,
    weight_penalty,
)
from deeprnn.tasks.registry import get_task, load_checkpoint, register_task, task_names
from deeprnn.tasks.regress import Regress, RegressConfig
from deeprnn.tasks.regress_data import RegressData, RegressDataConfig
from deeprnn.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask
from deeprnn.tasks.seq2seq_data import Seq2SeqData, Seq2SeqDataConfig
from deeprnn.tasks.tag import Tag, TagConfig
from deeprnn.tasks.tag_data import TagData, TagDataConfig

register_task("classify", Classify, ClassifyConfig, ClassifyData, ClassifyDataConfig)
register_task("forecast", Forecast, ForecastConfig, ForecastData, ForecastDataConfig)
register_task("tag", Tag, TagConfig, TagData, TagDataConfig)
register_task("lm", LanguageModel, LMConfig, LMData, LMDataConfig)
register_task("regress", Regress, RegressConfig, RegressData, RegressDataConfig)
register_task("seq2seq", Seq2SeqTask, Seq2SeqConfig, Seq2SeqData, Seq2SeqDataConfig)

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
    "OptimConfig",
    "Regress",
    "RegressConfig",
    "RegressData",
    "RegressDataConfig",
    "RegularizerConfig",
    "SchedulerConfig",
    "Seq2SeqConfig",
    "Seq2SeqData",
    "Seq2SeqDataConfig",
    "Seq2SeqTask",
    "Tag",
    "TagConfig",
    "TagData",
    "TagDataConfig",
    "TaskModule",
    "build_optimizer",
    "build_optimizers",
    "get_task",
    "load_checkpoint",
    "register_task",
    "task_names",
    "weight_penalty",
]
