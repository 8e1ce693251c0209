"""Language modelling (word or character): next-token prediction, perplexity and bits per
character, sampling with temperature and top-k from a prompt.

Two batchings (``data.batching``):

* ``stream`` — stateful truncated BPTT (Zaremba et al. 2014; Lightning 2 dropped its own). The
  token stream is cut into ``batch_size`` rows read left to right in chunks of ``bptt`` steps;
  each chunk starts from the detached final states of the previous chunk, and a row's state is
  reset where a new document begins, also mid-chunk (the chunk is run in segments between
  document starts). Validation and test carry their own states the same way.
* ``documents`` — each document (a name, a sentence) is one padded row starting from zero
  state; cheaper when documents are short.

``auto`` picks ``stream`` for ``documents: file`` and ``documents`` otherwise.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from deeprnn.models import InputConfig, RNNConfig, SequenceEncoder
from deeprnn.tasks._data import BOS, EOS, IGNORE, tokenize
from deeprnn.tasks.base import TaskModule


@dataclass
class LMConfig:
    """Embedding -> DeepRNN -> (projection) -> vocabulary scores. ``tie_weights`` shares the
    embedding matrix with the output layer (Press & Wolf 2017; a projection is added when the
    RNN's output size differs from ``input.embedding_dim``).

    ``adaptive_softmax: [c1, c2, ...]`` replaces the full softmax by an adaptive one (Grave et
    al. 2017, :class:`torch.nn.AdaptiveLogSoftmaxWithLoss`): the ``c1`` most frequent tokens
    and one entry per tail cluster are scored for every step, the tokens of cluster ``i``
    (ids ``c_i .. c_{i+1}``) only where the target lies there, through a projection shrunk by
    ``adaptive_div_value`` per cluster. Vocabularies are sorted by frequency, so on word
    corpora most targets stay in the head and a 20,000-word output costs a fraction of its
    full softmax. The model then returns log-probabilities instead of scores."""

    input: InputConfig = field(default_factory=InputConfig)
    rnn: RNNConfig = field(default_factory=RNNConfig)
    tie_weights: bool = False
    output_dropout: float = 0.0
    adaptive_softmax: list[int] | None = None
    adaptive_div_value: float = 4.0


class LanguageModel(TaskModule):
    """``forward(x (N, T), starts (N, T) | None, state) -> (logits (N, T, V), states)``
    (log-probabilities with ``adaptive_softmax``)."""

    config_class = LMConfig

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        cfg, art = self.config, self.artifacts
        if "vocab" not in art:
            raise ValueError("LanguageModel needs artifacts['vocab'] (from the data module)")
        vocab = len(art["vocab"])
        dim = cfg.input.embedding_dim
        # the same layout as Classify / Tag (encoder.input.embedding, encoder.rnn): a trained
        # language model initialises a classifier by name (finetune.init_from)
        self.encoder = SequenceEncoder(cfg.input, cfg.rnn, vocab=art["vocab"])
        size = self.encoder.rnn.output_size
        self.projection = None
        if cfg.tie_weights and size != dim:
            self.projection = nn.Linear(size, dim)
            size = dim
        self.drop_out = nn.Dropout(cfg.output_dropout)
        self.decoder = self.adaptive = None
        if cfg.adaptive_softmax is not None:
            self.adaptive = _adaptive_softmax(cfg, size, vocab)
        else:
            self.decoder = nn.Linear(size, vocab)
            if cfg.tie_weights:
                self.decoder.weight = self.encoder.input.embedding.weight
        self._carry: dict[str, object] = {}
        self.nll = nn.ModuleDict({f"{s}_": MeanMetric() for s in ("train", "val", "test")})

    # -- the model -------------------------------------------------------------------------------
    @property
    def rnn(self):
        return self.encoder.rnn

    def _features(self, out: Tensor) -> Tensor:
        if self.projection is not None:
            out = self.projection(out)
        return self.drop_out(out)

    def _scores(self, h: Tensor) -> Tensor:
        if self.adaptive is None:
            return self.decoder(h)
        return self.adaptive.log_prob(h.reshape(-1, h.shape[-1])).view(*h.shape[:-1], -1)

    def forward(self, x: Tensor, starts: Tensor | None = None, state=None, lengths=None):
        out, state = self.hidden(x, starts, state, lengths)
        return self._scores(out), state

    def hidden(self, x: Tensor, starts: Tensor | None = None, state=None, lengths=None):
        """The features the output layer scores, (N, T, F), and the final states."""
        emb = self.encoder.input(x, x != 0)  # (N, T, E), padding (id 0) zeroed
        steps = x.shape[1]
        if starts is None or lengths is not None:
            out, state = self.rnn(emb, lengths=lengths, initial_state=state)
            return self._features(out), state
        cols = starts[:, 1:].any(0).nonzero().flatten().add(1).tolist()
        bounds = [0, *cols, steps]
        outs = []
        for a, b in itertools.pairwise(bounds):
            if state is not None:
                keep = (~starts[:, a])[:, None].to(emb.dtype)  # (N, 1): 0 where a doc starts
                state = state.map(lambda t, keep=keep: t * keep)
            out, state = self.rnn(emb[:, a:b], initial_state=state)
            outs.append(out)
        return self._features(torch.cat(outs, dim=1)), state

    def _loss(self, h: Tensor, y: Tensor) -> Tensor:
        """Mean negative log-likelihood of the targets ``y`` (N, T) that are not ignored."""
        if self.adaptive is None:
            logits = self.decoder(h)
            return nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE
            )
        keep = y != IGNORE
        if not keep.any():
            return h.sum() * 0.0
        return self.adaptive(h[keep], y[keep]).loss

    def step(self, batch: dict, stage: str):
        if "starts" in batch:  # stream: carry the detached state across consecutive chunks
            h, state = self.hidden(batch["x"], batch["starts"], self._carry.get(stage))
            self._carry[stage] = state.detach()
        else:
            h, _ = self.hidden(batch["x"], lengths=batch["lengths"])
        y = batch["y"]
        loss = self._loss(h, y)
        count = int((y != IGNORE).sum())
        if count:
            self.nll[f"{stage}_"].update(loss.detach(), weight=count)
        return loss, {}

    def batch_size_of(self, batch) -> int:
        return int(batch["x"].shape[0])

    def _epoch_start(self, stage: str) -> None:
        self._carry.pop(stage, None)
        self.nll[f"{stage}_"].reset()

    def on_train_epoch_start(self) -> None:
        self._epoch_start("train")

    def on_validation_epoch_start(self) -> None:
        self._epoch_start("val")

    def on_test_epoch_start(self) -> None:
        self._epoch_start("test")

    def _epoch_end(self, stage: str) -> None:
        metric = self.nll[f"{stage}_"]
        if not metric.update_called:
            return
        nats = float(metric.compute())
        self.log(f"{stage}_ppl", math.exp(min(nats, 50.0)), prog_bar=stage != "train")
        # bits per token: per character for a character model (bpc), per word otherwise
        per = "bpc" if self.artifacts.get("level", "char") == "char" else "bpw"
        self.log(f"{stage}_{per}", nats / math.log(2))

    def on_train_epoch_end(self) -> None:
        self._epoch_end("train")

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")

    # -- sampling --------------------------------------------------------------------------------
    def _tokens(self, text: str) -> list[str]:
        art = self.artifacts
        return tokenize(text, art.get("level", "char"), art.get("lower", False))

    @torch.no_grad()
    def generate(
        self,
        prompt: str = "",
        max_new_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> str:
        """Continue ``prompt``: sample tokens from the softmax at ``temperature`` among the
        ``top_k`` most likely, until ``<eos>`` or ``max_new_tokens``. Returns prompt + sample."""
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens!r}")
        art = self.artifacts
        itos = art["vocab"]
        stoi = {t: i for i, t in enumerate(itos)}
        tokens = self._tokens(prompt)
        ids = ([stoi[BOS]] if art.get("add_bos") and BOS in stoi else []) + [
            stoi.get(t, 1) for t in tokens
        ]
        if not ids:
            ids = [stoi.get(EOS, 1)]
        gen = torch.Generator(device="cpu")
        if seed is not None:
            gen.manual_seed(seed)
        was_training = self.training
        self.eval()
        x = torch.tensor([ids], device=self.device)
        logits, state = self(x)
        out: list[str] = []
        banned = [0, stoi.get(BOS, 0), 1]  # never sample [PAD], <bos> or [UNK]
        for _ in range(max_new_tokens):
            scores = logits[0, -1].float().cpu() / temperature
            scores[banned] = float("-inf")
            if top_k is not None:
                kth = torch.topk(scores, min(top_k, scores.numel())).values[-1]
                scores[scores < kth] = float("-inf")
            nxt = int(torch.multinomial(torch.softmax(scores, -1), 1, generator=gen))
            if itos[nxt] == EOS and art.get("add_eos"):
                break
            out.append(itos[nxt])
            logits, state = self(torch.tensor([[nxt]], device=self.device), state=state)
        self.train(was_training)
        sep = "" if art.get("level", "char") == "char" else " "
        return sep.join([*tokens, *out]) if sep else prompt + "".join(out)

    def predict_raw(self, records: list, **options) -> list[dict]:
        """Prompts (lines) -> ``{"prompt", "text"}`` (``max_new_tokens``, ``temperature``,
        ``top_k``, ``seed`` as options)."""
        from deeprnn._validation import RecordError, check_record_fields

        prompts = []
        for i, r in enumerate(records):
            check_record_fields(i, r, "lm", any_of=("prompt", "text"))
            prompt = r.get("prompt", r.get("text")) if isinstance(r, dict) else r
            if not isinstance(prompt, str):
                raise RecordError(i, f"a lm model reads a text prompt, got {prompt!r}")
            prompts.append(prompt)
        seed = options.pop("seed", None)
        out = []
        for i, prompt in enumerate(prompts):
            s = None if seed is None else seed + i
            out.append({"prompt": prompt, "text": self.generate(prompt, seed=s, **options)})
        return out

    def extra_metrics(self, dm) -> dict:
        """Three samples from an empty prompt, for metrics.json."""
        return {"samples": [self.generate("", 80, temperature=0.8, seed=i) for i in range(3)]}

    def onnx_inputs(self, batch_size: int = 2, steps: int = 7) -> dict[str, Tensor]:
        x = torch.randint(1, len(self.artifacts["vocab"]), (batch_size, steps))
        return {"x": x, "lengths": torch.full((batch_size,), steps)}

    def onnx_forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Next-token scores (N, T, V) of a padded batch, from zero states."""
        return self(x, lengths=lengths)[0]


def _adaptive_softmax(cfg: LMConfig, size: int, vocab: int) -> nn.AdaptiveLogSoftmaxWithLoss:
    cutoffs = cfg.adaptive_softmax
    if cfg.tie_weights:
        raise ValueError("model.adaptive_softmax cannot be combined with model.tie_weights")
    ok = all(isinstance(c, int) and not isinstance(c, bool) for c in cutoffs)
    if not (ok and cutoffs and all(a < b for a, b in itertools.pairwise([0, *cutoffs, vocab]))):
        raise ValueError(
            "model.adaptive_softmax must be increasing integers in (0, "
            f"{vocab}) (the vocabulary size), got {cutoffs!r}"
        )
    if not cfg.adaptive_div_value >= 1:
        raise ValueError(f"model.adaptive_div_value must be >= 1, got {cfg.adaptive_div_value!r}")
    return nn.AdaptiveLogSoftmaxWithLoss(
        size, vocab, list(cutoffs), div_value=float(cfg.adaptive_div_value)
    )
