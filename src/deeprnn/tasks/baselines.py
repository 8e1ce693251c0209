"""Every task's baselines, scored on exactly the splits the model is scored on.

``metrics.json`` gets ``{stage}_{prefix}{name}`` for ``stage`` in ``val`` and ``test`` (the
test split, or the validation split where the data has none, as the model's test metrics):
the prefixes and their labels are :data:`deeprnn._headline.BASELINES`. Each baseline is fitted
on the training split alone:

* classify: ``majority`` (the training split's most frequent class: acc, macro F1); text:
  ``tfidf`` (TF-IDF word 1-2-grams + char 2-5-grams, logistic regression with C chosen on the
  validation split); numeric series: ``minirocket`` (aeon's MiniRocket + ridge classifier;
  needs the ``deeprnn[baselines]`` extra);
* tag: ``mft``, the most frequent training tag of each word (words not in training: the most
  frequent tag overall), scored with the same seqeval entity F1 and token accuracy;
* lm: ``unigram`` and ``trigram`` (interpolated Kneser-Ney) perplexity / bits per token on the
  tokens the model predicts (:mod:`deeprnn.tasks._ngram`);
* seq2seq: ``copy``, the source as the prediction, scored with the same sacrebleu BLEU / chrF;
* regress: ``mean``, the training targets' mean (MSE / MAE);
* forecast: ``ets`` and ``arima`` (statsforecast's AutoETS / AutoARIMA,
  :func:`deeprnn.tasks.forecast.baselines.classical`); naive and seasonal naive are scored by
  the model itself (:class:`~deeprnn.tasks.forecast.metrics.ForecastScorer`).

The top-level key ``baselines`` chooses them: ``true`` (the default) every one of the task's,
the costly ones within a size cap (beyond it one line says it was skipped); ``false`` none (the
forecaster's naive / seasonal naive, part of its metrics, stay); a list of names exactly those,
caps lifted. A baseline whose optional package is missing says in one line which extra gives it.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from deeprnn._validation import MissingExtraError
from deeprnn.tasks._baseline_util import skipped, stages

log = logging.getLogger("deeprnn.baselines")

#: task -> its baselines' names (the prefixes of :data:`deeprnn._headline.BASELINES`)
NAMES: dict[str, tuple[str, ...]] = {
    "classify": ("majority", "tfidf", "minirocket"),
    "tag": ("mft",),
    "lm": ("unigram", "trigram"),
    "seq2seq": ("copy",),
    "regress": ("mean",),
    "forecast": ("ets", "arima"),
}
ALL_NAMES = tuple(dict.fromkeys(n for names in NAMES.values() for n in names))

#: the costly baselines run by default only below these training sizes (``baselines: true``)
# (measured on a shared 2-core CPU: TF-IDF + LR on 2,000 reviews, 2.6M characters, 1.5 min;
# on 22,500, 29M characters, 23 min; MiniRocket on 7,200 series of 784 values 7 min)
TFIDF_MAX_CHARS = 5_000_000  # the training documents' characters
MINIROCKET_MAX_VALUES = 2_000_000  # training series x steps x channels
TRIGRAM_MAX_TOKENS = 5_000_000


def check_selection(value, where: str = "baselines") -> None:
    """``value`` must be ``true``, ``false`` or a list of known baseline names."""
    if isinstance(value, bool):
        return
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be true, false or a list of names, got {value!r}")
    unknown = [v for v in value if v not in ALL_NAMES]
    if unknown:
        raise ValueError(
            f"{where} names unknown baseline(s) {unknown}; the baselines are {list(ALL_NAMES)}"
        )


def chosen(task: str, selection) -> tuple[list[str], bool]:
    """``(names, explicit)``: the baselines of ``task`` that ``selection`` (the ``baselines``
    key) asks for, and whether it named them (then the size caps are lifted)."""
    check_selection(selection)
    names = NAMES.get(task, ())
    if selection is True:
        return list(names), False
    if selection is False:
        return [], False
    return [n for n in names if n in selection], True


def compute(task: str, dm, selection=True) -> dict:
    """The baselines' metrics of the prepared data module ``dm`` of ``task``."""
    names, explicit = chosen(task, selection)
    if not names:
        return {}
    if task == "forecast":
        from deeprnn.tasks.forecast.baselines import classical

        return classical(dm, names, explicit)
    fn = {
        "classify": _classify,
        "tag": _tag,
        "lm": _lm,
        "seq2seq": _seq2seq,
        "regress": _regress,
    }.get(task)
    return fn(dm, names, explicit) if fn is not None else {}


# -- classify -------------------------------------------------------------------------------------
def _accuracy_f1(true: np.ndarray, pred: np.ndarray, n_classes: int) -> dict:
    """Accuracy and macro F1 over the ``n_classes`` (torchmetrics' macro F1: classes with no
    example and no prediction left out)."""
    from sklearn.metrics import f1_score

    labels = sorted(set(true.tolist()) | set(pred.tolist()))
    f1 = f1_score(true, pred, labels=labels, average="macro", zero_division=0)
    return {"acc": float((true == pred).mean()), "f1": float(f1)}


def _classify(dm, names: list[str], explicit: bool) -> dict:
    raw = dm.raw_splits
    n_classes = len(dm.artifacts["labels"])
    index = {label: i for i, label in enumerate(dm.artifacts["labels"])}
    ys = {s: np.array([index[str(y)] for _, y in items]) for s, items in raw.items()}
    out: dict = {}
    if "majority" in names:
        top = Counter(ys["train"].tolist()).most_common()
        majority = min(c for c, n in top if n == top[0][1])  # ties: the first label
        for stage, split in stages(dm).items():
            scores = _accuracy_f1(ys[split], np.full_like(ys[split], majority), n_classes)
            out.update({f"{stage}_majority_{k}": v for k, v in scores.items()})
    text = isinstance(raw["train"][0][0], (str, list, tuple))
    if "tfidf" in names and text:
        chars = sum(len(_as_text(x)) for x, _ in raw["train"])
        if chars > TFIDF_MAX_CHARS and not explicit:
            skipped(
                "tfidf",
                f"{chars} characters of training text > {TFIDF_MAX_CHARS}; name it in the "
                "baselines key to run it (minutes)",
            )
        else:
            out.update(_tfidf(dm, raw, ys, n_classes))
    if "minirocket" in names and not text:
        size = sum(np.asarray(x).size for x, _ in raw["train"])
        if size > MINIROCKET_MAX_VALUES and not explicit:
            skipped(
                "minirocket",
                f"{size} training values > {MINIROCKET_MAX_VALUES}; name it "
                "in the baselines key to run it (minutes)",
            )
        else:
            try:
                out.update(_minirocket(dm, raw, ys, n_classes))
            except MissingExtraError as e:
                skipped("minirocket", str(e))
    return out


def _as_text(x) -> str:
    return x if isinstance(x, str) else " ".join(map(str, x))


def _tfidf(dm, raw: dict, ys: dict, n_classes: int) -> dict:
    """TF-IDF word 1-2-grams and char_wb 2-5-grams (fitted on train), logistic regression with
    C in (0.1, 1, 10, 100) chosen by validation accuracy."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    lower = bool(dm.artifacts.get("lower", True))
    vecs = [
        TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=lower, max_features=200_000
        ),
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            min_df=2,
            sublinear_tf=True,
            lowercase=lower,
            max_features=200_000,
        ),
    ]
    docs = {s: [_as_text(x) for x, _ in items] for s, items in raw.items()}
    feats = {"train": hstack([v.fit_transform(docs["train"]) for v in vecs]).tocsr()}
    for s in docs:
        if s != "train":
            feats[s] = hstack([v.transform(docs[s]) for v in vecs]).tocsr()
    c, how, clf = _tfidf_c(dm, feats, ys)
    log.info("baseline tfidf: logistic regression C=%g (%s)", c, how)
    out: dict = {}
    for stage, split in stages(dm).items():
        scores = _accuracy_f1(ys[split], clf.predict(feats[split]), n_classes)
        out.update({f"{stage}_tfidf_{k}": v for k, v in scores.items()})
    return out


def _tfidf_c(dm, feats: dict, ys: dict):
    """``(C, how it was chosen, the logistic regression fitted on train with it)``, C in (0.1, 1,
    10, 100): the best validation accuracy, or where the val split is not held out (a refit)
    the best mean accuracy of a stratified k-fold cross-validation (k <= 5) of the training
    split; the first of ties."""
    from sklearn.linear_model import LogisticRegression

    def fit(c):
        return LogisticRegression(C=c, max_iter=2000).fit(feats["train"], ys["train"])

    grid = (0.1, 1.0, 10.0, 100.0)
    if getattr(dm, "val_held_out", True):
        fitted = [fit(c) for c in grid]
        accs = [float((clf.predict(feats["val"]) == ys["val"]).mean()) for clf in fitted]
        best = int(np.argmax(accs))
        return grid[best], "the best validation accuracy", fitted[best]
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    k = min(5, min(Counter(ys["train"].tolist()).values()))
    if k < 2:
        why = "the default: a class has one training example, too few to cross-validate"
        return 1.0, why, fit(1.0)
    cv = StratifiedKFold(k, shuffle=True, random_state=0)
    accs = [
        cross_val_score(
            LogisticRegression(C=c, max_iter=2000), feats["train"], ys["train"], cv=cv
        ).mean()
        for c in grid
    ]
    c = grid[int(np.argmax(accs))]
    return c, f"the best {k}-fold accuracy on the training split", fit(c)


def _padded(series: list, length: int) -> np.ndarray:
    """(N, F, length) float array: each (T, F) series cut or zero-padded at the end."""
    f = np.asarray(series[0]).shape[-1]
    out = np.zeros((len(series), f, length), dtype=np.float64)
    for i, x in enumerate(series):
        x = np.asarray(x, dtype=np.float64)[:length]
        out[i, :, : len(x)] = x.T
    return out


def _minirocket(dm, raw: dict, ys: dict, n_classes: int) -> dict:
    """aeon's MiniRocketClassifier (10,000 kernels, ridge classifier with its own CV over the
    regularisation), seed 0; series of unequal length are zero-padded (or cut) at the end to the
    longest training series, at least 9 steps."""
    from deeprnn._validation import require

    require("aeon", "the minirocket baseline")
    from aeon.classification.convolution_based import MiniRocketClassifier

    lengths = [len(x) for x, _ in raw["train"]]
    length = max(9, max(lengths))
    if len(set(lengths)) > 1:
        log.info("baseline minirocket: series zero-padded at the end to %d steps", length)
    x = {s: _padded([a for a, _ in items], length) for s, items in raw.items()}
    clf = MiniRocketClassifier(random_state=0).fit(x["train"], ys["train"])
    out: dict = {}
    for stage, split in stages(dm).items():
        scores = _accuracy_f1(ys[split], np.asarray(clf.predict(x[split])), n_classes)
        out.update({f"{stage}_minirocket_{k}": v for k, v in scores.items()})
    return out


# -- tag --------------------------------------------------------------------------------------------
def most_frequent_tags(train: list) -> tuple[dict, int]:
    """``({word id: its most frequent tag id}, the most frequent tag id overall)`` of encoded
    training sentences ``(word ids, char ids, tag ids)`` (ties: the smaller tag id)."""
    per_word: dict[int, Counter] = {}
    overall: Counter = Counter()
    for words, _, tags in train:
        for w, t in zip(words, tags):
            per_word.setdefault(w, Counter())[t] += 1
            overall[t] += 1

    def top(c: Counter) -> int:
        best = max(c.values())
        return min(t for t, n in c.items() if n == best)

    return {w: top(c) for w, c in per_word.items()}, top(overall)


def _tag(dm, names: list[str], explicit: bool) -> dict:
    from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

    table, fallback = most_frequent_tags(dm.splits["train"])
    unk = dm.artifacts["vocab"].index("[UNK]") if "[UNK]" in dm.artifacts["vocab"] else None
    if unk is not None:
        table.pop(unk, None)  # words unseen in training (or rarer than min_freq): the overall tag
    labels = dm.artifacts["labels"]
    out: dict = {}
    for stage, split in stages(dm).items():
        true, pred = [], []
        for words, _, tags in dm.splits[split]:
            true.append([labels[t] for t in tags])
            pred.append([labels[table.get(w, fallback)] for w in words])
        out[f"{stage}_mft_f1"] = float(f1_score(true, pred, zero_division=0))
        out[f"{stage}_mft_precision"] = float(precision_score(true, pred, zero_division=0))
        out[f"{stage}_mft_recall"] = float(recall_score(true, pred, zero_division=0))
        out[f"{stage}_mft_acc"] = float(accuracy_score(true, pred))
    return out


# -- lm ---------------------------------------------------------------------------------------------
def _lm(dm, names: list[str], explicit: bool) -> dict:
    import math

    from deeprnn.tasks._data import BOS
    from deeprnn.tasks._ngram import KneserNey, Unigram, scored_tokens

    itos = dm.artifacts["vocab"]
    per = "bpc" if dm.artifacts.get("level", "char") == "char" else "bpw"
    bos = itos.index(BOS) if BOS in itos else None  # never a target
    train = scored_tokens(dm, "train")
    models = {}
    if "unigram" in names:
        models["unigram"] = Unigram(train, len(itos))
    if "trigram" in names:
        n = sum(len(s) for s in train)
        if n > TRIGRAM_MAX_TOKENS and not explicit:
            skipped(
                "trigram",
                f"{n} training tokens > {TRIGRAM_MAX_TOKENS}; name it in the "
                "baselines key to run it",
            )
        else:
            models["trigram"] = KneserNey(train, len(itos), order=3)
    out: dict = {}
    for stage, split in stages(dm).items():
        seqs = scored_tokens(dm, split)
        for name, model in models.items():
            nats = model.nats(seqs, skip=bos)
            out[f"{stage}_{name}_ppl"] = math.exp(min(nats, 50.0))
            out[f"{stage}_{name}_{per}"] = nats / math.log(2)
    return out


# -- seq2seq ----------------------------------------------------------------------------------------
def _seq2seq(dm, names: list[str], explicit: bool) -> dict:
    from deeprnn.tasks.seq2seq import corpus_scores

    lowercase = bool(dm.artifacts.get("lower", False))
    out: dict = {}
    for stage, split in stages(dm).items():
        scores = corpus_scores(dm.sources[split], dm.references[split], lowercase=lowercase)
        out.update({f"{stage}_copy_{k}": v for k, v in scores.items()})
    return out


# -- regress ----------------------------------------------------------------------------------------
def _regress(dm, names: list[str], explicit: bool) -> dict:
    mean = np.asarray(dm.artifacts["train_mean"], dtype=np.float64)
    out: dict = {}
    for stage, split in stages(dm).items():
        y = np.stack([np.asarray(item[-1], dtype=np.float64) for item in dm.splits[split]])
        err = y - mean
        out[f"{stage}_mean_mse"] = float((err**2).mean())
        out[f"{stage}_mean_mae"] = float(np.abs(err).mean())
    return out
