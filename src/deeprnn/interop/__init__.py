"""Interoperability with Keras 3: :func:`keras_import` (``from_keras``) reads ``.keras`` files
without Keras; :func:`to_keras` builds the Keras layer equal to a deeprnn LSTM / GRU /
SimpleRNN (needs Keras). See docs/keras.md."""

from deeprnn.interop._to_keras import to_keras
from deeprnn.interop.keras import (
    KerasImportError,
    KerasModel,
    from_keras,
    from_keras_config,
    keras_import,
)

__all__ = [
    "KerasImportError",
    "KerasModel",
    "from_keras",
    "from_keras_config",
    "keras_import",
    "to_keras",
]
