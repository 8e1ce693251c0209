"""The data path end to end, and the docstring examples of deeprnn.data."""

import doctest
import importlib
import pkgutil

import pytest
import torch
from torch.utils.data import DataLoader

import deeprnn
import deeprnn.data
from deeprnn.data import BucketBatchSampler, CharTokenizer, PadCollate, Vocab, read_names


def _modules_with_examples() -> list[str]:
    """The public ``deeprnn.data`` modules whose docstrings hold ``>>>`` examples that run."""
    import inspect

    names = []
    for m in pkgutil.iter_modules(deeprnn.data.__path__):
        if m.name.startswith("_"):
            continue
        module = importlib.import_module(f"deeprnn.data.{m.name}")
        lines = inspect.getsource(module).splitlines()
        if any(">>>" in line and "doctest: +SKIP" not in line for line in lines):
            names.append(m.name)  # examples that run (not all marked +SKIP)
    return sorted(names)


WITH_EXAMPLES = _modules_with_examples()


def test_the_doctest_run_has_modules_to_run():
    assert len(WITH_EXAMPLES) >= 3, WITH_EXAMPLES


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    module = importlib.import_module(f"deeprnn.data.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"deeprnn.data.{name}: no example ran"
    assert result.failed == 0


def test_public_names_are_exported():
    for name in deeprnn.data.__all__:
        assert getattr(deeprnn.data, name) is not None


def test_names_to_lstm(tmp_path):
    (tmp_path / "Greek.txt").write_text("Adamos\nAlexandropoulos\nKalogeropoulos\n")
    (tmp_path / "Korean.txt").write_text("Ahn\nBaik\nPark\nYi\n")
    data = read_names(tmp_path)
    tok = CharTokenizer(lower=True)
    vocab = Vocab.build(tok(n) for n in data.names)
    samples = [(vocab.encode(tok(n)), y) for n, y in data]
    sampler = BucketBatchSampler([len(x) for x, _ in samples], batch_size=3, seed=0)
    loader = DataLoader(samples, batch_sampler=sampler, collate_fn=PadCollate())
    emb = torch.nn.Embedding(len(vocab), 8, padding_idx=vocab.pad_id)
    lstm = deeprnn.LSTM(8, 16)
    seen = 0
    for ids, lengths, labels in loader:
        out = lstm(emb(ids), lengths=lengths)[0]
        assert out.shape == (len(lengths), int(lengths.max()), 16)
        seen += len(labels)
    assert seen == len(data) == 7
