r"""Encoder-decoder models with attention, and their decoding.

* :class:`Encoder`: embedding + :class:`~deeprnn.DeepRNN` (optionally bidirectional, reversed
  source), with a bridge to the decoder's initial state; :class:`SequenceToVector` pools a
  sequence to one vector.
* :class:`AttentionDecoder`: embedding, stacked cells, attention over the encoder's memory with
  the source mask, input feeding, output layer (optionally tied to the embedding).
* :class:`Seq2Seq` and :class:`VectorToSequence`: complete models with teacher forcing (a ratio
  or a :func:`teacher_forcing_ratio` schedule), :func:`sequence_loss`, and ``generate``:
  :func:`greedy_search` / :func:`beam_search`, both vectorised over the batch.
* :mod:`deeprnn.seq2seq.synthetic`: built-in tasks (reverse, sort, dates) to check it all.
"""

from deeprnn.seq2seq._common import Bridge, tree_map
from deeprnn.seq2seq.decoder import AttentionDecoder, DecoderState, Memory
from deeprnn.seq2seq.encoder import Encoder, EncoderOutput, SequenceToVector, reverse_padded
from deeprnn.seq2seq.model import Seq2Seq, Seq2SeqOutput, VectorToSequence
from deeprnn.seq2seq.objectives import sequence_loss, teacher_forcing_ratio
from deeprnn.seq2seq.search import Hypotheses, beam_search, greedy_search, length_penalty

__all__ = [
    "AttentionDecoder",
    "Bridge",
    "DecoderState",
    "Encoder",
    "EncoderOutput",
    "Hypotheses",
    "Memory",
    "Seq2Seq",
    "Seq2SeqOutput",
    "SequenceToVector",
    "VectorToSequence",
    "beam_search",
    "greedy_search",
    "length_penalty",
    "reverse_padded",
    "sequence_loss",
    "teacher_forcing_ratio",
    "tree_map",
]
