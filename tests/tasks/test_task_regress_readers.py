"""The regression task (long-term dependency benchmarks) and the real-data ``data.reader``
functions of ``deeprnn.tasks.readers``."""

from collections import Counter

import pytest

from deeprnn.tasks import readers
from deeprnn.training import fit, run_config_from_dict

QUIET = {"progress_bar": False, "tensorboard": False, "num_threads": 1, "log_every_n_steps": 5}


def test_regression_learns_first_times_last_and_reports_the_mean_baseline(tmp_path):
    cfg = {
        "task": "regress",
        "out_dir": str(tmp_path / "run"),
        "data": {"synthetic": "first_last", "sequence_length": 5, "sizes": [1500, 200, 200]},
        "model": {"rnn": {"hidden_size": 32}},
        "optim": {"lr": 0.01},
        "trainer": {"max_epochs": 8, "batch_size": 32, **QUIET},
    }
    result = fit(run_config_from_dict(cfg))
    m = result.metrics
    assert m["test_mse_vs_mean"] < 0.3, m  # far better than predicting the mean
    assert m["test_mse_vs_mean"] == pytest.approx(m["test_mse"] / m["test_mse_mean_baseline"])
    out = result.model.predict_raw([{"x": [[0.5], [0.1], [0.0], [0.2], [0.8]]}])
    assert out[0]["value"][0] == pytest.approx(0.4, abs=0.15)
    with pytest.raises(ValueError, match=r"record 0 has no 'x' field; it has \['y'\]"):
        result.model.predict_raw([{"y": 1}])
    with pytest.raises(ValueError, match=r"record 0: x must have shape \(T, 1\), got \(3, 2\)"):
        result.model.predict_raw([[[1, 2], [3, 4], [5, 6]]])


def test_regression_config_errors():
    with pytest.raises(ValueError, match=r"sequence_length must be >= 2, got 1"):
        run_config_from_dict({"task": "regress", "data": {"sequence_length": 1}})
    with pytest.raises(ValueError, match=r"synthetic must be one of \['adding', 'first_last'\]"):
        run_config_from_dict({"task": "regress", "data": {"synthetic": "add"}})


def write_names(folder, per_language=40):
    folder.mkdir()
    for lang, stem in (("Irish", "O'Neil"), ("Italian", "Rossi"), ("Korean", "Park")):
        names = [f"{stem}{i}" for i in range(per_language)]
        (folder / f"{lang}.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return folder


def test_names_splits_are_stratified_and_disjoint(tmp_path):
    splits = readers.names(str(write_names(tmp_path / "names")), 0.1, 0.2, seed=3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 84, "val": 12, "test": 24}
    for split, n in (("test", 8), ("val", 4)):
        assert Counter(lang for _, lang in splits[split]) == {
            "Irish": n,
            "Italian": n,
            "Korean": n,
        }
    seen = [name for v in splits.values() for name, _ in v]
    assert len(seen) == len(set(seen)) == 120
    again = readers.names(str(tmp_path / "names"), 0.1, 0.2, seed=3)
    assert again == splits  # the seed fixes the split
    text = readers.names_text(str(tmp_path / "names"), 0.1, 0.2, seed=3)
    assert text["test"] == [n for n, _ in splits["test"]]
    assert len(readers.names(str(tmp_path / "names"), limit=5)["train"]) == 5
    with pytest.raises(ValueError, match="limit must be >= 1 or null, got 0"):
        readers.names(str(tmp_path / "names"), limit=0)


def test_real_readers_on_the_shared_data(shared_data):
    vowels = readers.uea(str(shared_data / "uea" / "JapaneseVowels"))
    assert len(vowels["test"]) == 370 and len(vowels["train"]) + len(vowels["val"]) == 270
    x, label = vowels["train"][0]
    assert x.shape[1] == 12 and 7 <= x.shape[0] <= 29 and label in {str(i) for i in range(1, 10)}
    mnist = readers.mnist_rows(str(shared_data / "mnist"), train_size=8000, limit=50)
    assert len(mnist["test"]) == 50 and mnist["train"][0][0].shape == (28, 28)
    full = readers.mnist_rows(str(shared_data / "mnist"))
    assert len(full["train"]) == 7200 and len(full["val"]) == 800 and len(full["test"]) == 2000
    assert float(full["train"][0][0].max()) <= 1.0
    names = readers.names(str(shared_data / "names"))
    assert len({lang for _, lang in names["test"]}) == 18
    assert sum(len(v) for v in names.values()) == 20050


def test_mnist_reader_names_a_folder_without_the_files(tmp_path):
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte"):
        readers.mnist_rows(str(tmp_path))
