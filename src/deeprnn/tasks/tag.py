"""Sequence tagging (many-to-many, synced): one label per token — NER, POS, chunking.

Model: word embedding (+ optional character-level BiLSTM word features, Lample et al. 2016) ->
DeepRNN -> per-step scores -> softmax, or a CRF (``model.crf: true``). Padding is ignored by the
loss. Metrics: token accuracy and entity-level F1 / precision / recall with seqeval.

Data (``data.source``): ``conll`` (CoNLL files read by :func:`deeprnn.data.read_conll`: one
token per line, the token in column ``token_column`` and the tag in ``tag_column``, blank lines
between sentences, ``-DOCSTART-`` skipped; ``scheme: BIO`` converts CoNLL-2003's IOB1 tags) from ``train_path`` / ``val_path`` / ``test_path``, or ``path`` cut by fractions; or
``reader`` returning ``{"train": [(tokens, tags), ...], ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from deeprnn.models import CRF, InputConfig, RNNConfig, SequenceEncoder, build_rnn
from deeprnn.tasks._data import IGNORE
from deeprnn.tasks.base import TaskModule, gather_objects
from deeprnn.tasks.tag_data import TagData


@dataclass
class TagConfig:
    """The tagger. ``char_embedding_dim > 0`` adds a char BiLSTM of ``char_hidden_size``."""

    input: InputConfig = field(default_factory=InputConfig)
    rnn: RNNConfig = field(default_factory=lambda: RNNConfig(bidirectional=True))
    crf: bool = False
    char_embedding_dim: int = 0
    char_hidden_size: int = 25
    head_dropout: float = 0.0


class CharFeatures(nn.Module):
    """Each word's characters through a BiLSTM: the two final states (2 * hidden) per word."""

    def __init__(self, num_chars: int, dim: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, dim, padding_idx=0)
        self.rnn = build_rnn(dim, RNNConfig(hidden_size=hidden, bidirectional=True))
        self.output_size = 2 * hidden

    def forward(self, chars: Tensor) -> Tensor:
        n, t, width = chars.shape
        flat = chars.reshape(n * t, width)  # (N*T, L)
        _, states = self.rnn(self.embedding(flat), lengths=(flat != 0).sum(1))
        h = torch.cat([s.h for s in states.layer(-1)], dim=-1)  # (N*T, 2H)
        return h.view(n, t, -1)


class Tag(TaskModule):
    """``forward(words, chars, lengths) -> emissions (N, T, C)``; ``decode`` gives tag ids."""

    config_class = TagConfig
    #: the metric metrics.json's headline leads with: seqeval's entity-level F1 (CoNLL's score;
    #: token accuracy is high for any tagger that says "O")
    headline_metric = "f1"

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        cfg, art = self.config, self.artifacts
        for key in ("vocab", "chars", "labels"):
            if key not in art:
                raise ValueError(f"Tag needs artifacts[{key!r}] (from the data module)")
        self.chars = None
        extra = 0
        if cfg.char_embedding_dim:
            self.chars = CharFeatures(
                len(art["chars"]), cfg.char_embedding_dim, cfg.char_hidden_size
            )
            extra = self.chars.output_size
        self.encoder = SequenceEncoder(cfg.input, cfg.rnn, vocab=art["vocab"], extra_size=extra)
        n = len(art["labels"])
        self.head = nn.Sequential(
            nn.Dropout(cfg.head_dropout), nn.Linear(self.encoder.rnn.output_size, n)
        )
        self.crf = CRF(n) if cfg.crf else None
        self._collected: dict[str, tuple[list, list]] = {}

    def forward(self, words: Tensor, chars: Tensor, lengths: Tensor) -> Tensor:
        extra = self.chars(chars) if self.chars is not None else None
        out, _, _ = self.encoder(words, lengths, extra)
        return self.head(out)  # (N, T, C)

    def decode(self, emissions: Tensor, lengths: Tensor) -> list[list[int]]:
        mask = torch.arange(emissions.shape[1], device=lengths.device)[None] < lengths[:, None]
        if self.crf is not None:
            return self.crf.decode(emissions, mask)
        best = emissions.argmax(-1).tolist()
        return [row[:n] for row, n in zip(best, lengths.tolist())]

    def step(self, batch, stage: str):
        words, chars, lengths, tags = batch
        emissions = self(words, chars, lengths)
        mask = tags != IGNORE
        if self.crf is not None:
            loss = self.crf.nll(emissions, tags, mask)
        else:
            loss = nn.functional.cross_entropy(
                emissions.reshape(-1, emissions.shape[-1]), tags.reshape(-1), ignore_index=IGNORE
            )
        if stage != "train":
            labels = self.artifacts["labels"]
            pred, true = self._collected.setdefault(stage, ([], []))
            for p, t, n in zip(self.decode(emissions, lengths), tags.tolist(), lengths.tolist()):
                pred.append([labels[i] for i in p])
                true.append([labels[i] for i in t[:n]])
        return loss, {}

    def _entity_scores(self, stage: str) -> None:
        from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

        pred, true = self._collected.pop(stage, ([], []))
        pairs = gather_objects(self, list(zip(true, pred)))  # the whole split under DDP
        true, pred = [t for t, _ in pairs], [p for _, p in pairs]
        if not true:
            return
        scores = {
            "f1": f1_score(true, pred, zero_division=0),
            "precision": precision_score(true, pred, zero_division=0),
            "recall": recall_score(true, pred, zero_division=0),
            "acc": accuracy_score(true, pred),
        }
        for name, value in scores.items():
            self.log(f"{stage}_{name}", float(value), prog_bar=name == "f1")

    def on_validation_epoch_end(self) -> None:
        self._entity_scores("val")

    def on_test_epoch_end(self) -> None:
        self._entity_scores("test")

    # -- inference -------------------------------------------------------------------------------
    def predict_raw(self, records: list, **options) -> list[dict]:
        """Whitespace-tokenised lines, token lists or ``{"tokens": ...}`` / ``{"text": ...}``
        objects -> ``{"tokens", "tags"}`` per record."""
        from deeprnn._validation import RecordError, check_record_fields

        token_lists = []
        for i, r in enumerate(records):
            check_record_fields(i, r, "tag", any_of=("tokens", "text"))
            value = r.get("tokens", r.get("text")) if isinstance(r, dict) else r
            if isinstance(value, str):
                token_lists.append(value.split())
            elif isinstance(value, (list, tuple)) and all(isinstance(t, str) for t in value):
                token_lists.append(list(value))
            else:
                raise RecordError(
                    i, f"a tag model reads a sentence or a list of token strings, got {value!r}"
                )
        data = TagData(None, artifacts=self.artifacts)
        words, chars, lengths, _ = data.collate([data.encode(t) for t in token_lists])
        with torch.no_grad():
            emissions = self(words.to(self.device), chars.to(self.device), lengths.to(self.device))
        labels = self.artifacts["labels"]
        paths = self.decode(emissions, lengths.to(self.device))
        return [
            {"tokens": toks, "tags": [labels[i] for i in p]} for toks, p in zip(token_lists, paths)
        ]

    def onnx_inputs(self, batch_size: int = 2, steps: int = 7) -> dict[str, Tensor]:
        words = torch.randint(1, len(self.artifacts["vocab"]), (batch_size, steps))
        chars = torch.randint(1, len(self.artifacts["chars"]), (batch_size, steps, 5))
        return {"words": words, "chars": chars, "lengths": torch.full((batch_size,), steps)}

    def onnx_forward(self, words: Tensor, chars: Tensor, lengths: Tensor) -> Tensor:
        """Per-step scores (N, T, C); with a CRF, decode them with its Viterbi outside ONNX."""
        return self(words, chars, lengths)
