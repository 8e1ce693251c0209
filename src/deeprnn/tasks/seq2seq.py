r"""The ``seq2seq`` task: an encoder-decoder with attention trained with teacher forcing,
evaluated by decoding (greedy or beam search) with BLEU and chrF from sacrebleu.

Importing this module registers the task, so ``task: seq2seq`` in a run config (and
``deeprnn train | evaluate | predict | export``) needs nothing else::

    task: seq2seq
    data: {source: parallel, dir: ../shared/data/multi30k, src_lang: en, tgt_lang: de,
           splits: {train: train, val: val, test: test2016}, lower: true, min_freq: 2}
    model: {embedding_size: 256, hidden_size: 512, attention: bahdanau, beam_width: 5}

Metrics: ``*_loss`` (token cross-entropy), ``*_token_acc`` (teacher-forced), and from decoding
``*_bleu`` / ``*_chrf`` (sacrebleu's corpus scores on detokenised text against the raw
references; lower-cased when ``data.lower``) and ``*_exact`` (exact-match rate). Validation
decodes greedily (``model.val_decode`` limits how many examples); test decodes with
``model.beam_width``. After ``trainer.test`` inside a run folder, attention heatmaps of the
first test examples are written to ``RUN_DIR/attention_{i}.png``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lightning.pytorch as pl
import torch
from torch import Tensor

from deeprnn._run_folder import RunFolder
from deeprnn.data.vocab import Vocab
from deeprnn.seq2seq.model import Seq2Seq
from deeprnn.seq2seq.objectives import sequence_loss, teacher_forcing_ratio
from deeprnn.tasks.base import TaskModule, gather_objects
from deeprnn.tasks.seq2seq_data import Seq2SeqData, detokenize, tokenize


@dataclass
class Seq2SeqConfig:
    """The :class:`~deeprnn.seq2seq.Seq2Seq` model (its arguments, same names), the training
    objective and the decoding used for evaluation.

    ``teacher_forcing``: the ratio, or with ``teacher_forcing_schedule`` other than
    ``constant`` the schedule of :func:`~deeprnn.seq2seq.teacher_forcing_ratio` over training
    steps (``teacher_forcing_k``, floored at ``teacher_forcing_min``). ``beam_width`` /
    ``length_penalty`` / ``max_len_a`` + ``max_len_b`` (at most ``a * S + b`` tokens) are the
    test and predict decoding; ``val_decode`` is how many validation examples are decoded each
    epoch for BLEU (``0``: none, ``null``: all)."""

    embedding_size: int = 256
    hidden_size: int = 256
    encoder_hidden_size: int | None = None
    encoder_layers: int = 1
    decoder_layers: int = 1
    cell: str = "gru"
    encoder_cell: str | None = None
    bidirectional: bool = True
    attention: Literal["bahdanau", "luong_dot", "luong_general", "luong_concat"] | None = "bahdanau"
    attention_size: int | None = None
    input_feeding: bool = False
    dropout: float = 0.0
    share_embeddings: bool = False
    tie_embeddings: bool = False
    reverse_source: bool = False
    bridge: Literal["linear", "copy", "none"] = "linear"
    teacher_forcing: float = 1.0
    teacher_forcing_schedule: Literal["constant", "linear", "exponential", "inverse_sigmoid"] = (
        "constant"
    )
    teacher_forcing_k: float = 1000.0
    teacher_forcing_min: float = 0.0
    label_smoothing: float = 0.0
    beam_width: int = 1
    length_penalty: float = 0.0
    max_len_a: float = 1.5
    max_len_b: int = 10
    val_decode: int | None = 1000

    def validate(self, where: str) -> None:
        from deeprnn.seq2seq.decoder import NO_DECODER_CELLS

        if self.cell in NO_DECODER_CELLS:
            raise ValueError(
                f"{where}.cell: {self.cell!r} cannot be a decoder cell: "
                f"{NO_DECODER_CELLS[self.cell]} (model.encoder_cell may be {self.cell!r})"
            )
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise ValueError(
                f"{where}.teacher_forcing must be in [0, 1], got {self.teacher_forcing!r}"
            )
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(
                f"{where}.label_smoothing must be in [0, 1), got {self.label_smoothing!r}"
            )
        if self.beam_width < 1:
            raise ValueError(f"{where}.beam_width must be >= 1, got {self.beam_width!r}")
        if self.val_decode is not None and self.val_decode < 0:
            raise ValueError(f"{where}.val_decode must be >= 0 or null, got {self.val_decode!r}")

    def model_kwargs(self) -> dict:
        names = inspect.signature(Seq2Seq).parameters
        return {k: v for k, v in vars(self).items() if k in names}


class Seq2SeqTask(TaskModule):
    """``forward(src (N, S), tgt (N, T)) -> Seq2SeqOutput``; ``translate(texts)`` decodes."""

    config_class = Seq2SeqConfig

    def __init__(self, config=None, artifacts=None, **kwargs):
        super().__init__(config, artifacts, **kwargs)
        art = self.artifacts
        for key in ("src_vocab", "tgt_vocab", "level", "lower"):
            if key not in art:
                raise ValueError(f"Seq2SeqTask needs artifacts[{key!r}] (from the data module)")
        self.src_vocab = Vocab.from_dict(art["src_vocab"], "artifacts.src_vocab")
        self.tgt_vocab = Vocab.from_dict(art["tgt_vocab"], "artifacts.tgt_vocab")
        cfg = self.config
        if cfg.share_embeddings and self.src_vocab != self.tgt_vocab:
            raise ValueError("model.share_embeddings needs data.shared_vocab: true")
        v = self.tgt_vocab
        self.model = Seq2Seq(
            len(self.src_vocab),
            len(v),
            go_id=v.go_id,
            eos_id=v.eos_id,
            pad_id=v.pad_id,
            **cfg.model_kwargs(),
        )
        self._decoded: dict[str, list] = {}

    def forward(self, src: Tensor, tgt: Tensor, teacher_forcing: float = 1.0):
        return self.model(src, tgt, teacher_forcing)

    def batch_size_of(self, batch) -> int:
        return int(batch["src"].shape[0])

    # -- training and evaluation -----------------------------------------------------------------
    def teacher_forcing_now(self, step: int | None = None) -> float:
        """The teacher-forcing ratio at ``step`` (default: the trainer's global step)."""
        cfg = self.config
        if cfg.teacher_forcing_schedule == "constant":
            return cfg.teacher_forcing
        return teacher_forcing_ratio(
            self.global_step if step is None else step,
            cfg.teacher_forcing_schedule,
            cfg.teacher_forcing_k,
            cfg.teacher_forcing_min,
        )

    def step(self, batch: dict, stage: str):
        src, tgt = batch["src"], batch["tgt"]
        ratio = self.teacher_forcing_now() if stage == "train" else 1.0
        out = self(src, tgt, ratio)
        smoothing = self.config.label_smoothing if stage == "train" else 0.0
        loss = sequence_loss(out.logits, tgt, self.tgt_vocab.pad_id, smoothing)
        real = tgt != self.tgt_vocab.pad_id
        acc = ((out.logits.argmax(-1) == tgt) & real).sum() / real.sum().clamp(min=1)
        metrics = {"token_acc": acc}
        if stage == "train":
            metrics["teacher_forcing"] = ratio
        elif self._decode_this(stage, batch):
            width = self.config.beam_width if stage == "test" else 1
            hyp = self.decode_ids(src, beam_width=width)
            self._decoded.setdefault(stage, []).extend(
                zip(batch["index"].tolist(), hyp, strict=True)
            )
        return loss, metrics

    def _decode_this(self, stage: str, batch: dict) -> bool:
        limit = None if stage == "test" else self.config.val_decode
        if limit is None:
            return True
        return limit > 0 and int(batch["index"].min()) < limit

    def decode_ids(self, src: Tensor, beam_width: int = 1, return_attention: bool = False):
        """Token ids of the best hypothesis per row (``<eos>`` and padding removed)."""
        cfg = self.config
        max_len = int(cfg.max_len_a * src.shape[1] + cfg.max_len_b)
        hyp = self.model.generate(
            src,
            beam_width=beam_width,
            max_len=max_len,
            length_penalty=cfg.length_penalty,
            return_attention=return_attention,
        )
        rows = [row[:n] for row, n in zip(hyp.tokens.tolist(), hyp.lengths.tolist())]
        rows = [r[:-1] if r and r[-1] == self.tgt_vocab.eos_id else r for r in rows]
        return (rows, hyp) if return_attention else rows

    def detokenize_ids(self, ids: list[int]) -> str:
        return detokenize(self.tgt_vocab.decode(ids, skip_specials=True), self.artifacts["level"])

    def on_validation_epoch_start(self) -> None:
        self._decoded.pop("val", None)

    def on_test_epoch_start(self) -> None:
        self._decoded.pop("test", None)

    def _scores(self, stage: str) -> None:
        decoded = gather_objects(self, self._decoded.pop(stage, []))
        dm = getattr(self.trainer, "datamodule", None)
        if not decoded or dm is None:
            return
        refs_all = dm.references[dm.split_name(stage)]
        decoded = sorted(dict(decoded).items())  # by example index, duplicates dropped
        hyps = [self.detokenize_ids(ids) for _, ids in decoded]
        refs = [refs_all[i] for i, _ in decoded]
        for name, value in corpus_scores(hyps, refs, lowercase=self.artifacts["lower"]).items():
            self.log(f"{stage}_{name}", value, prog_bar=name == "bleu")

    def on_validation_epoch_end(self) -> None:
        self._scores("val")

    def on_test_epoch_end(self) -> None:
        self._scores("test")

    def configure_callbacks(self):
        return [AttentionFigures()]

    # -- inference -------------------------------------------------------------------------------
    def encode_sources(self, texts: list[str]) -> Tensor:
        """Raw source texts -> padded ids (N, S); an empty text is an error naming it."""
        art = self.artifacts
        rows = []
        for i, text in enumerate(texts):
            toks = tokenize(text, art["level"], art["lower"])
            if not toks:
                raise ValueError(f"source {i} is empty after tokenisation: {text!r}")
            rows.append(self.src_vocab.encode(toks))
        from deeprnn.tasks._data import pad_ids

        return pad_ids(rows)[0]

    @torch.no_grad()
    def translate(
        self, texts: list[str], beam_width: int | None = None, return_attention: bool = False
    ) -> list[dict]:
        """Decode raw texts: ``{"source", "translation", "score"}`` (+ ``attention`` (T, S)
        and the token lists when asked)."""
        was_training = self.training
        self.eval()
        src = self.encode_sources(texts).to(self.device)
        width = self.config.beam_width if beam_width is None else beam_width
        rows, hyp = self.decode_ids(src, width, return_attention=True)
        self.train(was_training)
        out = []
        for i, (text, ids) in enumerate(zip(texts, rows)):
            item = {
                "source": text,
                "translation": self.detokenize_ids(ids),
                "score": float(hyp.scores[i]),
            }
            if return_attention and hyp.attention is not None:
                s = int((src[i] != self.src_vocab.pad_id).sum())
                item["attention"] = hyp.attention[i, : len(ids), :s].cpu()
                item["src_tokens"] = self.src_vocab.decode(src[i, :s].tolist())
                item["tgt_tokens"] = self.tgt_vocab.decode(ids)
            out.append(item)
        return out

    def predict_raw(self, records: list, **options) -> list[dict]:
        """Source lines (or ``{"source": ...}`` rows) -> ``{"source", "translation", "score"}``;
        option ``beam_width``."""
        texts = [
            r.get("source", r.get("text", "")) if isinstance(r, dict) else str(r) for r in records
        ]
        return self.translate(texts, beam_width=options.get("beam_width"))

    def extra_metrics(self, dm) -> dict:
        """Five test translations beside their references, for metrics.json and the report."""
        split = dm.split_name("test")
        texts, refs = dm.sources[split][:5], dm.references[split][:5]
        rows = self.translate(texts)
        return {
            "samples": [
                {"source": r["source"], "reference": ref, "translation": r["translation"]}
                for r, ref in zip(rows, refs)
            ]
        }

    def onnx_inputs(self, batch_size: int = 2, steps: int = 7) -> dict[str, Tensor]:
        low = 4  # after [PAD], [UNK], <go>, <eos>
        src = torch.randint(low, max(low + 1, len(self.src_vocab)), (batch_size, steps))
        tgt = torch.randint(low, max(low + 1, len(self.tgt_vocab)), (batch_size, steps))
        return {"src": src, "tgt": tgt}

    def onnx_forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """Teacher-forced scores (N, T, V)."""
        return self(src, tgt).logits


def corpus_scores(hyps: list[str], refs: list[str], lowercase: bool = False) -> dict[str, float]:
    """sacrebleu corpus BLEU (13a tokenisation) and chrF, and the exact-match rate, in 0-100."""
    import sacrebleu

    if len(hyps) != len(refs):
        raise ValueError(
            f"hyps and refs must have the same length, got {len(hyps)} and {len(refs)}"
        )
    bleu = sacrebleu.corpus_bleu(hyps, [refs], lowercase=lowercase)
    chrf = sacrebleu.corpus_chrf(hyps, [[r.lower() for r in refs] if lowercase else refs])
    norm = (lambda s: s.lower()) if lowercase else (lambda s: s)
    exact = sum(norm(h).strip() == norm(r).strip() for h, r in zip(hyps, refs))
    return {
        "bleu": float(bleu.score),
        "chrf": float(chrf.score),
        "exact": 100.0 * exact / max(1, len(hyps)),
    }


class AttentionFigures(pl.Callback):
    """After testing inside a run folder, plot the attention of the first test examples."""

    def __init__(self, examples: int = 4):
        self.examples = examples

    def on_test_end(self, trainer, pl_module) -> None:
        root = Path(trainer.default_root_dir)
        dm = getattr(trainer, "datamodule", None)
        if not trainer.is_global_zero or dm is None or not RunFolder(root).is_run():
            return  # not a run folder (deeprnn evaluate): write nothing beside the user's files
        if pl_module.model.decoder.attention is None:
            return
        try:
            write_attention_figures(pl_module, dm, root, self.examples)
        except Exception as e:  # a figure must never cost the run its metrics and export
            import warnings

            warnings.warn(f"attention figures not written: {e}", stacklevel=1)


def write_attention_figures(task: Seq2SeqTask, dm: Seq2SeqData, folder, examples: int = 4):
    """Heatmaps of the greedy decoding's attention for the first ``examples`` test sources:
    ``folder/attention_{i}.png``. Returns the paths. A source decoded to nothing (``<eos>``
    first, as an untrained model may) has no attention to show: no figure."""
    from deeprnn.viz.attention import plot_attention

    split = dm.split_name("test")
    rows = task.translate(dm.sources[split][:examples], beam_width=1, return_attention=True)
    paths = []
    for i, (r, ref) in enumerate(zip(rows, dm.references[split])):
        if not r["tgt_tokens"]:
            continue
        title = f"{r['source'][:60]}\n-> {r['translation'][:60]}\n(ref: {ref[:60]})"
        path = RunFolder(folder).attention_figure(i)
        paths.append(plot_attention(r["attention"], r["src_tokens"], r["tgt_tokens"], path, title))
    return paths
