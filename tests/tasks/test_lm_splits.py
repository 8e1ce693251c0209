"""Where each split of the language-model task comes from (issue 26 item 1): a file of its
own wins, and every split without one is carved from the base text, never a silent stand-in."""

from __future__ import annotations

import pytest

from deeprnn.tasks import LMData, LMDataConfig

BASE = "".join(f"base line {i} " for i in range(200))
TEST = "nil sea " * 40  # characters of the base, in an order the base never has
VAL = "bbbb " * 30


def _data(tmp_path, **keys) -> LMData:
    (tmp_path / "base.txt").write_text(BASE)
    (tmp_path / "test.txt").write_text(TEST)
    (tmp_path / "val.txt").write_text(VAL)
    paths = {k: str(tmp_path / v) for k, v in keys.items() if k.endswith("path")}
    other = {k: v for k, v in keys.items() if not k.endswith("path")}
    return LMData(LMDataConfig(**paths, **other), batch_size=2).prepare()


def _text(dm: LMData, split: str) -> str:
    return "".join("".join(dm.vocab.decode(d)) for d in dm.splits[split])


def test_path_plus_test_path_tests_on_the_test_file(tmp_path):
    dm = _data(tmp_path, path="base.txt", test_path="test.txt")
    assert _text(dm, "test") == TEST
    assert "nil" not in _text(dm, "val")  # val carved from the base
    n = len(BASE)
    assert _text(dm, "val") == BASE[round(n * 0.9) :]
    assert dm.split_sources["test"].endswith("test.txt")
    assert dm.split_sources["val"].startswith(str(tmp_path / "base.txt"))


def test_train_path_plus_test_path_carves_validation_from_train(tmp_path):
    dm = _data(tmp_path, train_path="base.txt", test_path="test.txt", val_fraction=0.2)
    n = len(BASE)
    assert _text(dm, "train") == BASE[: round(n * 0.8)]
    assert _text(dm, "val") == BASE[round(n * 0.8) :]
    assert _text(dm, "test") == TEST


def test_every_split_its_own_file(tmp_path):
    dm = _data(tmp_path, train_path="base.txt", val_path="val.txt", test_path="test.txt")
    assert _text(dm, "train") == BASE
    assert _text(dm, "val") == VAL
    assert _text(dm, "test") == TEST


def test_one_file_is_cut_in_order(tmp_path):
    dm = _data(tmp_path, path="base.txt", val_fraction=0.1, test_fraction=0.2)
    n = len(BASE)
    assert _text(dm, "train") == BASE[: round(n * 0.7)]
    assert _text(dm, "val") == BASE[round(n * 0.7) : round(n * 0.8)]
    assert _text(dm, "test") == BASE[round(n * 0.8) :]


def test_path_and_train_path_together_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"data.path .* or data.train_path, not both"):
        _data(tmp_path, path="base.txt", train_path="base.txt")


def test_a_word_model_reports_bits_per_word_not_per_character(tmp_path):
    from _tiny import tiny_config

    from deeprnn.training import fit, run_config_from_dict

    cfg = tiny_config("lm", tmp_path / "data", tmp_path / "run", max_epochs=1)
    cfg["data"].update(level="word", batching="stream", bptt=8)
    m = fit(run_config_from_dict(cfg)).metrics
    assert "test_bpw" in m and "test_bpc" not in m
    assert m["test_bpw"] == pytest.approx(m["test_loss"] / 0.6931471805599453, rel=0.05)
