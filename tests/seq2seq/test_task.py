"""The ``seq2seq`` task in the training framework: training, BLEU/chrF, attention figures,
export -> predict, the CLI, every data source, and clear config errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from deeprnn.export import load_exported
from deeprnn.tasks.registry import get_task
from deeprnn.tasks.seq2seq import Seq2SeqTask, corpus_scores
from deeprnn.tasks.seq2seq_data import detokenize, tokenize
from deeprnn.training import fit, run_config_from_dict
from deeprnn.viz.curves import read_metrics

QUIET = {"progress_bar": False, "tensorboard": False, "log_every_n_steps": 5, "num_threads": 1}


def tiny(out_dir: Path, **data) -> dict:
    return {
        "task": "seq2seq",
        "seed": 0,
        "out_dir": str(out_dir),
        "data": {
            "source": "synthetic",
            "synthetic": "reverse",
            "synthetic_max_len": 5,
            "synthetic_sizes": [600, 60, 40],
            **data,
        },
        "model": {"embedding_size": 16, "hidden_size": 32, "beam_width": 3},
        "optim": {"lr": 0.01},
        "trainer": {"max_epochs": 3, "batch_size": 32, "gradient_clip_norm": 1.0, **QUIET},
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s2s")
    cfg = tiny(tmp / "run")
    return tmp, fit(run_config_from_dict(cfg))


def test_the_task_is_registered_by_name():
    assert get_task("seq2seq").module is Seq2SeqTask


def test_training_lowers_the_loss_and_reports_decoding_scores(trained):
    _, result = trained
    curves = read_metrics(result.run_dir)
    train = [v for _, v in curves["train_loss"]]
    assert train[-1] < 0.8 * train[0]
    assert "val_bleu" in curves and "val_chrf" in curves
    m = result.metrics
    for key in ("test_loss", "test_token_acc", "test_bleu", "test_chrf", "test_exact"):
        assert key in m, key
    assert 0 <= m["test_bleu"] <= 100 and 0 <= m["test_exact"] <= 100
    assert len(m["samples"]) == 5 and {"source", "reference", "translation"} <= set(m["samples"][0])
    saved = json.loads((result.run_dir / "metrics.json").read_text())
    assert saved["test_bleu"] == pytest.approx(m["test_bleu"])


def test_attention_heatmaps_are_written_to_the_run_folder(trained):
    _, result = trained
    figures = sorted(result.run_dir.glob("attention_*.png"))
    assert len(figures) == 4
    assert all(f.stat().st_size > 2000 for f in figures)


def test_export_round_trip_translates_the_same(trained):
    _, result = trained
    model = load_exported(result.export_dir)
    texts = ["1 2 3", "4 4 0 9"]
    assert model.translate(texts) == result.model.eval().translate(texts)
    out = model.predict_raw([{"source": "7 8"}, "5"], beam_width=1)
    assert [o["source"] for o in out] == ["7 8", "5"]
    assert all(isinstance(o["translation"], str) and o["score"] <= 0 for o in out)


def test_translate_returns_attention_rows_that_sum_to_one(trained):
    _, result = trained
    (row,) = result.model.eval().translate(["3 1 4"], beam_width=1, return_attention=True)
    weights = row["attention"]
    assert weights.shape == (len(row["tgt_tokens"]), 3)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[0]))


def test_empty_source_is_a_clear_error(trained):
    _, result = trained
    with pytest.raises(ValueError, match=r"source 1 is empty after tokenisation: '  '"):
        result.model.translate(["1 2", "  "])


def _cli(*args, cwd):
    exe = Path(sys.executable).parent / "deeprnn"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_cli_predict_and_evaluate(trained):
    tmp, result = trained
    lines = tmp / "src.txt"
    lines.write_text("1 2 3\n9 8\n", encoding="utf-8")
    proc = _cli("predict", result.export_dir, "-i", lines, "--beam-width", "2", cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["source"] for r in rows] == ["1 2 3", "9 8"]
    proc = _cli("evaluate", result.run_dir, "--out", tmp / "eval.json", cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "test_bleu" in json.loads((tmp / "eval.json").read_text())


def _write_pairs(folder: Path) -> list[tuple[str, str]]:
    pairs = [(f"a {w} b", f"x {w.upper()} y.") for w in ("cat", "dog", "owl", "elk", "bee")]
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", pairs * 8), ("val", pairs), ("test2016", pairs[:3])):
        (folder / f"{split}.en").write_text("\n".join(a for a, _ in rows) + "\n")
        (folder / f"{split}.de").write_text("\n".join(b for _, b in rows) + "\n")
    return pairs


def test_parallel_files_and_csv_sources(tmp_path):
    pairs = _write_pairs(tmp_path / "par")
    cfg = tiny(tmp_path / "run_par")
    cfg["data"] = {
        "source": "parallel",
        "dir": str(tmp_path / "par"),
        "splits": {"train": "train", "val": "val", "test": "test2016"},
    }
    cfg["trainer"]["max_epochs"] = 1
    cfg["export"] = False
    spec = get_task("seq2seq")
    run = run_config_from_dict(cfg)
    dm = spec.datamodule(run.data, batch_size=4).prepare()
    assert len(dm.splits["train"]) == 40 and dm.references["test"] == [b for _, b in pairs[:3]]
    batch = next(iter(dm.train_dataloader()))
    eos = dm.tgt_vocab.eos_id
    assert all(eos in row.tolist() for row in batch["tgt"])  # every target ends in <eos>
    csv = tmp_path / "pairs.csv"
    csv.write_text("en,de\n" + "".join(f'"{a}","{b}"\n' for a, b in pairs * 6))
    cfg["data"] = {"source": "csv", "path": str(csv), "src_column": "en", "tgt_column": "de"}
    dm = spec.datamodule(run_config_from_dict(cfg).data, batch_size=4).prepare()
    assert sum(len(v) for v in dm.splits.values()) == 30


def test_long_training_pairs_are_dropped_and_counted(tmp_path):
    run = run_config_from_dict(tiny(tmp_path / "run", max_src_len=3))
    dm = get_task("seq2seq").datamodule(run.data).prepare()
    dropped = dm.skipped["longer than max_src_len / max_tgt_len"]
    assert 0 < dropped < 600 and len(dm.splits["train"]) + dropped == 600
    assert all(len(src) <= 3 for src, _, _ in dm.splits["train"])
    assert len(dm.splits["val"]) == 60  # evaluation splits are never filtered
    _write_pairs(tmp_path / "par")
    data = {"source": "parallel", "dir": str(tmp_path / "par"), "max_tgt_len": 3}
    data["splits"] = {"train": "train", "val": "val"}
    run = run_config_from_dict({"task": "seq2seq", "data": data})
    with pytest.raises(
        ValueError, match=r"all 40 training pairs are longer than data\.max_src_len"
    ):
        get_task("seq2seq").datamodule(run.data).prepare()


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("data", {"source": "parallel"}, r"needs data\.dir"),
        ("data", {"source": "parallel", "dir": "/no/such/dir"}, r"data\.dir: folder not found"),
        ("data", {"synthetic_sizes": [10, 0, 5]}, r"synthetic_sizes must be three positive"),
        ("data", {"splits": {"train": "a", "dev": "b"}}, r"data\.splits maps train/val/test"),
        ("model", {"hiden_size": 3}, r"did you mean 'hidden_size'"),
        ("model", {"attention": "luong"}, r"attention must be one of"),
        ("model", {"beam_width": 0}, r"beam_width must be >= 1, got 0"),
        (
            "model",
            {"cell": "lru"},
            r"model\.cell: 'lru' cannot be a decoder cell: its state is complex",
        ),
        ("model", {"teacher_forcing": 1.5}, r"teacher_forcing must be in \[0, 1\], got 1\.5"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, section, value, message):
    cfg = tiny(tmp_path / "run")
    cfg[section] = value
    with pytest.raises(ValueError, match=message):
        run = run_config_from_dict(cfg)
        get_task("seq2seq").datamodule(run.data).prepare()


def test_the_decoder_refuses_a_cell_it_cannot_step():
    from deeprnn.seq2seq import AttentionDecoder

    with pytest.raises(ValueError, match=r"cell 'lru' cannot be a decoder cell: .*'mingru'"):
        AttentionDecoder(10, 8, 8, cell="lru")


def test_share_embeddings_needs_one_vocabulary(tmp_path):
    _write_pairs(tmp_path / "par")
    cfg = tiny(tmp_path / "run")
    cfg["data"] = {"source": "parallel", "dir": str(tmp_path / "par")}
    cfg["data"]["splits"] = {"train": "train", "val": "val"}
    cfg["model"]["share_embeddings"] = True
    with pytest.raises(ValueError, match=r"share_embeddings needs data\.shared_vocab"):
        fit(run_config_from_dict(cfg))


def test_teacher_forcing_schedule_decays():
    cfg = {"embedding_size": 4, "hidden_size": 4, "teacher_forcing_schedule": "linear"}
    model = Seq2SeqTask({**cfg, "teacher_forcing_k": 10.0}, _artifacts())
    assert model.teacher_forcing_now() == 1.0  # step 0: no trainer yet
    assert model.teacher_forcing_now(step=5) == pytest.approx(0.5)
    assert model.teacher_forcing_now(step=50) == 0.0
    constant = Seq2SeqTask(
        {**cfg, "teacher_forcing_schedule": "constant", "teacher_forcing": 0.7}, _artifacts()
    )
    assert constant.teacher_forcing_now(step=10**6) == 0.7


def _artifacts():
    from deeprnn.data import Vocab

    v = Vocab(["a", "b", "c"], go_eos=True).to_dict()
    return {"src_vocab": v, "tgt_vocab": v, "level": "whitespace", "lower": False}


def test_word_tokens_detokenise_back_to_the_sentence():
    text = "A man, in a t-shirt, isn't (really) here."
    tokens = tokenize(text, "word", lower=False)
    assert tokens == [
        "A", "man", ",", "in", "a", "t-shirt", ",", "isn't", "(", "really", ")", "here", ".",
    ]  # fmt: skip
    assert detokenize(tokens, "word") == text
    assert detokenize(tokenize("12:30", "char", False), "char") == "12:30"


def test_corpus_scores_against_sacrebleu_conventions():
    refs = ["Ein Hund läuft.", "Zwei Männer stehen."]
    perfect = corpus_scores(refs, refs)
    assert perfect == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0), "exact": 100.0}
    lower = corpus_scores([r.lower() for r in refs], refs, lowercase=True)
    assert lower["bleu"] == pytest.approx(100.0) and lower["exact"] == 100.0
    assert corpus_scores([r.lower() for r in refs], refs)["bleu"] < 100.0
    assert corpus_scores(["völlig anders", "nichts"], refs)["bleu"] < 10.0
    with pytest.raises(ValueError, match="same length"):
        corpus_scores(["a"], refs)


def test_yaml_example_configs_parse():
    root = Path(__file__).parents[2] / "examples"
    for name in ("translate_multi30k.yaml", "seq2seq_dates.yaml"):
        run = run_config_from_dict(yaml.safe_load((root / name).read_text()))
        assert run.task == "seq2seq"


def test_plot_attention_for_chosen_sentences(trained, tmp_path, capsys):
    from deeprnn.cli import main

    _, result = trained
    out = tmp_path / "plots"
    args = ["plot", str(result.run_dir), "--kind", "attention", "--text", "1 2 3", "4 5"]
    code = main([*args, "--out-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.glob("*.png")) == ["attention_0.png", "attention_1.png"]
    assert main(["plot", str(result.run_dir), "--kind", "attention"]) == 2
    assert "give the sentences to decode with --text" in capsys.readouterr().err
