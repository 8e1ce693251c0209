"""Keras' ``model.fit`` / ``evaluate`` / ``predict`` for any ``nn.Module`` (``deeprnn.fit`` at
the top level): nothing to configure, no run folder.

* :mod:`~deeprnn.training.keras.trainer`: :func:`fit`, :func:`evaluate`, :func:`predict` (one
  Lightning ``Trainer`` underneath);
* :mod:`~deeprnn.training.keras.module`: :class:`FitModule` (the model, a loss, metrics and an
  optimizer as a LightningModule) and :class:`History`;
* :mod:`~deeprnn.training.keras.compile`: losses and metrics by Keras name;
* :mod:`~deeprnn.training.keras.data`: tensors and arrays into DataLoaders, ``validation_split``.
"""

from deeprnn.training.keras.module import FitModule, History
from deeprnn.training.keras.trainer import evaluate, fit, predict

__all__ = ["FitModule", "History", "evaluate", "fit", "predict"]
