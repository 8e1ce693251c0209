"""Reusable networks that the task families assemble: ``nn.Module`` s with typed configs, built
from :mod:`deeprnn.layers` and usable on their own.

================================ ==============================================================
name                             what
================================ ==============================================================
:class:`InputLayer`              embedding or numeric features (+ projection, Conv1D, dropout)
:class:`SequenceEncoder`         input layer + :class:`~deeprnn.DeepRNN`
:class:`Pool`                    sequence -> vector: last step, masked mean / max, attention
:class:`SegmentRNN`              SegRNN's segment-wise encoder with parallel multi-step decoding
:class:`FCN`                     the fully convolutional series classifier (LSTM-FCN's branch)
:class:`CRF`                     linear-chain CRF: NLL and Viterbi decoding over masked batches
:class:`Ensemble`                k networks trained together, each on its own loss, averaged
================================ ==============================================================
"""

from deeprnn.models.crf import CRF
from deeprnn.models.encoder import (
    POOLINGS,
    ManyToOne,
    Pool,
    RNNConfig,
    SequenceEncoder,
    build_rnn,
)
from deeprnn.models.ensemble import (
    Ensemble,
    average_outputs,
    average_probabilities,
    clip_members,
    members_loss,
)
from deeprnn.models.fcn import FCN, zscore_series
from deeprnn.models.inputs import InputConfig, InputLayer, read_word_vectors
from deeprnn.models.segment import SegmentRNN

__all__ = [
    "CRF",
    "FCN",
    "POOLINGS",
    "Ensemble",
    "InputConfig",
    "InputLayer",
    "ManyToOne",
    "Pool",
    "RNNConfig",
    "SegmentRNN",
    "SequenceEncoder",
    "average_outputs",
    "average_probabilities",
    "build_rnn",
    "clip_members",
    "members_loss",
    "read_word_vectors",
    "zscore_series",
]
