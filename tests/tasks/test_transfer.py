"""The ULMFiT recipe's pieces (issue 27): a language model's run folder or export starts a
classifier's encoder with its vocabulary, discriminative learning rates per layer group,
gradual unfreezing, the slanted triangular schedule, concat pooling, and the LM data that
leaves the k-fold corpus out."""

import tarfile

import lightning.pytorch as pl
import pytest
import torch
from _tiny import tiny_config

from deeprnn.training import build_datamodule, build_model, fit, run_config_from_dict
from deeprnn.training.transfer import layer_groups, lr_groups


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lm")
    return fit(run_config_from_dict(tiny_config("lm", tmp / "data", tmp / "lm", max_epochs=1)))


def _classifier(tmp_path, lm, name="cls", **finetune):
    cfg = tiny_config("classify", tmp_path / "data", tmp_path / name, max_epochs=3)
    cfg["data"].update(level="char", lower=False, max_length=20)
    cfg["model"] = {"input": {"embedding_dim": 16}, "rnn": {"hidden_size": 32}}
    cfg["finetune"] = {"init_from": str(lm.run_dir), **finetune}
    return cfg


def test_a_run_folder_starts_the_classifier_encoder_with_the_lm_weights_and_vocabulary(
    tmp_path, lm
):
    for source in (lm.run_dir, lm.export_dir):  # run folder or its export: the same model
        cfg = _classifier(tmp_path, lm)
        cfg["finetune"]["init_from"] = str(source)
        run = run_config_from_dict(cfg)
        dm = build_datamodule(run).prepare()
        assert dm.artifacts["vocab"] == lm.model.artifacts["vocab"]  # data.vocab_path unset
        model = build_model(run, dm.artifacts)
        mine, theirs = model.state_dict(), lm.model.state_dict()
        encoder = [k for k in theirs if k.startswith("encoder.")]
        assert encoder and all(k in mine for k in encoder)
        for k in encoder:
            torch.testing.assert_close(mine[k], theirs[k], rtol=0, atol=0, msg=k)


def test_the_classifier_encoder_computes_what_the_lm_computed(tmp_path, lm):
    """Equal weights are not enough: the copied encoder must read the same ids into the same
    hidden states as the language model (same gate order, embedding, padding), on a padded
    batch of reviews of different lengths."""
    run = run_config_from_dict(_classifier(tmp_path, lm))
    model = build_model(run, build_datamodule(run).prepare().artifacts).eval()
    lm_model = lm.model.eval()
    g = torch.Generator().manual_seed(0)
    n_vocab = len(lm.model.artifacts["vocab"])
    x = torch.randint(2, n_vocab, (3, 9), generator=g)
    lengths = torch.tensor([9, 5, 1])
    x[torch.arange(9)[None] >= lengths[:, None]] = 0  # padding id
    with torch.no_grad():
        mine, _, mask = model.encoder(x, lengths)
        theirs, _ = lm_model.hidden(x, lengths=lengths)
        alone = [lm_model.hidden(x[i : i + 1, :n])[0][0] for i, n in enumerate(lengths.tolist())]
    torch.testing.assert_close(mine[mask], theirs[mask], rtol=0, atol=1e-6)
    for i, n in enumerate(lengths.tolist()):  # each review as the LM read a lone sequence
        torch.testing.assert_close(mine[i, :n], alone[i], rtol=1e-5, atol=1e-6)


def test_init_from_errors_are_loud(tmp_path, lm):
    cfg = _classifier(tmp_path, lm)
    cfg["finetune"]["init_from"] = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"finetune.init_from: no such run or export folder"):
        build_datamodule(run_config_from_dict(cfg))
    (tmp_path / "empty").mkdir()
    cfg["finetune"]["init_from"] = str(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"is neither an export folder .* nor a run folder"):
        build_datamodule(run_config_from_dict(cfg))
    # another vocabulary: the embedding rows would land on other words
    other = tmp_path / "vocab.json"
    other.write_text('["[PAD]", "[UNK]", "a", "b"]\n', encoding="utf-8")
    cfg = _classifier(tmp_path, lm)
    cfg["data"]["vocab_path"] = str(other)
    run = run_config_from_dict(cfg)
    with pytest.raises(ValueError, match=r"the model's vocabulary \(4 tokens\) is not the one"):
        build_model(run, build_datamodule(run).prepare().artifacts)
    # nothing matches by name and shape: an error, not a silent fresh start
    cfg = _classifier(tmp_path, lm)
    cfg["model"] = {"input": {"embedding_dim": 8}, "rnn": {"hidden_size": 8}}
    run = run_config_from_dict(cfg)
    with pytest.raises(ValueError, match=r"no weight of .* matches the model by name and shape"):
        build_model(run, build_datamodule(run).prepare().artifacts)


def test_layer_groups_and_discriminative_rates(tmp_path, lm):
    cfg = _classifier(tmp_path, lm)
    cfg["model"]["rnn"] = {"hidden_size": 32, "num_layers": 2}
    cfg["finetune"] = {}
    run = run_config_from_dict(cfg)
    model = build_model(run, build_datamodule(run).prepare().artifacts)
    groups = layer_groups(model)
    names = [g for g, _ in groups]
    assert names == ["encoder.input", "encoder.rnn.blocks.0", "encoder.rnn.blocks.1", "head"]
    every = [n for _, ps in groups for n, _ in ps]
    assert sorted(every) == sorted(n for n, _ in model.named_parameters())  # each once
    rates = [g["lr"] for g in lr_groups(model, 0.01, 2.6)]
    assert rates == pytest.approx([0.01 / 2.6**3, 0.01 / 2.6**2, 0.01 / 2.6, 0.01])
    # the optimizer a run builds has these groups
    run.optim.layer_lr_decay = 2.6
    opt = build_model(run, build_datamodule(run).prepare().artifacts).configure_optimizers()
    opt = opt[0][0] if isinstance(opt, tuple | list) else opt
    assert [g["lr"] for g in opt.param_groups] == pytest.approx(rates)
    with pytest.raises(ValueError, match=r"optim.layer_lr_decay must be >= 1 .* got 0.5"):
        cfg["optim"]["layer_lr_decay"] = 0.5
        run_config_from_dict(cfg)


class _Snapshots(pl.Callback):
    def __init__(self):
        self.states = []

    def on_train_epoch_end(self, trainer, module):
        self.states.append({k: v.detach().clone() for k, v in module.state_dict().items()})


def test_gradual_unfreezing_trains_one_more_group_per_epoch(tmp_path, lm):
    cfg = _classifier(tmp_path, lm, gradual_unfreeze=True)
    cfg["optim"] = {"lr": 1e-2, "layer_lr_decay": 2.6, "scheduler": {"name": "none"}}
    cfg["trainer"]["early_stopping_patience"] = None
    run = run_config_from_dict(cfg)
    start = build_model(run, build_datamodule(run).prepare().artifacts).state_dict()
    snaps = _Snapshots()
    result = fit(run, extra_callbacks=[snaps])
    assert result.metrics["transfer"]["init_from"] == str(lm.export_dir)  # said in metrics.json
    assert "encoder.rnn.blocks" in result.metrics["transfer"]["copied_modules"]
    emb, rnn, head = "encoder.input.embedding.weight", "encoder.rnn.blocks.0.cell.weight_hh", None
    head = next(k for k in start if k.startswith("head.") and k.endswith("weight"))
    moved = [
        [not torch.equal(s[k], start[k]) for k in (emb, rnn, head)] for s in snaps.states
    ]  # after epoch 0, 1, 2: which of (embedding, rnn, head) have trained
    assert moved == [[False, False, True], [False, True, True], [True, True, True]]
    with pytest.raises(ValueError, match=r"finetune.gradual_unfreeze .* set one"):
        cfg["finetune"]["unfreeze_at_epoch"] = 1
        run_config_from_dict(cfg)


def test_slanted_triangular_is_ulmfits_schedule():
    from deeprnn.training import OptimConfig, SchedulerConfig, build_optimizers

    model = torch.nn.Linear(2, 1)
    cfg = OptimConfig(lr=0.01, scheduler=SchedulerConfig(name="slanted_triangular"))
    total = 200
    (opt,), (sched,) = build_optimizers(
        model.parameters(), cfg, max_epochs=1, total_steps=total, monitor="val_loss"
    )
    rates = []
    for _ in range(total):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched["scheduler"].step()
    # Howard & Ruder 2018, eq. 3, cut_frac 0.1, ratio 32, over steps 0 .. total - 1 (torch
    # counts the peak at step cut_frac * total - 1)
    cut, end = total * 0.1 - 1, total - 1
    for t, got in enumerate(rates):
        p = t / cut if t < cut else 1 - (t - cut) / (end - cut)
        want = 0.01 * (1 + p * 31) / 32
        assert got == pytest.approx(want, rel=1e-6), t
    assert max(rates) == pytest.approx(0.01)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)  # momentum is not cycled


def test_concat_pooling_is_last_max_mean():
    from deeprnn.models import RNNConfig
    from deeprnn.models.encoder import Pool, build_rnn

    rnn = build_rnn(3, RNNConfig(hidden_size=4))
    pool = Pool("concat", rnn)
    assert pool.output_size == 12
    out = torch.randn(2, 5, 4)
    lengths = torch.tensor([5, 2])
    mask = torch.arange(5)[None] < lengths[:, None]
    got = pool(out, None, mask, lengths)
    for i, n in enumerate(lengths.tolist()):
        real = out[i, :n]
        want = torch.cat([real[-1], real.max(0).values, real.mean(0)])
        torch.testing.assert_close(got[i], want)


def _tiny_imdb(path, per_class=5):
    """An aclImdb tarball with ``per_class`` train reviews per class (ids 0..n, so that their
    file names sort as strings differently from numbers) and one test review per class."""
    import io

    with tarfile.open(path, "w:gz") as tf:
        for split, n in (("train", per_class), ("test", 1)):
            for label in ("neg", "pos"):
                for i in range(n):
                    i = i * 7 if split == "train" else i
                    data = f"{split} {label} review {i}".encode()
                    info = tarfile.TarInfo(
                        f"aclImdb/{split}/{label}/{i}_{3 if label == 'neg' else 8}.txt"
                    )
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
    return path


def test_imdb_text_leaves_out_exactly_the_kfold_reviews(tmp_path):
    from deeprnn.data import read_text_folder
    from deeprnn.tasks.lm_data import imdb_text

    tar = _tiny_imdb(tmp_path / "aclImdb_v1.tar.gz")
    kfold = read_text_folder(tar, split="train", class_names=["neg", "pos"], max_per_class=2)
    splits = imdb_text(str(tar), val_fraction=0.2, exclude_first_per_class=2)
    lm_docs = set(splits["train"]) | set(splits.get("val", []))
    assert len(lm_docs) == 10 - 4
    assert not lm_docs & set(kfold.texts)  # none of the k-fold's reviews ...
    assert not any("test" in d for d in lm_docs)  # ... nor a test review
    assert "train neg review 0" in kfold.texts and "train neg review 14" in kfold.texts
    assert sum(map(len, imdb_text(str(tar), val_fraction=0.2).values())) == 10
    with pytest.raises(ValueError, match=r"exclude_first_per_class must be >= 0, got -1"):
        imdb_text(str(tar), exclude_first_per_class=-1)


def test_a_stream_without_document_reset_marks_only_its_start(tmp_path):
    cfg = tiny_config("lm", tmp_path / "data", tmp_path / "lm")
    cfg["data"].update(batching="stream", document_reset=False, bptt=8)
    run = run_config_from_dict(cfg)
    dm = build_datamodule(run).prepare()
    batches = list(dm.train_dataloader())
    starts = torch.cat([b["starts"] for b in batches], 1)
    assert starts.sum() == 1 and starts[0, 0]
    cfg["data"]["document_reset"] = True
    dm = build_datamodule(run_config_from_dict(cfg)).prepare()
    assert sum(int(b["starts"].sum()) for b in dm.train_dataloader()) > 1
